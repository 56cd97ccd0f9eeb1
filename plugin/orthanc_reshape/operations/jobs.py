"""Asynchronous operations as jobs that look like Orthanc's own (orthanc-python 4.0 cannot create Orthanc jobs).

A job is submitted with `JobEngine.submit(job_type, run, priority, user_data)` (the routes go through
`perform`); `run(progress, cancelled)` does the
work in a worker thread and returns the job's content. At most `Reshape.JobsWorkers` jobs run at a time,
the lowest `Priority` value first (then the oldest). A running job can be cancelled or paused between two
instances: every pipeline.run inside `run` reports to the job (progress, cancellation, pause, and a
write-ahead journal of the instances it stores).

Records live in Orthanc's database, as global properties (ids >= 1024):
  INDEX_PROPERTY                          JSON list of [job ID, slot], oldest first
  RECORD_BASE + slot * SLOT_STRIDE        the job's record (its GET /jobs/{id} JSON, plus Phase/Started)
  ... + 1 + k                             journal chunk k: {"Job": id, "Ids": [up to JOURNAL_CHUNK ids]}
  ... + SLOT_STRIDE - 1                   the request that prepares the job again: {"Job": id, "Request": ...}
A job that was running when Orthanc stopped is rolled back at the next start (every instance of its journal
is deleted; sources are never in it) and recorded as a Failure that says so.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional

from .. import store
from ..errors import ORTHANC_ERRORS, ReshapeError
from . import pipeline

INDEX_PROPERTY = 5472
RECORD_BASE = 1_000_000
SLOT_STRIDE = 2048
SLOTS = 2000
JOURNAL_CHUNK = 64

PENDING, RUNNING, SUCCESS, FAILURE, PAUSED, RETRY = "Pending", "Running", "Success", "Failure", "Paused", "Retry"
ACTIVE_STATES = (PENDING, RUNNING, PAUSED, RETRY)
CANCELED_JOB = (37, "This job was canceled")

Progress = Callable[[float], None]      # fraction done, 0.0 to 1.0
Cancelled = Callable[[], bool]
Run = Callable[[Progress, Cancelled], Dict[str, Any]]


def _timestamp() -> str:
    """Orthanc's job time format (UTC): 20261125T143228.040778."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%f")


@dataclass
class Job:
    id: str
    type: str
    priority: int
    user_data: Any
    slot: int
    creation_time: str = field(default_factory=_timestamp)
    state: str = PENDING
    progress: float = 0.0
    completion_time: Optional[str] = None
    runtime: float = 0.0
    error: tuple = (0, "Success", "")        # (ErrorCode, ErrorDescription, ErrorDetails)
    content: Dict[str, Any] = field(default_factory=dict)
    phase: str = ""                          # "commit" once sources are being deleted (no rollback then)
    started: bool = False                    # ran at least once in this process or before a restart
    journal: List[str] = field(default_factory=list)
    journaled: set = field(default_factory=set)  # the IDs of `journal`, for look-ups
    run: Optional[Run] = None                # None for a job recovered from the database (until rebuilt)
    request: Optional[Dict[str, Any]] = None  # what rebuilds `run` after a restart (see JobEngine.rebuilder)
    # control, not persisted
    cancel_requested: bool = False
    pause_requested: bool = False
    waiting: bool = False                    # its thread is parked at a checkpoint (paused)
    granted: bool = False                    # the dispatcher gave the parked thread a worker again
    holds_worker: bool = False
    run_started: float = 0.0

    def describe(self, now: Optional[str] = None) -> Dict[str, Any]:
        """The GET /jobs/{id} JSON (Orthanc's shape)."""
        code, description, details = self.error
        answer = {
            "ID": self.id, "Type": self.type, "State": self.state, "Progress": int(self.progress),
            "Priority": self.priority, "CreationTime": self.creation_time,
            "EffectiveRuntime": round(self.runtime + (time.monotonic() - self.run_started if self.holds_worker
                                                      else 0.0), 3),
            "ErrorCode": code, "ErrorDescription": description, "ErrorDetails": details,
            "Content": self.content, "UserData": self.user_data, "Timestamp": now or _timestamp(),
        }
        if self.completion_time:
            answer["CompletionTime"] = self.completion_time
        return answer

    def record(self) -> Dict[str, Any]:
        answer = self.describe()
        answer.update({"Phase": self.phase, "Started": self.started, "ProgressValue": self.progress})
        answer.pop("Timestamp")
        return answer

    @classmethod
    def from_record(cls, record: Dict[str, Any], slot: int) -> "Job":
        return cls(id=record["ID"], type=record["Type"], priority=record.get("Priority", 0),
                   user_data=record.get("UserData"), slot=slot, creation_time=record.get("CreationTime", ""),
                   state=record.get("State", FAILURE), progress=record.get("ProgressValue", record.get("Progress", 0)),
                   completion_time=record.get("CompletionTime"), runtime=record.get("EffectiveRuntime", 0.0),
                   error=(record.get("ErrorCode", 0), record.get("ErrorDescription", ""),
                          record.get("ErrorDetails", "")),
                   content=record.get("Content") or {}, phase=record.get("Phase", ""),
                   started=record.get("Started", False))


class JobRecords:
    """Job records in Orthanc's database (global properties)."""

    @staticmethod
    def _record_id(slot: int) -> int:
        return RECORD_BASE + slot * SLOT_STRIDE

    def load_index(self) -> List[list]:
        try:
            return json.loads(store.get_global_property(INDEX_PROPERTY, "[]") or "[]")
        except ValueError:
            store.log_error("Orthanc Reshape: the jobs index in the database is not JSON; starting a new one")
            return []

    def save_index(self, jobs: List[Job]) -> None:
        store.set_global_property(INDEX_PROPERTY, json.dumps([[job.id, job.slot] for job in jobs]))

    def load(self, job_id: str, slot: int) -> Optional[Job]:
        try:
            record = json.loads(store.get_global_property(self._record_id(slot), "") or "null")
        except ValueError:
            return None
        if not isinstance(record, dict) or record.get("ID") != job_id:
            return None
        job = Job.from_record(record, slot)
        try:
            request = json.loads(store.get_global_property(self._record_id(slot) + SLOT_STRIDE - 1, "") or "null")
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("Job") == job_id:
            job.request = request.get("Request")
        return job

    def save_request(self, job: Job) -> None:
        """Written once per job (a bulk request can be large; the record is written at every progress step)."""
        store.set_global_property(self._record_id(job.slot) + SLOT_STRIDE - 1,
                                  json.dumps({"Job": job.id, "Request": job.request}))

    def save(self, job: Job) -> None:
        store.set_global_property(self._record_id(job.slot), json.dumps(job.record()))

    def append_journal(self, job: Job, instance_id: str) -> None:
        """Write-ahead: record an instance the job is about to store (rewrites only the last chunk)."""
        job.journal.append(instance_id)
        job.journaled.add(instance_id)
        chunk = min((len(job.journal) - 1) // JOURNAL_CHUNK, SLOT_STRIDE - 3)
        ids = job.journal[chunk * JOURNAL_CHUNK:]
        store.set_global_property(self._record_id(job.slot) + 1 + chunk, json.dumps({"Job": job.id, "Ids": ids}))

    def _journal_chunks(self, job: Job) -> List[tuple]:
        """(property id, ids) of the job's journal chunks in the database, in order."""
        chunks = []
        for chunk in range(SLOT_STRIDE - 2):
            property_id = self._record_id(job.slot) + 1 + chunk
            try:
                value = json.loads(store.get_global_property(property_id, "") or "null")
            except ValueError:
                break
            if not isinstance(value, dict) or value.get("Job") != job.id:
                break
            chunks.append((property_id, value.get("Ids", [])))
        return chunks

    def load_journal(self, job: Job) -> List[str]:
        return [instance_id for _, ids in self._journal_chunks(job) for instance_id in ids]

    def clear_journal(self, job: Job) -> None:
        """Forget the journal of an earlier run of the job (a resubmitted job starts a new one)."""
        for property_id, _ in self._journal_chunks(job):
            store.set_global_property(property_id, "")


class JobMonitor(pipeline.Monitor):
    """What a pipeline.run inside a job reports to the engine."""

    def __init__(self, engine: "JobEngine", job: Job):
        self.engine = engine
        self.job = job

    def checkpoint(self) -> None:
        self.engine.checkpoint(self.job)

    journals = True

    def will_store(self, instance_id: Optional[str]) -> None:
        if instance_id is not None and not store.instance_exists(instance_id):
            self.engine.journal(self.job, instance_id)

    def stored(self, instance_id: str, newly_stored: bool) -> None:
        if newly_stored and instance_id not in self.job.journaled:
            self.engine.journal(self.job, instance_id)  # the ID computed before storing was not Orthanc's

    def progress(self, done: int, total: int) -> None:
        self.engine.set_progress(self.job, done / total if total else 0.0)

    def committing(self) -> None:
        self.engine.set_phase(self.job, "commit")


class JobEngine:
    """Plugin jobs: queue, workers, state machine and records."""

    def __init__(self, workers: int = 1, history_size: int = 100, records: Optional[JobRecords] = None):
        self.workers = workers
        self.history_size = history_size
        self.records = records or JobRecords()
        self._cond = threading.Condition(threading.RLock())
        self._jobs: Dict[str, Job] = {}  # oldest first
        self._loaded = False
        self._running = 0
        self._stopping = False
        # request (as given to submit) -> the job's run, validated again; None: jobs do not survive a restart
        self.rebuilder: Optional[Callable[[Dict[str, Any]], Run]] = None

    # -- start-up ------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the records from the database once; roll back the jobs a stop interrupted (idempotent)."""
        with self._cond:
            if self._loaded:
                return
            self._loaded = True
            for job_id, slot in self.records.load_index():
                job = self.records.load(job_id, slot)
                if job is not None:
                    self._jobs[job.id] = job
            for job in list(self._jobs.values()):
                if job.state in ACTIVE_STATES:
                    self._recover(job)
            self.records.save_index(list(self._jobs.values()))
            self._dispatch()

    def _recover(self, job: Job) -> None:
        if not job.started and job.request is not None and self.rebuilder is not None:
            try:  # a job that had not started yet is queued again, as Orthanc does
                job.run = self.rebuilder(job.request)
                job.state = PENDING if job.state != PAUSED else PAUSED
                self.records.save(job)
                return
            except ReshapeError as error:
                code, description, _ = ORTHANC_ERRORS[error.kind]
                job.error = (code, description, f"Orthanc restarted before this job started, and its request is "
                                                f"not valid any more: {error.details}")
            except Exception as exc:
                job.error = (-1, "Internal error", f"Orthanc restarted before this job started, and its request "
                                                   f"could not be prepared again: {type(exc).__name__}: {exc}")
            store.log_error(f"Orthanc Reshape: job {job.id}: {job.error[2]}")
            job.state = FAILURE
            job.completion_time = _timestamp()
            self.records.save(job)
            return
        if job.started and job.phase != "commit":
            journal = self.records.load_journal(job)
            removed = 0
            for instance_id in journal:
                try:
                    store.delete("Instance", instance_id)
                    removed += 1
                except Exception as exc:  # keep going: remove as much as possible
                    store.log_error(f"Orthanc Reshape: job {job.id}: cannot remove {instance_id}: {exc}")
            details = (f"Orthanc stopped while this job was running: the {removed} instance(s) it had stored "
                       "were removed at the next start; its sources are intact")
        elif job.started:
            details = ("Orthanc stopped while this job was deleting its sources (KeepSource: false): the new "
                       "instances were kept, and the sources not deleted yet remain")
            job.request = None  # resubmitting would work on the remaining sources only
            self.records.save_request(job)
        else:
            details = "Orthanc stopped before this job started: nothing was changed"
        store.log_error(f"Orthanc Reshape: job {job.id} ({job.type}) interrupted by a stop of Orthanc: {details}")
        job.state = FAILURE
        job.error = (ORTHANC_ERRORS["InternalError"][0], ORTHANC_ERRORS["InternalError"][1], details)
        job.completion_time = _timestamp()
        self.records.save(job)

    # -- queries -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Optional[Dict[str, Any]]:
        self.load()
        with self._cond:
            job = self._jobs.get(job_id)
            return job.describe() if job else None

    def owns(self, job_id: str) -> bool:
        self.load()
        with self._cond:
            return job_id in self._jobs

    def list(self, expand: bool) -> List[Any]:
        self.load()
        with self._cond:
            now = _timestamp()
            return [job.describe(now) if expand else job.id for job in self._jobs.values()]

    # -- submission and dispatch ---------------------------------------------------------------

    def submit(self, job_type: str, run: Run, priority: int = 0, user_data: Any = None,
               request: Optional[Dict[str, Any]] = None) -> str:
        self.load()
        with self._cond:
            if self._stopping:
                raise ReshapeError("InternalError", "Orthanc is stopping: no new job is accepted")
            used = {job.slot for job in self._jobs.values()}
            slot = next((s for s in range(SLOTS) if s not in used), None)
            if slot is None:
                raise ReshapeError("InternalError", f"Too many jobs ({SLOTS}) waiting or running")
            job = Job(id=str(uuid.uuid4()), type=job_type, priority=priority, user_data=user_data, slot=slot, run=run,
                      request=request)
            self._jobs[job.id] = job
            self.records.save_request(job)
            self.records.save(job)
            self.records.save_index(list(self._jobs.values()))
            self._dispatch()
            return job.id

    def _dispatch(self) -> None:
        """Give free workers to the best pending jobs (lowest Priority value, then oldest). Lock held."""
        while self._running < self.workers and not self._stopping:
            pending = [job for job in self._jobs.values() if job.state == PENDING]
            if not pending:
                return
            job = min(pending, key=lambda j: j.priority)  # min() keeps the oldest among equals
            self._running += 1
            job.holds_worker = True
            job.run_started = time.monotonic()
            job.state = RUNNING
            job.started = True
            self.records.save(job)
            if job.waiting:
                job.granted = True
                self._cond.notify_all()
            else:
                threading.Thread(target=self._work, args=(job,), name=f"reshape-job-{job.id[:8]}",
                                 daemon=True).start()

    def _release(self, job: Job) -> None:
        if job.holds_worker:
            job.holds_worker = False
            job.runtime += time.monotonic() - job.run_started
            self._running -= 1

    def _work(self, job: Job) -> None:
        monitor = JobMonitor(self, job)
        outcome: tuple
        try:
            with pipeline.monitored(monitor):
                content = job.run(lambda fraction: self.set_progress(job, fraction),
                                  lambda: job.cancel_requested)
            outcome = (SUCCESS, content or {}, (0, "Success", ""))
        except pipeline.Interrupted:
            if self._stopping:
                outcome = (FAILURE, {}, (ORTHANC_ERRORS["InternalError"][0], ORTHANC_ERRORS["InternalError"][1],
                                         "Orthanc stopped while this job was running: every instance it had "
                                         "stored was removed; its sources are intact"))
            else:
                outcome = (FAILURE, {}, CANCELED_JOB + ("The job was canceled: every instance it had stored was "
                                                        "removed; its sources are intact",))
        except ReshapeError as error:
            code, description, _ = ORTHANC_ERRORS[error.kind]
            outcome = (FAILURE, {}, (code, description, error.details))
        except Exception as exc:  # never lose a job to an unexpected error
            store.log_error(f"Orthanc Reshape: job {job.id} failed: {type(exc).__name__}: {exc}")
            outcome = (FAILURE, {}, (-1, "Internal error", f"{type(exc).__name__}: {exc}"))
        with self._cond:
            self._release(job)
            job.waiting = job.granted = False
            job.cancel_requested = job.pause_requested = False
            job.state, job.content, job.error = outcome
            if job.state == SUCCESS:
                job.progress = 100.0
            job.completion_time = _timestamp()
            self.records.save(job)
            self._forget_old_jobs()
            self._dispatch()
            self._cond.notify_all()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Orthanc is stopping: interrupt the running jobs (each rolls back what it stored and fails) and wait for
        them; pending jobs stay in the database and are reported at the next start. Whatever does not finish in
        time is rolled back at the next start from its journal."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._stopping = True
            for job in self._jobs.values():
                if job.state == RUNNING or job.waiting:
                    job.cancel_requested = True
            self._cond.notify_all()
            while any(job.holds_worker or job.waiting for job in self._jobs.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    store.log_error("Orthanc Reshape: jobs still running at stop; they are rolled back at the next "
                                    "start")
                    return
                self._cond.wait(remaining)

    def _forget_old_jobs(self) -> None:
        finished = [job for job in self._jobs.values() if job.state not in ACTIVE_STATES]
        if len(finished) <= self.history_size:
            return
        for job in finished[:len(finished) - self.history_size]:
            del self._jobs[job.id]
        self.records.save_index(list(self._jobs.values()))

    # -- called from the job's thread ----------------------------------------------------------

    def checkpoint(self, job: Job) -> None:
        with self._cond:
            if job.cancel_requested:
                raise pipeline.Interrupted()
            if not job.pause_requested:
                return
            job.pause_requested = False
            self._release(job)
            job.state = PAUSED
            job.waiting = True
            self.records.save(job)
            self._dispatch()
            while not job.cancel_requested and not job.granted:
                self._cond.wait()
            job.waiting = False
            if job.cancel_requested:
                raise pipeline.Interrupted()
            job.granted = False  # _dispatch made it Running again

    def journal(self, job: Job, instance_id: str) -> None:
        with self._cond:
            self.records.append_journal(job, instance_id)

    def set_progress(self, job: Job, fraction: float) -> None:
        value = min(99.0, max(0.0, 100.0 * fraction))
        with self._cond:
            if value <= job.progress:
                return  # never backwards (parallel workers may report out of order)
            if int(value) != int(job.progress):
                job.progress = value
                self.records.save(job)
            else:
                job.progress = value

    def set_phase(self, job: Job, phase: str) -> None:
        with self._cond:
            job.phase = phase
            self.records.save(job)

    # -- control (POST /jobs/{id}/...) ---------------------------------------------------------

    def cancel(self, job_id: str) -> None:
        with self._cond:
            job = self._job(job_id)
            if job.state in (SUCCESS, FAILURE):
                return  # as Orthanc: nothing to do
            if job.state == RUNNING or job.waiting:
                job.cancel_requested = True  # the job's thread rolls back, then records the failure
                self._cond.notify_all()
                return
            job.state = FAILURE
            job.error = CANCELED_JOB + ("The job was canceled before it started: nothing was changed",)
            job.completion_time = _timestamp()
            self.records.save(job)
            self._forget_old_jobs()

    def pause(self, job_id: str) -> None:
        with self._cond:
            job = self._job(job_id)
            if job.state == PENDING:
                job.state = PAUSED
                self.records.save(job)
            elif job.state == RUNNING:
                job.pause_requested = True  # takes effect before the next instance

    def resume(self, job_id: str) -> None:
        with self._cond:
            job = self._job(job_id)
            if job.state != PAUSED:
                if job.state == RUNNING and job.pause_requested:
                    job.pause_requested = False
                    return
                raise ReshapeError("BadSequenceOfCalls", f"Cannot resume a job that is not paused ({job.state})")
            job.state = PENDING
            self.records.save(job)
            self._dispatch()

    def resubmit(self, job_id: str) -> None:
        with self._cond:
            job = self._job(job_id)
            if job.state != FAILURE:
                raise ReshapeError("BadSequenceOfCalls", f"Cannot resubmit a job that has not failed ({job.state})")
            if job.phase == "commit":
                raise ReshapeError("BadSequenceOfCalls", "This job failed while deleting its sources, after storing "
                                   "every new instance: it cannot be resubmitted")
            if job.run is None:
                if job.request is None or self.rebuilder is None:
                    raise ReshapeError("BadSequenceOfCalls", "This job cannot be resubmitted after a restart of "
                                       "Orthanc: send the request again")
                job.run = self.rebuilder(job.request)  # validated again: a source may be gone
            job.state, job.progress, job.error, job.content = PENDING, 0.0, (0, "Success", ""), {}
            job.completion_time, job.phase, job.journal, job.journaled = None, "", [], set()
            self.records.clear_journal(job)
            self.records.save(job)
            self._dispatch()

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise ReshapeError("InexistentItem", f"Unknown job: {job_id}")
        return job


_engine: Optional[JobEngine] = None


def engine() -> JobEngine:
    global _engine
    if _engine is None:
        _engine = JobEngine()
    return _engine


def configure(workers: int, history_size: int) -> JobEngine:
    """Create the engine of this process (at registration; records are read later, once Orthanc has started)."""
    global _engine
    _engine = JobEngine(workers, history_size)
    return _engine


_request = threading.local()


@contextmanager
def requested(request: Dict[str, Any]) -> Iterator[None]:
    """The HTTP request being handled (JSON: enough to prepare the job again after a restart)."""
    previous = getattr(_request, "value", None)
    _request.value = request
    try:
        yield
    finally:
        _request.value = previous


def capture_run(prepare: Callable[[], Any]) -> Run:
    """Call `prepare()` (a route handler) and return the run it would have submitted, without submitting it."""
    _request.captured = []
    try:
        prepare()
        if not _request.captured:
            raise ReshapeError("InternalError", "The request did not prepare a job")
        return _request.captured[0]
    finally:
        _request.captured = None


def perform(job_type: str, run: Run, options: Any, mount: str = "") -> Dict[str, Any]:
    """Run now (Synchronous) and answer the content, or queue a job and answer {"ID", "Path"} (Asynchronous).
    `options` is a requests.JobOptions; errors raised before this call are answered directly in both modes."""
    captured = getattr(_request, "captured", None)
    if captured is not None:
        captured.append(run)
        return {}
    if options.synchronous:
        return run(lambda fraction: None, lambda: False)
    job_id = engine().submit(job_type, run, options.priority, options.user_data, getattr(_request, "value", None))
    return {"ID": job_id, "Path": f"{mount}/jobs/{job_id}"}
