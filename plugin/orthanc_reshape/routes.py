"""Route table (URI regex -> handler) and the HTTP glue: JSON in, JSON or DICOM out, errors as JSON."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import pydicom

from . import __version__, job_routes, store
from .answers import answer_json, guarded
from .config import ConfigurationError, ReshapeConfig, parse_config
from .errors import ReshapeError
from . import pseudonym_routes
from .dicom import tags
from .operations import jobs, modify, pipeline, split_merge
from .requests import (parse_edit_request, parse_json_object, parse_merge_request,
                       parse_resource_edit_request, parse_split_request)

_ID = r"([^/]+)"

Handler = Callable[[ReshapeConfig, tuple, Dict[str, Any]], Any]


@dataclass(frozen=True)
class Answer:
    """A non-JSON answer body with its MIME type."""

    body: bytes
    mime: str


def instance_edit(anonymize: bool) -> Handler:
    def handle(config: ReshapeConfig, groups: tuple, body: Dict[str, Any]) -> Answer:
        request = parse_edit_request(body, anonymize, config)
        if request.dry_run:
            return modify.dry_run_instance(groups[0], request, config)
        return Answer(modify.edit_instance(groups[0], request, config), "application/dicom")
    return handle


def resource_edit(level: str, anonymize: bool) -> Handler:
    def handle(config: ReshapeConfig, groups: tuple, body: Dict[str, Any]) -> Dict[str, Any]:
        request = parse_resource_edit_request(body, anonymize, config)
        work = modify.prepare_edit(level, [groups[0]], request, config)
        return jobs.perform("ResourceModification", lambda progress, cancelled: work(), request.job, config.mount)
    return handle


def bulk_edit(anonymize: bool) -> Handler:
    def handle(config: ReshapeConfig, groups: tuple, body: Dict[str, Any]) -> Dict[str, Any]:
        request = parse_resource_edit_request(body, anonymize, config, bulk=True)
        work = modify.prepare_edit(None, request.resources, request, config)
        return jobs.perform("ResourceModification", lambda progress, cancelled: work(), request.job, config.mount)
    return handle


def study_split(config: ReshapeConfig, groups: tuple, body: Dict[str, Any]) -> Dict[str, Any]:
    source = split_merge.SplitSource.load(groups[0])
    request = parse_split_request(body, source.check_series, source.check_instance)
    work = split_merge.prepare_split(source, request, config)
    return jobs.perform("SplitStudy", lambda progress, cancelled: work(), request.job, config.mount)


def study_merge(config: ReshapeConfig, groups: tuple, body: Dict[str, Any]) -> Dict[str, Any]:
    target = split_merge.MergeTarget.load(groups[0])
    request = parse_merge_request(body, target.check_resource)
    work = split_merge.prepare_merge(target, request, config)
    return jobs.perform("MergeStudy", lambda progress, cancelled: work(), request.job, config.mount)


# (URI pattern relative to the mount point, HTTP method, handler)
ROUTES: List[tuple] = [
    (rf"/instances/{_ID}/modify", "POST", instance_edit(anonymize=False)),
    (rf"/instances/{_ID}/anonymize", "POST", instance_edit(anonymize=True)),
    *[(rf"/{uri}/{_ID}/{action}", "POST", resource_edit(level, action == "anonymize"))
      for level, uri in (("Patient", "patients"), ("Study", "studies"), ("Series", "series"))
      for action in ("modify", "anonymize")],
    ("/tools/bulk-modify", "POST", bulk_edit(anonymize=False)),
    ("/tools/bulk-anonymize", "POST", bulk_edit(anonymize=True)),
    (rf"/studies/{_ID}/split", "POST", study_split),
    (rf"/studies/{_ID}/merge", "POST", study_merge),
]


def _callback(config: ReshapeConfig, method: str, handler: Handler, pattern: str = ""):
    def work(output, uri: str, request: Dict[str, Any]) -> None:
        if request.get("method") != method:
            store.answer_status(output, 405, method)  # as Orthanc answers a method a route does not take
            return
        groups, body = tuple(request.get("groups") or ()), parse_json_object(request.get("body"))
        with jobs.requested({"Route": pattern, "Groups": list(groups), "Body": body}):  # kept by async jobs
            answer = handler(config, groups, body)
        if isinstance(answer, Answer):
            store.answer_buffer(output, answer.body, answer.mime)
        else:
            answer_json(output, answer)
    return guarded(work)


def _job_rebuilder(config: ReshapeConfig) -> Callable[[Dict[str, Any]], Any]:
    """How the job engine prepares a job again after a restart: the same handler, the same checks."""
    handlers = {pattern: handler for pattern, _method, handler in ROUTES}

    def rebuild(request: Dict[str, Any]):
        handler = handlers.get(request.get("Route"))
        if handler is None:
            raise ReshapeError("BadRequest", f"No route {request.get('Route')!r} any more")
        return jobs.capture_run(lambda: handler(config, tuple(request["Groups"]), request["Body"]))
    return rebuild


def register() -> None:
    """Read the configuration, register every route under the mount point, log what was mounted."""
    try:
        config = parse_config(store.configuration())
    except ConfigurationError as exc:
        store.log_error(f"Orthanc Reshape: invalid configuration, no route registered: {exc}")
        raise
    pipeline.configure(config.store_workers, config.loopback_http)
    tags.register_names(dict(config.dictionary_names))
    mounted = []
    for pattern, method, handler in ROUTES:
        uri = config.mount + pattern
        store.register_route(uri, _callback(config, method, handler, pattern))
        mounted.append(f"{method} {re.sub(re.escape(_ID), '{id}', uri)}")
    mounted += job_routes.register(config)
    jobs.engine().rebuilder = _job_rebuilder(config)

    mounted += pseudonym_routes.register(config)

    def log_startup() -> None:
        store.log_info(
            f"Orthanc Reshape {__version__} (pydicom {pydicom.__version__}, Orthanc {store.orthanc_version()}, "
            f"orthanc-python {store.python_plugin_version()}) mounted at "
            f"{config.mount or 'Orthanc own URIs'}: " + ", ".join(mounted))
    store.on_started(log_startup)
