"""GET {prefix}/pseudonyms/{project}/(patients|uids).(csv|json): the pseudonym -> original mapping.

{prefix} is the plugin's mount point, or "/reshape" when the plugin takes Orthanc's own URIs. The routes
answer 403 unless "Reshape.Pseudonymization.ExportMapping" is true (it is re-identification data), and
404 for a project with no key.
"""
from __future__ import annotations

import json
import traceback
from typing import Any, List

from . import store
from .config import ReshapeConfig
from .operations import pseudonym_mapping

PATTERN = r"/pseudonyms/([^/]+)/(patients|uids)\.(csv|json)"


def prefix(config: ReshapeConfig) -> str:
    return config.mount or "/reshape"


def _error(output: Any, status: int, reason: str, details: str, uri: str) -> None:
    body = {"Method": "GET", "Uri": uri, "HttpError": reason, "HttpStatus": status, "Message": reason,
            "Details": details}
    store.answer_error(output, status, json.dumps(body, indent=3))


def _callback(config: ReshapeConfig):
    def callback(output: Any, uri: str, **request: Any) -> None:
        try:
            if request.get("method") != "GET":
                store.answer_status(output, 405)
                return
            project, table, fmt = tuple(request.get("groups") or ())
            settings = config.pseudonymization
            if not settings.export_mapping:
                _error(output, 403, "Forbidden", "Exporting the pseudonym mapping is disabled: it is "
                       "re-identification data. Set \"Reshape\": {\"Pseudonymization\": {\"ExportMapping\": true}} "
                       "in Orthanc's configuration to enable it (and protect this route).", uri)
                return
            if settings.key(project) is None:
                _error(output, 404, "Not Found", f"No pseudonymization project named {project!r} is configured "
                       "(Reshape.Pseudonymization.Projects)", uri)
                return
            body, mime = pseudonym_mapping.export(project, table, fmt)
            store.answer_buffer(output, body, mime)
        except Exception as exc:  # never an empty 500
            store.log_error(f"Orthanc Reshape: {uri}: {traceback.format_exc()}")
            _error(output, 500, "Internal Server Error", f"{type(exc).__name__}: {exc}", uri)
    return callback


def register(config: ReshapeConfig) -> List[str]:
    """Register the export routes; returns their descriptions for the start-up log."""
    uri = prefix(config) + PATTERN
    store.register_route(uri, _callback(config))
    return [f"GET {prefix(config)}/pseudonyms/{{project}}/(patients|uids).(csv|json)"]
