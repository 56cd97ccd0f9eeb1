"""One exception family for everything the plugin answers as an HTTP error.

Each error carries the HTTP status, Orthanc's error code and name (so the JSON body looks like
Orthanc's own error envelope) and, for bad input, the request field at fault.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Orthanc error codes (OrthancFramework/Sources/Enumerations.h) used by this plugin:
# name -> (code, description, HTTP status)
ORTHANC_ERRORS = {
    "InternalError": (-1, "Internal error", 500),
    "NotImplemented": (2, "Not implemented yet", 500),
    "ParameterOutOfRange": (3, "Parameter out of range", 400),
    "BadParameterType": (5, "Bad type for a parameter", 400),
    "BadSequenceOfCalls": (6, "Bad sequence of calls", 400),  # e.g. resuming a job that is not paused
    "InexistentItem": (7, "Accessing an inexistent item", 404),
    "BadRequest": (8, "Bad request", 400),
    "BadFileFormat": (15, "Bad file format", 400),
    "UnknownResource": (17, "Unknown resource", 404),
    "UnknownDicomTag": (27, "Unknown DICOM tag", 400),  # Orthanc answers 500 here; we answer 400
    "CannotStoreInstance": (2018, "Cannot store an instance", 500),
    # Errors of the plugin's own routes that have no Orthanc code (the envelope then has no OrthancStatus):
    "ForbiddenAccess": (None, "Forbidden access", 403),
}

# Orthanc error code -> HTTP status (OrthancFramework Enumerations.cpp, ConvertErrorCodeToHttpStatus), for
# the errors of Orthanc's built-in routes that the plugin passes through.
_HTTP_STATUS_OF_CODE = {3: 400, 5: 400, 6: 400, 7: 404, 8: 400, 12: 400, 13: 404, 15: 400, 17: 404,
                        21: 404, 29: 401, 33: 400, 34: 406, 41: 416, 43: 409}


def http_status_of_code(code: Optional[int]) -> int:
    """The HTTP status Orthanc answers for one of its error codes (500 for the others)."""
    return _HTTP_STATUS_OF_CODE.get(code, 500)


HTTP_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}


@dataclass
class ReshapeError(Exception):
    """An error answered to the client: `kind` is an Orthanc error name of ORTHANC_ERRORS."""

    kind: str
    details: str
    field: Optional[str] = None

    def __post_init__(self) -> None:
        super().__init__(self.details)

    @property
    def http_status(self) -> int:
        return ORTHANC_ERRORS[self.kind][2]

    def to_json(self, method: str = "POST", uri: str = "") -> dict:
        """Orthanc's error envelope, plus `Field` naming the request member at fault."""
        code, description, status = ORTHANC_ERRORS[self.kind]
        body = {
            "Method": method,
            "Uri": uri,
            "HttpError": HTTP_REASONS.get(status, "Error"),
            "HttpStatus": status,
            "OrthancError": description,
            "OrthancStatus": code,
            "Message": description,
            "Details": self.details,
        }
        if code is None:
            del body["OrthancError"], body["OrthancStatus"]
        if self.field is not None:
            body["Field"] = self.field
        return body


def bad_request(details: str, field: Optional[str] = None) -> ReshapeError:
    return ReshapeError("BadRequest", details, field)


def bad_format(details: str, field: Optional[str] = None) -> ReshapeError:
    return ReshapeError("BadFileFormat", details, field)


def out_of_range(details: str, field: Optional[str] = None) -> ReshapeError:
    return ReshapeError("ParameterOutOfRange", details, field)


def bad_type(details: str, field: Optional[str] = None) -> ReshapeError:
    return ReshapeError("BadParameterType", details, field)


def unknown_tag(name: str, field: Optional[str] = None) -> ReshapeError:
    return ReshapeError("UnknownDicomTag", f"Unknown DICOM tag: {name!r}", field)


def unknown_resource(details: str, field: Optional[str] = None) -> ReshapeError:
    return ReshapeError("UnknownResource", details, field)
