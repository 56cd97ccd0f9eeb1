"""The ONLY module that imports `orthanc`: read instances, store, delete, transcode, global properties."""
from __future__ import annotations

import json
import threading
from typing import Any, Dict

import orthanc

from .errors import ReshapeError

# Global property of the plugin (plugins must use ids >= 1024): the Anonymized<N> counter.
ANONYMIZATION_COUNTER_PROPERTY = 5471
_counter_lock = threading.Lock()

# Orthanc error codes the plugin translates to HTTP errors of its own family.
_ORTHANC_ERROR_KINDS = {17: "UnknownResource", 7: "InexistentItem", 8: "BadRequest", 15: "BadFileFormat",
                        3: "ParameterOutOfRange", 5: "BadParameterType"}


def translate(exc: Exception, what: str) -> ReshapeError:
    """An orthanc.OrthancException as a ReshapeError (unknown resources stay 404)."""
    code, description = (exc.args + (None, None))[:2] if isinstance(exc, orthanc.OrthancException) else (None, str(exc))
    kind = _ORTHANC_ERROR_KINDS.get(code, "InternalError")
    return ReshapeError(kind, f"{what}: {description}")


def configuration() -> Dict[str, Any]:
    """Orthanc's whole configuration, as a dict."""
    return json.loads(orthanc.GetConfiguration())


def orthanc_version() -> str:
    return json.loads(orthanc.RestApiGet("/system"))["Version"]


def python_plugin_version() -> str:
    return json.loads(orthanc.RestApiGet("/plugins/python")).get("Version", "?")


def instance_dicom(instance_id: str) -> bytes:
    """The stored DICOM file of an instance (404 if unknown)."""
    try:
        return orthanc.GetDicomForInstance(instance_id)
    except orthanc.OrthancException as exc:
        raise translate(exc, f"Unknown instance {instance_id}") from None


def transcode(dicom: bytes, transfer_syntax: str) -> bytes:
    """Let Orthanc transcode a DICOM file (its codecs, its rules for a new SOPInstanceUID when lossy)."""
    try:
        instance = orthanc.CreateDicomInstance(dicom)
        return orthanc.TranscodeDicomInstance(instance, transfer_syntax).SerializeDicomInstance()
    except orthanc.OrthancException as exc:
        raise ReshapeError("InternalError", f"Cannot transcode to {transfer_syntax}: {exc.args[-1]}",
                           "Transcode") from None


def next_anonymization_index() -> int:
    """Increment and return the database-wide counter behind PatientName "Anonymized<N>"."""
    with _counter_lock:
        current = int(orthanc.GetGlobalProperty(ANONYMIZATION_COUNTER_PROPERTY, "0") or "0")
        orthanc.SetGlobalProperty(ANONYMIZATION_COUNTER_PROPERTY, str(current + 1))
        return current + 1


def log_info(message: str) -> None:
    orthanc.LogWarning(message)


def log_error(message: str) -> None:
    orthanc.LogError(message)


def answer_buffer(output: Any, body: bytes, mime: str) -> None:
    output.AnswerBuffer(body, mime)


def answer_error(output: Any, status: int, body: str) -> None:
    output.SetHttpHeader("Content-Type", "application/json")
    output.SendHttpStatus(status, body, len(body.encode("utf-8")))


def register_route(uri_regex: str, callback) -> None:
    orthanc.RegisterRestCallback(uri_regex, callback)


def on_started(callback) -> None:
    """Call `callback()` once Orthanc has started (the database is available then)."""
    def on_change(change_type, level, resource) -> None:
        if change_type == orthanc.ChangeType.ORTHANC_STARTED:
            callback()
    orthanc.RegisterOnChangeCallback(on_change)


