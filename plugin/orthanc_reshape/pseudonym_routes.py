"""GET {prefix}/pseudonyms/{project}/(patients|uids).(csv|json): the pseudonym -> original mapping.

{prefix} is the plugin's mount point, or "/reshape" when the plugin takes Orthanc's own URIs. The routes
answer 403 unless "Reshape.Pseudonymization.ExportMapping" is true (it is re-identification data), and
404 for a project with no key.
"""
from __future__ import annotations

from typing import Any, Dict, List

from . import store
from .answers import guarded
from .config import ReshapeConfig
from .errors import ReshapeError, unknown_resource
from .operations import pseudonym_mapping

PATTERN = r"/pseudonyms/([^/]+)/(patients|uids)\.(csv|json)"


def prefix(config: ReshapeConfig) -> str:
    return config.mount or "/reshape"


def _callback(config: ReshapeConfig):
    def work(output: Any, uri: str, request: Dict[str, Any]) -> None:
        if request.get("method") != "GET":
            store.answer_status(output, 405)
            return
        project, table, fmt = tuple(request.get("groups") or ())
        settings = config.pseudonymization
        if not settings.export_mapping:
            raise ReshapeError("ForbiddenAccess", "Exporting the pseudonym mapping is disabled: it is "
                               "re-identification data. Set \"Reshape\": {\"Pseudonymization\": {\"ExportMapping\": "
                               "true}} in Orthanc's configuration to enable it (and protect this route).")
        if settings.key(project) is None:
            raise unknown_resource(f"No pseudonymization project named {project!r} is configured "
                                   "(Reshape.Pseudonymization.Projects)")
        body, mime = pseudonym_mapping.export(project, table, fmt)
        store.answer_buffer(output, body, mime)
    return guarded(work)


def register(config: ReshapeConfig) -> List[str]:
    """Register the export routes; returns their descriptions for the start-up log."""
    uri = prefix(config) + PATTERN
    store.register_route(uri, _callback(config))
    return [f"GET {prefix(config)}/pseudonyms/{{project}}/(patients|uids).(csv|json)"]
