"""The file Orthanc loads (configuration "PythonScript").

It puts plugin/ and the project's virtual environment on sys.path, then registers the
plugin's routes. Nothing else lives here.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _site_packages() -> str:
    """The site-packages of <project>/.venv for the Python running this script."""
    project = os.path.dirname(_HERE)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return os.path.join(os.environ.get("RESHAPE_VENV", os.path.join(project, ".venv")),
                        "lib", version, "site-packages")


for _path in (_site_packages(), _HERE):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.insert(0, _path)

import orthanc_reshape  # noqa: E402

orthanc_reshape.register()
