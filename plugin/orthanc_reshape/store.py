"""The ONLY module that imports `orthanc`: read instances, store, delete, transcode, global properties."""
from __future__ import annotations

import http.client
import json
import threading
from functools import lru_cache
from typing import Any, Dict

import orthanc

from .errors import ReshapeError, http_status_of_code
from .loopback import LoopbackClient

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


@lru_cache(maxsize=1)
def orthanc_version() -> str:
    """The running Orthanc's version (asked once)."""
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
        return orthanc.TranscodeDicomInstance(dicom, transfer_syntax).SerializeDicomInstance()
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
    data = body.encode("utf-8")
    try:
        output.SendHttpStatus(status, body, len(data))  # orthanc-python 4.x: (status, str body, UTF-8 size)
    except TypeError:  # bindings that take the body as a buffer with its own size
        output.SendHttpStatus(status, data)


def register_route(uri_regex: str, callback) -> None:
    orthanc.RegisterRestCallback(uri_regex, callback)


_started_callbacks: list = []
_stopped_callbacks: list = []
_change_callback_registered = False


def on_started(callback) -> None:
    """Call `callback()` once Orthanc has started (the database is available then)."""
    _started_callbacks.append(callback)
    _register_change_callback()


def on_stopped(callback) -> None:
    """Call `callback()` when Orthanc begins to stop."""
    _stopped_callbacks.append(callback)
    _register_change_callback()


def _register_change_callback() -> None:
    """orthanc-python keeps one change callback: this module registers it once and dispatches."""
    global _change_callback_registered
    if _change_callback_registered:
        return
    _change_callback_registered = True

    def on_change(change_type, level, resource) -> None:
        if change_type == orthanc.ChangeType.ORTHANC_STARTED:
            callbacks = _started_callbacks
        elif change_type == orthanc.ChangeType.ORTHANC_STOPPED:
            callbacks = _stopped_callbacks
        else:
            return
        for registered in list(callbacks):
            try:
                registered()
            except Exception as exc:  # one failing task must not stop the others
                log_error(f"Orthanc Reshape: start-up/stop task failed: {type(exc).__name__}: {exc}")
    orthanc.RegisterOnChangeCallback(on_change)


# --- global properties (job records) and Orthanc's own jobs routes ----------------------------

def get_global_property(property_id: int, default: str = "") -> str:
    """A global property of the plugin (ids >= 1024), as stored in Orthanc's database."""
    return orthanc.GetGlobalProperty(property_id, default) or default


def set_global_property(property_id: int, value: str) -> None:
    orthanc.SetGlobalProperty(property_id, value)


class BuiltinError(Exception):
    """An error answered by one of Orthanc's built-in routes, with the HTTP status it answers with."""

    def __init__(self, status: int, code: int | None, description: str):
        super().__init__(description)
        self.status = status
        self.code = code



def call_builtin(method: str, uri: str, body: bytes = b"") -> bytes:
    """Call Orthanc's built-in REST API (never a plugin route); an error raises BuiltinError."""
    try:
        if method == "GET":
            return orthanc.RestApiGet(uri)
        if method == "POST":
            return orthanc.RestApiPost(uri, body)
        if method == "PUT":
            return orthanc.RestApiPut(uri, body)
        if method == "DELETE":
            orthanc.RestApiDelete(uri)
            return b""
    except orthanc.OrthancException as exc:
        code, description = (exc.args + (None, None))[:2]
        raise BuiltinError(http_status_of_code(code), code, str(description)) from None
    raise BuiltinError(405, None, f"Method {method} not allowed")


def answer_status(output: Any, status: int, allowed: str = "GET") -> None:
    """An empty answer with this HTTP status (what Orthanc's jobs routes answer on errors); `allowed` lists the
    methods of a 405."""
    if status == 405:
        output.SendMethodNotAllowed(allowed)
    else:
        output.SendHttpStatusCode(status)


def instance_exists(instance_id: str) -> bool:
    try:
        orthanc.RestApiGet(f"/instances/{instance_id}")
        return True
    except orthanc.OrthancException:
        return False


# --- resources -------------------------------------------------------------------------------

LEVEL_URIS = {"Patient": "patients", "Study": "studies", "Series": "series", "Instance": "instances"}

# Metadata the plugin writes (user-defined range; Orthanc's REST API refuses writing the system
# metadata ModifiedFrom/AnonymizedFrom, so the plugin uses these ids, named in orthanc.json's UserMetadata).
METADATA_IDS = {"ModifiedFrom": 4301, "AnonymizedFrom": 4302,
                "Pseudonyms": 4303}  # pseudonym -> original mapping (operations/pseudonym_mapping.py)


def get_json(uri: str) -> Any:
    """GET on Orthanc's REST API (built-in routes), as JSON."""
    return json.loads(orthanc.RestApiGet(uri))


def resource(level: str, resource_id: str) -> Dict[str, Any] | None:
    """The JSON of a resource at a level, or None when it is not a resource of that level."""
    try:
        return get_json(f"/{LEVEL_URIS[level]}/{resource_id}")
    except orthanc.OrthancException:
        return None


def main_tag(level: str, resource_id: str, keyword: str) -> str | None:
    """A main DICOM tag Orthanc's index keeps for a resource (e.g. the StudyInstanceUID of a study)."""
    found = resource(level, resource_id)
    return None if found is None else found.get("MainDicomTags", {}).get(keyword)


def find_resource(resource_id: str, preferred: str = "Instance") -> tuple:
    """(level, JSON) of an Orthanc ID of any level, trying `preferred` first; 404 when unknown."""
    for level in [preferred] + [lvl for lvl in LEVEL_URIS if lvl != preferred]:
        found = resource(level, resource_id)
        if found is not None:
            return level, found
    raise ReshapeError("UnknownResource", f"Unknown resource: {resource_id}")


def store_instance(dicom: bytes) -> Dict[str, Any]:
    """Store a DICOM file; Orthanc's answer (ID, Status, ParentSeries/Study/Patient)."""
    try:
        return json.loads(orthanc.RestApiPost("/instances", dicom))
    except orthanc.OrthancException as exc:
        raise ReshapeError("CannotStoreInstance", f"Orthanc refused to store the new instance: {exc.args[-1]}") from None


def delete(level: str, resource_id: str) -> None:
    """Delete a resource; an already-gone resource is not an error."""
    try:
        orthanc.RestApiDelete(f"/{LEVEL_URIS[level]}/{resource_id}")
    except orthanc.OrthancException as exc:
        if exc.args[0] != 17:
            raise


def set_metadata(level: str, resource_id: str, name: str, value: str) -> None:
    orthanc.RestApiPut(f"/{LEVEL_URIS[level]}/{resource_id}/metadata/{METADATA_IDS[name]}", value)


def get_metadata(level: str, resource_id: str, name: str) -> str | None:
    try:
        return orthanc.RestApiGet(f"/{LEVEL_URIS[level]}/{resource_id}/metadata/{METADATA_IDS[name]}").decode()
    except orthanc.OrthancException:
        return None


def reconstruct(level: str, resource_id: str) -> None:
    """Have Orthanc re-read a resource, which refreshes the main DICOM tags stored for its parents."""
    orthanc.RestApiPost(f"/{LEVEL_URIS[level]}/{resource_id}/reconstruct", b"{}")


def has_labels() -> bool:
    """Labels exist from Orthanc 1.12.0 on."""
    version = orthanc_version_tuple()
    return version >= (1, 12, 0)


def orthanc_version_tuple() -> tuple:
    text = orthanc_version()
    if text == "mainline":
        return (9999,)
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def labels(level: str, resource_id: str) -> list:
    return get_json(f"/{LEVEL_URIS[level]}/{resource_id}/labels")


def add_label(level: str, resource_id: str, label: str) -> None:
    orthanc.RestApiPut(f"/{LEVEL_URIS[level]}/{resource_id}/labels/{label}", b"")


def lookup_patient(patient_id: str) -> str | None:
    """The Orthanc ID of the patient with this DICOM PatientID, or None."""
    try:
        found = orthanc.LookupPatient(patient_id)
    except orthanc.OrthancException:
        return None
    return found or None


def overwrite_instances() -> bool:
    return bool(configuration().get("OverwriteInstances", False))


# --- loopback HTTP transport (see loopback.py) ---------------------------------------------------

_loopback_lock = threading.Lock()
_loopback: Dict[str, Any] = {"checked": False, "client": None}


def loopback_client() -> "LoopbackClient | None":
    """A client to this Orthanc's own HTTP port, or None when it does not answer (checked once)."""
    with _loopback_lock:
        if not _loopback["checked"]:
            _loopback["checked"] = True
            config = configuration()
            try:
                token = orthanc.GenerateRestApiAuthorizationToken()
            except (AttributeError, orthanc.OrthancException):
                token = None
            client = LoopbackClient(int(config.get("HttpPort", 8042)), token, bool(config.get("SslEnabled", False)))
            try:
                status, _ = client.request("GET", "/system")
            except OSError as exc:
                status = f"unreachable ({exc})"
            if status == 200:
                _loopback["client"] = client
            else:
                log_info(f"Orthanc Reshape: Orthanc's HTTP port answers {status} on loopback: "
                         "instances are read and stored through the plugin SDK")
        return _loopback["client"]


def fetch_instance(instance_id: str, client: "LoopbackClient | None") -> bytes:
    """The DICOM file of an instance, through `client` when given, else the SDK."""
    if client is None:
        return instance_dicom(instance_id)
    status, body = client.request("GET", f"/instances/{instance_id}/file")
    if status != 200:
        raise ReshapeError("UnknownResource" if status == 404 else "InternalError",
                           f"Cannot read instance {instance_id}: HTTP {status}")
    return body


# What a loopback request raises when the connection breaks: for a POST, Orthanc may have carried it out.
ANSWER_LOST = (OSError, http.client.HTTPException)


def save_instance(dicom: bytes, client: "LoopbackClient | None") -> Dict[str, Any]:
    """Store a DICOM file through `client` when given, else the SDK; Orthanc's answer (ANSWER_LOST raised when
    the connection breaks)."""
    if client is None:
        return store_instance(dicom)
    status, body = client.request("POST", "/instances", dicom)
    if status != 200:
        raise ReshapeError("CannotStoreInstance", f"Orthanc refused to store the new instance: HTTP {status} "
                           f"{body[:300].decode('utf-8', 'replace')}")
    return json.loads(body)
