"""The HTTP glue shared by every route of the plugin: JSON answers, and errors as Orthanc's JSON envelope.

`guarded` wraps a route's work: a ReshapeError becomes its 4xx/5xx with the envelope (and the request
member at fault), any other exception a logged 500 with a JSON body, never an empty answer.
"""
from __future__ import annotations

import json
import traceback
from typing import Any, Callable, Dict

from . import store
from .errors import ReshapeError

Work = Callable[[Any, str, Dict[str, Any]], None]  # (output, uri, request)


def answer_json(output: Any, value: Any) -> None:
    store.answer_buffer(output, json.dumps(value, indent=3).encode("utf-8"), "application/json")


def answer_error(output: Any, error: ReshapeError, method: str, uri: str) -> None:
    store.answer_error(output, error.http_status, json.dumps(error.to_json(method, uri), indent=3))


def guarded(work: Work) -> Callable[..., None]:
    """An Orthanc REST callback running `work(output, uri, request)` with every error answered as JSON."""
    def callback(output: Any, uri: str, **request: Any) -> None:
        method = request.get("method", "")
        try:
            work(output, uri, request)
        except ReshapeError as error:
            answer_error(output, error, method, uri)
        except Exception as exc:  # never an empty 500: log the traceback, answer JSON
            store.log_error(f"Orthanc Reshape: {uri}: {traceback.format_exc()}")
            answer_error(output, ReshapeError("InternalError", f"{type(exc).__name__}: {exc}"), method, uri)
    return callback
