"""fetch -> edit -> store over many instances, with all-or-nothing commit.

Without Permissive, the first failure removes every instance this request stored (never one that
already existed, nor one that has its source's ID) and the sources stay untouched. With Permissive,
failures are reported and their sources are kept. Sources are deleted only by `delete_sources`,
after every replacement is stored.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from .. import store
from ..errors import ReshapeError


@dataclass(frozen=True)
class SourceInstance:
    """A stored instance to process, with its parents' Orthanc IDs."""

    id: str
    series: str
    study: str
    patient: str


def collect_sources(level: str, resource_id: str, resource: Dict) -> List[SourceInstance]:
    """Every instance below a resource of any level (Orthanc's JSON of it given), in Orthanc's order."""
    if level == "Instance":
        series = store.get_json(f"/series/{resource['ParentSeries']}")
        study = store.get_json(f"/studies/{series['ParentStudy']}")
        return [SourceInstance(resource_id, series["ID"], study["ID"], study["ParentPatient"])]
    if level == "Series":
        study = store.get_json(f"/studies/{resource['ParentStudy']}")
        return [SourceInstance(i, resource_id, study["ID"], study["ParentPatient"]) for i in resource["Instances"]]
    if level == "Study":
        return [SourceInstance(i, series["ID"], resource_id, resource["ParentPatient"])
                for series in store.get_json(f"/studies/{resource_id}/series") for i in series["Instances"]]
    return [source for study in resource["Studies"]
            for source in collect_sources("Study", study, store.get_json(f"/studies/{study}"))]


@dataclass(frozen=True)
class StoredInstance:
    """A replacement stored by this request."""

    source: SourceInstance
    id: str
    series: str
    study: str
    patient: str
    newly_stored: bool  # False when Orthanc answered AlreadyStored

    @property
    def in_place(self) -> bool:
        return self.id == self.source.id


@dataclass
class PipelineResult:
    stored: List[StoredInstance] = field(default_factory=list)
    failures: List[Dict[str, str]] = field(default_factory=list)  # {"ID": source id, "Error": reason}


class PipelineFailure(ReshapeError):
    """A non-permissive run failed on one instance; everything it stored was removed."""


class Interrupted(Exception):
    """Raised by Monitor.checkpoint when the job running the pipeline is cancelled (or Orthanc stops)."""


class Monitor:
    """Hooks of the job running a pipeline; this base class (a synchronous request) does nothing."""

    def checkpoint(self) -> None:
        """Between two instances: raise Interrupted when cancelled (may block while the job is paused)."""

    def will_store(self, dicom: bytes) -> None:
        """Just before `dicom` is stored (write-ahead journal of what may need a rollback)."""

    def stored(self, instance_id: str, newly_stored: bool) -> None:
        """Just after an instance was stored."""

    def progress(self, done: int, total: int) -> None:
        """`done` of `total` source instances processed."""

    def committing(self) -> None:
        """Sources are about to be deleted (KeepSource: false): from now on, no rollback."""


_NO_MONITOR = Monitor()
_current = threading.local()


def current_monitor() -> Monitor:
    """The monitor of the job running in this thread (a do-nothing one outside jobs)."""
    return getattr(_current, "monitor", None) or _NO_MONITOR


@contextmanager
def monitored(monitor: Monitor) -> Iterator[Monitor]:
    """Every pipeline run in this thread, inside the block, reports to `monitor`."""
    previous = getattr(_current, "monitor", None)
    _current.monitor = monitor
    try:
        yield monitor
    finally:
        _current.monitor = previous


def run(sources: Sequence[SourceInstance], transform: Callable[[bytes, SourceInstance], bytes],
        permissive: bool, monitor: Optional[Monitor] = None) -> PipelineResult:
    """Transform and store every source instance, in order (reporting to the job's monitor, if any)."""
    monitor = monitor or current_monitor()
    result = PipelineResult()
    monitor.progress(0, len(sources))
    for done, source in enumerate(sources):
        try:
            monitor.checkpoint()
        except Interrupted:
            rollback(result.stored)
            raise
        try:
            dicom = transform(store.instance_dicom(source.id), source)
            monitor.will_store(dicom)
            answer = store.store_instance(dicom)
        except Exception as exc:  # one instance failed: roll back or record
            error = exc if isinstance(exc, ReshapeError) else ReshapeError("InternalError", f"{type(exc).__name__}: {exc}")
            if not permissive:
                rollback(result.stored)
                raise PipelineFailure(error.kind, f"Instance {source.id} failed: {error.details}; nothing was "
                                      f"changed (the {len(result.stored)} instance(s) stored before were removed)",
                                      error.field) from None
            store.log_error(f"Orthanc Reshape: instance {source.id} failed (permissive): {error.details}")
            result.failures.append({"ID": source.id, "Error": error.details})
            monitor.progress(done + 1, len(sources))
            continue
        result.stored.append(StoredInstance(source, answer["ID"], answer["ParentSeries"], answer["ParentStudy"],
                                            answer["ParentPatient"], answer.get("Status") != "AlreadyStored"))
        monitor.stored(answer["ID"], result.stored[-1].newly_stored)
        monitor.progress(done + 1, len(sources))
    return result


def rollback(stored: Sequence[StoredInstance]) -> None:
    """Remove what this request stored: never an instance that existed before, never a source."""
    for instance in stored:
        if instance.newly_stored and not instance.in_place:
            store.delete("Instance", instance.id)


def delete_sources(stored: Sequence[StoredInstance]) -> None:
    """KeepSource: false, after every replacement is stored: delete each source that has a distinct replacement."""
    current_monitor().committing()
    for instance in stored:
        if not instance.in_place:
            store.delete("Instance", instance.source.id)
