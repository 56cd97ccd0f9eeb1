"""fetch -> edit -> store over many instances, with all-or-nothing commit.

Without Permissive, the first failure removes every instance this request stored (never one that
already existed, nor one that has its source's ID) and the sources stay untouched. With Permissive,
failures are reported and their sources are kept. Sources are deleted only by `delete_sources`,
after every replacement is stored.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from .. import store
from ..dicom.files import orthanc_instance_id
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

    # Whether will_store needs the Orthanc ID of each file about to be stored (computing it costs a read).
    journals = False

    def will_store(self, instance_id: Optional[str]) -> None:
        """Just before a file is stored, with the Orthanc ID it will get (None when unknown): the write-ahead
        journal of what may need a rollback. Unlike the other hooks, it is called from several workers at once:
        it must be thread-safe."""

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


# Instances processed at once by one request (config "Reshape.StoreWorkers"), and whether they are read
# and stored through Orthanc's HTTP port on loopback (config "Reshape.LoopbackHttp").
_settings = {"workers": 4, "loopback": True}
_switch_lock = threading.Lock()
_switch = {"runs": 0, "interval": sys.getswitchinterval()}


def configure(workers: int, loopback: bool) -> None:
    _settings.update(workers=workers, loopback=loopback)


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """While workers run, let Python switch threads often: a worker waiting on a socket answer then
    gets the GIL back soon after the answer arrives."""
    with _switch_lock:
        if _switch["runs"] == 0:
            _switch["interval"] = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
        _switch["runs"] += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch["runs"] -= 1
            if _switch["runs"] == 0:
                sys.setswitchinterval(_switch["interval"])


class _Run:
    """The shared state of one pipeline run over its worker threads."""

    def __init__(self, sources: Sequence[SourceInstance], transform: Callable[[bytes, SourceInstance], bytes],
                 permissive: bool, monitor: Monitor, client, check_existing: bool) -> None:
        self.sources, self.transform, self.permissive, self.monitor = sources, transform, permissive, monitor
        self.client = client
        # With OverwriteInstances, Orthanc answers "Success" for an instance it already had: whether a
        # stored instance is new must then be asked before storing it.
        self.check_existing = check_existing
        self.lock = threading.Lock()          # the fields below
        self.monitor_lock = threading.Lock()  # calls to the monitor, one at a time
        self.next = 0
        self.done = 0
        self.stored: Dict[int, StoredInstance] = {}
        self.failures: Dict[int, Dict[str, str]] = {}
        self.error: Optional[tuple] = None    # (source or None, ReshapeError): the run stops and is rolled back
        self.maybe_stored: List[str] = []     # instances Orthanc may have stored for a lost answer (left in place)
        self.interrupted = False

    def _take(self) -> Optional[int]:
        with self.lock:
            if self.error or self.interrupted or self.next >= len(self.sources):
                return None
            self.next += 1
            return self.next - 1

    def _stop(self, source: Optional[SourceInstance], exc: Exception) -> None:
        error = exc if isinstance(exc, ReshapeError) else ReshapeError("InternalError", f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.error = self.error or (source, error)

    def work(self) -> None:
        """One worker: take the next source instance until none is left or the run stops. Any error
        stops the run (the caller rolls back); only the instance's own failures may be permissive."""
        while True:
            index = self._take()
            if index is None:
                return
            try:
                with self.monitor_lock:
                    self.monitor.checkpoint()
                self._process(index)
                with self.lock:
                    self.done += 1
                    done = self.done
                with self.monitor_lock:
                    self.monitor.progress(done, len(self.sources))
            except Interrupted:
                with self.lock:
                    self.interrupted = True
                return
            except Exception as exc:  # a failure of the run itself (monitor, journal): stop
                self._stop(self.sources[index], exc)
                return

    def _after_lost_answer(self, dicom: bytes, predicted: Optional[str], existed: bool, exc: Exception) -> dict:
        """The connection broke after the new file was sent: Orthanc may have stored it. When Orthanc has it now
        and it is known to be new (OverwriteInstances: existence asked before storing), it is this request's:
        its answer is rebuilt, so that a rollback removes it. Otherwise it is named, never deleted (it may have
        existed before), and the instance fails."""
        if predicted is None:
            predicted = orthanc_instance_id(dicom, ordered=True)
        stored = store.resource("Instance", predicted) if predicted else None
        if stored is not None and self.check_existing and not existed:
            (found,) = collect_sources("Instance", predicted, stored)  # with its parents' IDs
            return {"ID": predicted, "Status": "Success", "ParentSeries": found.series, "ParentStudy": found.study,
                    "ParentPatient": found.patient}
        if stored is not None:
            with self.lock:
                self.maybe_stored.append(predicted)
        raise ReshapeError("CannotStoreInstance", f"The connection to Orthanc broke while it stored the new instance "
                           f"({type(exc).__name__}: {exc})" + (f"; Orthanc has it ({predicted}), which may have been "
                                                               "stored by this request: it is left in place"
                                                               if stored is not None else ""))

    def _process(self, index: int) -> None:
        """Fetch, transform and store one instance; its failure is recorded (Permissive) or raised."""
        source = self.sources[index]
        try:
            dicom = self.transform(store.fetch_instance(source.id, self.client), source)
            predicted, existed = None, False
            if self.check_existing or self.monitor.journals:
                predicted = orthanc_instance_id(dicom, ordered=True)
            if self.check_existing:
                existed = predicted is None or store.instance_exists(predicted)
            self.monitor.will_store(predicted)  # thread-safe by contract: the workers need not wait for each other
            try:
                answer = store.save_instance(dicom, self.client)
            except store.ANSWER_LOST as exc:
                answer = self._after_lost_answer(dicom, predicted, existed, exc)
        except Interrupted:
            raise
        except Exception as exc:  # the instance failed
            if not self.permissive:
                raise
            error = exc if isinstance(exc, ReshapeError) else ReshapeError("InternalError", f"{type(exc).__name__}: {exc}")
            with self.lock:
                self.failures[index] = {"ID": source.id, "Error": error.details}
            store.log_error(f"Orthanc Reshape: instance {source.id} failed (permissive): {error.details}")
            return
        if self.check_existing:
            # A prediction that missed Orthanc's ID counts as existing: never delete what may be older.
            newly = not existed and predicted == answer["ID"]
        else:
            newly = answer.get("Status") != "AlreadyStored"
        stored = StoredInstance(source, answer["ID"], answer["ParentSeries"], answer["ParentStudy"],
                                answer["ParentPatient"], newly)
        with self.lock:
            self.stored[index] = stored
        with self.monitor_lock:
            self.monitor.stored(stored.id, stored.newly_stored)


def run(sources: Sequence[SourceInstance], transform: Callable[[bytes, SourceInstance], bytes],
        permissive: bool, monitor: Optional[Monitor] = None) -> PipelineResult:
    """Transform and store every source instance (several at a time), reporting to the job's monitor. The
    transform returns the new file, its top-level tags in ascending order (as write_dataset writes them: its
    Orthanc ID is predicted from its first elements).

    The result lists the stored instances in the order of `sources`. Without `permissive`, the first
    failure stops the run and everything it stored is removed (PipelineFailure); an interrupted job
    is rolled back the same way (Interrupted)."""
    monitor = monitor or current_monitor()
    monitor.progress(0, len(sources))
    workers = max(1, min(_settings["workers"], len(sources)))
    client = store.loopback_client() if _settings["loopback"] and workers > 1 else None
    state = _Run(sources, transform, permissive, monitor, client, store.overwrite_instances())
    if workers == 1:
        state.work()
    else:
        with _short_switch_interval():
            threads = [threading.Thread(target=state.work, name=f"reshape-worker-{i}") for i in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    stored = [state.stored[index] for index in sorted(state.stored)]
    if state.interrupted:
        rollback(stored)
        raise Interrupted()
    if not state.error and len(stored) + len(state.failures) != len(sources):
        state.error = (None, ReshapeError("InternalError", f"only {len(stored) + len(state.failures)} of "
                                          f"{len(sources)} instances were processed"))
    if state.error:
        source, error = state.error
        left = rollback(stored)
        what = f"Instance {source.id} failed" if source else "The operation failed"
        outcome = ("nothing was changed (the {} instance(s) stored before were removed)".format(len(stored))
                   if not left else f"the instance(s) {', '.join(left)} it had stored could not be removed")
        if state.maybe_stored:
            outcome += (f"; instance(s) {', '.join(state.maybe_stored)} may have been stored before the connection "
                        "broke, and are left in place")
        raise PipelineFailure(error.kind, f"{what}: {error.details}; {outcome}", error.field)
    return PipelineResult(stored, [state.failures[index] for index in sorted(state.failures)])


def rollback(stored: Sequence[StoredInstance]) -> List[str]:
    """Remove what this request stored: never an instance that existed before, never a source. Goes on
    after a failed deletion; returns the IDs that could not be removed (logged)."""
    left = []
    for instance in stored:
        if instance.newly_stored and not instance.in_place:
            try:
                store.delete("Instance", instance.id)
            except Exception as exc:  # keep removing the others
                store.log_error(f"Orthanc Reshape: rollback could not remove instance {instance.id}: {exc}")
                left.append(instance.id)
    return left


@contextmanager
def finishing(stored: Sequence[StoredInstance]) -> Iterator[None]:
    """The steps after the stores (provenance, labels, pseudonym mapping): a failure there still rolls back
    everything stored, and so does a cancellation of the job, checked one last time before the sources
    are deleted."""
    try:
        yield
        current_monitor().checkpoint()
    except Exception:
        rollback(stored)
        raise


def delete_sources(stored: Sequence[StoredInstance]) -> None:
    """KeepSource: false, after every replacement is stored: delete each source that has a distinct replacement."""
    current_monitor().committing()
    for instance in stored:
        if not instance.in_place:
            store.delete("Instance", instance.source.id)
