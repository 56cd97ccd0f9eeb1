"""The /jobs routes: the plugin's jobs answered in Orthanc's shape, every other job passed to Orthanc's
built-in routes unchanged (their answers and their HTTP errors).

Only /jobs, /jobs/{id} and /jobs/{id}/(cancel|pause|resume|resubmit) are registered: any other URI below
/jobs/{id} (e.g. GET /jobs/{id}/archive) never reaches the plugin.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict

from . import store
from .answers import answer_json, guarded
from .config import ReshapeConfig
from .operations import jobs

ACTIONS = ("cancel", "pause", "resume", "resubmit")


def _forward(output: Any, method: str, uri: str, body: bytes = b"") -> None:
    """The same request to Orthanc's built-in route; its answer (or its HTTP status) back to the client."""
    try:
        answer = store.call_builtin(method, uri, body)
    except store.BuiltinError as error:
        # The SDK reports every failed POST as "unknown resource"; Orthanc's POST /jobs/{id}/{action}
        # answers 400 when the job is unknown or in the wrong state.
        store.answer_status(output, 400 if method == "POST" and error.code == 17 else error.status)
        return
    store.answer_buffer(output, answer if answer else b"{}", "application/json")


def _guarded(handler: Callable[..., None]) -> Callable[..., None]:
    return guarded(lambda output, uri, request: handler(output, request.get("method", ""),
                                                        tuple(request.get("groups") or ()), request))


def _list(output: Any, method: str, groups: tuple, request: Dict[str, Any]) -> None:
    if method != "GET":
        store.answer_status(output, 405)
        return
    arguments = request.get("get") or {}
    expand = "expand" in arguments and str(arguments.get("expand", "")).lower() != "false"
    builtin = json.loads(store.call_builtin("GET", "/jobs?expand" if expand else "/jobs"))
    answer_json(output, builtin + jobs.engine().list(expand))


def _one(output: Any, method: str, groups: tuple, request: Dict[str, Any]) -> None:
    job_id = groups[0]
    engine = jobs.engine()
    if not engine.owns(job_id):
        _forward(output, method, f"/jobs/{job_id}", request.get("body") or b"")
        return
    if method != "GET":
        store.answer_status(output, 405)
        return
    answer_json(output, engine.get(job_id))


def _action(output: Any, method: str, groups: tuple, request: Dict[str, Any]) -> None:
    job_id, action = groups
    engine = jobs.engine()
    if not engine.owns(job_id):
        _forward(output, method, f"/jobs/{job_id}/{action}", request.get("body") or b"")
        return
    if method != "POST":
        store.answer_status(output, 405, "POST")
        return
    getattr(engine, action)(job_id)
    answer_json(output, {})


def register(config: ReshapeConfig) -> list:
    """Create the job engine, register the /jobs routes, recover interrupted jobs once Orthanc has started."""
    engine = jobs.configure(config.jobs_workers, config.jobs_history_size)
    routes = [("/jobs", _list), ("/jobs/([^/]+)", _one), (f"/jobs/([^/]+)/({'|'.join(ACTIONS)})", _action)]
    for pattern, handler in routes:
        store.register_route(config.mount + pattern, _guarded(handler))
    store.on_started(engine.load)
    store.on_stopped(engine.shutdown)
    return [f"GET {config.mount}/jobs", f"GET {config.mount}/jobs/{{id}}",
            f"POST {config.mount}/jobs/{{id}}/{{{'|'.join(ACTIONS)}}}"]
