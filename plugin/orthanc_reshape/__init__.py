"""Orthanc Reshape: modification, anonymization, split and merge of DICOM resources, as an Orthanc plugin."""

__version__ = "0.1.0"


def register() -> None:
    """Register the plugin's REST routes into the running Orthanc (called by plugin/reshape.py)."""
    from . import routes

    routes.register()
