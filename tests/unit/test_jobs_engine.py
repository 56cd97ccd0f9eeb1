"""The job engine on its own: queue order, state machine, records in (stand-in) global properties, recovery
after a stop. operations/jobs.py runs with a stand-in `orthanc` module; the database is a dict."""
from __future__ import annotations

import json
import threading
import time
import types

import pytest

from support import import_glue


class FakeDatabase:
    def __init__(self) -> None:
        self.properties: dict[int, str] = {}
        self.deleted: list[str] = []
        self.existing: set[str] = set()


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch, db: FakeDatabase):
    """operations/jobs.py with its store calls going to `db`."""
    module = import_glue(monkeypatch, "orthanc_reshape.operations.jobs")
    store = module.store
    monkeypatch.setattr(store, "get_global_property", lambda pid, default="": db.properties.get(pid, default))
    monkeypatch.setattr(store, "set_global_property", lambda pid, value: db.properties.__setitem__(pid, value))
    monkeypatch.setattr(store, "delete", lambda level, rid: db.deleted.append(rid))
    monkeypatch.setattr(store, "instance_exists", lambda rid: rid in db.existing)
    monkeypatch.setattr(store, "log_error", lambda message: None)
    monkeypatch.setattr(store, "log_info", lambda message: None)
    return module


def dicom_file(sop_uid: str) -> bytes:
    from io import BytesIO
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = sop_uid
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "P", "1.2.3", "1.2.3.4"
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def blocking_run(release: threading.Event, started: threading.Event | None = None, answer=None):
    def run(progress, cancelled):
        if started:
            started.set()
        release.wait(5)
        return answer if answer is not None else {"Done": True}
    return run


def test_a_job_succeeds_with_its_content_and_the_record_is_in_the_database(jobs, db) -> None:
    engine = jobs.JobEngine()
    job_id = engine.submit("ResourceModification", lambda progress, cancelled: {"InstancesCount": 2}, 4, {"u": 1})
    wait_for(lambda: engine.get(job_id)["State"] == "Success")
    job = engine.get(job_id)
    assert (job["Content"], job["Progress"], job["Priority"], job["UserData"]) == ({"InstancesCount": 2}, 100, 4, {"u": 1})
    assert job["ErrorCode"] == 0 and job["ErrorDescription"] == "Success" and "CompletionTime" in job
    assert json.loads(db.properties[jobs.INDEX_PROPERTY]) == [[job_id, 0]]
    assert json.loads(db.properties[jobs.RECORD_BASE])["State"] == "Success"
    assert "Request" not in json.loads(db.properties[jobs.RECORD_BASE])  # kept apart, written once
    assert json.loads(db.properties[jobs.RECORD_BASE + jobs.SLOT_STRIDE - 1]) == {"Job": job_id, "Request": None}


def test_one_worker_runs_the_lowest_priority_value_first(jobs) -> None:
    engine = jobs.JobEngine(workers=1)
    release, started, order = threading.Event(), threading.Event(), []
    first = engine.submit("A", blocking_run(release, started))
    started.wait(5)
    for name, priority in (("low", 10), ("high", -10), ("middle", 0), ("high2", -10)):
        engine.submit(name, lambda p, c, name=name: order.append(name) or {}, priority)
    assert [engine.get(i)["State"] for i in engine.list(False)] == ["Running"] + ["Pending"] * 4
    release.set()
    wait_for(lambda: len(order) == 4)
    assert order == ["high", "high2", "middle", "low"]
    assert engine.get(first)["State"] == "Success"


def test_errors_become_failures_with_orthanc_codes(jobs) -> None:
    engine = jobs.JobEngine()

    def fails(progress, cancelled):
        raise jobs.ReshapeError("UnknownResource", "gone")
    job_id = engine.submit("ResourceModification", fails)
    wait_for(lambda: engine.get(job_id)["State"] == "Failure")
    job = engine.get(job_id)
    assert (job["ErrorCode"], job["ErrorDescription"], job["ErrorDetails"]) == (17, "Unknown resource", "gone")
    crash = engine.submit("ResourceModification", lambda p, c: 1 / 0)
    wait_for(lambda: engine.get(crash)["State"] == "Failure")
    assert engine.get(crash)["ErrorCode"] == -1 and "ZeroDivisionError" in engine.get(crash)["ErrorDetails"]


def test_cancel_pause_resume_of_pending_jobs(jobs) -> None:
    engine = jobs.JobEngine(workers=1)
    release, started = threading.Event(), threading.Event()
    engine.submit("A", blocking_run(release, started))
    started.wait(5)
    waiting = engine.submit("B", lambda p, c: {"B": 1})
    engine.pause(waiting)
    assert engine.get(waiting)["State"] == "Paused"
    with pytest.raises(jobs.ReshapeError) as error:
        engine.resubmit(waiting)
    assert error.value.kind == "BadSequenceOfCalls"
    engine.resume(waiting)
    assert engine.get(waiting)["State"] == "Pending"
    doomed = engine.submit("C", lambda p, c: {})
    engine.cancel(doomed)
    job = engine.get(doomed)
    assert job["State"] == "Failure" and job["ErrorCode"] == 37
    release.set()
    wait_for(lambda: engine.get(waiting)["State"] == "Success")
    engine.cancel(waiting)  # finished: nothing to do, as Orthanc
    assert engine.get(waiting)["State"] == "Success"
    with pytest.raises(jobs.ReshapeError) as error:
        engine.resume(waiting)
    assert error.value.http_status == 400
    with pytest.raises(jobs.ReshapeError) as error:
        engine.cancel("nope")
    assert error.value.http_status == 404


def checkpointed_run(jobs, steps: int, seen: list, step_done: threading.Event | None = None):
    """A run that goes through a pipeline-like loop of checkpoints."""
    def run(progress, cancelled):
        monitor = jobs.pipeline.current_monitor()
        for index in range(steps):
            monitor.checkpoint()
            seen.append(index)
            monitor.progress(index + 1, steps)
            if step_done:
                step_done.wait(5)
        return {"Steps": steps}
    return run


def test_a_running_job_pauses_at_a_checkpoint_frees_its_worker_and_resumes(jobs) -> None:
    engine = jobs.JobEngine(workers=1)
    gate, seen = threading.Event(), []
    long_job = engine.submit("Long", checkpointed_run(jobs, 3, seen, gate))
    wait_for(lambda: seen == [0])
    engine.pause(long_job)
    gate.set()  # step 0 ends; the checkpoint before step 1 pauses
    wait_for(lambda: engine.get(long_job)["State"] == "Paused")
    other = engine.submit("Other", lambda p, c: {"Other": 1})
    wait_for(lambda: engine.get(other)["State"] == "Success")  # the paused job freed the only worker
    assert seen == [0] and engine.get(long_job)["Progress"] == 33
    engine.resume(long_job)
    wait_for(lambda: engine.get(long_job)["State"] == "Success")
    assert seen == [0, 1, 2] and engine.get(long_job)["Content"] == {"Steps": 3}


def test_a_running_job_cancelled_fails_with_code_37_and_can_be_resubmitted(jobs) -> None:
    engine = jobs.JobEngine()
    gate, seen = threading.Event(), []
    job_id = engine.submit("Long", checkpointed_run(jobs, 3, seen, gate))
    wait_for(lambda: seen == [0])
    engine.cancel(job_id)
    gate.set()
    wait_for(lambda: engine.get(job_id)["State"] == "Failure")
    assert engine.get(job_id)["ErrorCode"] == 37 and seen == [0]
    engine.resubmit(job_id)
    wait_for(lambda: engine.get(job_id)["State"] == "Success")
    assert engine.get(job_id)["Content"] == {"Steps": 3}


def test_records_survive_a_restart_and_interrupted_jobs_are_rolled_back(jobs, db) -> None:
    engine = jobs.JobEngine(workers=1)
    gate, seen = threading.Event(), []

    def storing_run(progress, cancelled):
        monitor = jobs.pipeline.current_monitor()
        for name in ("new-1", "new-2"):
            monitor.checkpoint()
            engine.journal(engine._jobs[running], name)  # what will_store does for a new instance
            seen.append(name)
        gate.wait(5)
        return {}
    done = engine.submit("Done", lambda p, c: {"Kept": True})
    wait_for(lambda: engine.get(done)["State"] == "Success")
    running = engine.submit("Running", storing_run)
    wait_for(lambda: len(seen) == 2)
    queued = engine.submit("Queued", lambda p, c: {})
    # "Orthanc is killed": a new engine reads the same database
    restarted = jobs.JobEngine(workers=1)
    assert restarted.list(False) == [done, running, queued]
    assert restarted.get(done)["Content"] == {"Kept": True} and restarted.get(done)["State"] == "Success"
    job = restarted.get(running)
    assert job["State"] == "Failure" and "the 2 instance(s) it had stored were removed" in job["ErrorDetails"]
    assert db.deleted == ["new-1", "new-2"]
    assert "before this job started" in restarted.get(queued)["ErrorDetails"]
    with pytest.raises(jobs.ReshapeError):
        restarted.resubmit(running)  # no rebuilder: the job cannot be prepared again
    gate.set()  # let the first engine's thread end while the stand-in store is still in place
    wait_for(lambda: engine.get(running)["State"] == "Success")


def test_the_journal_spans_several_chunks_and_ignores_a_previous_job_of_the_slot(jobs, db) -> None:
    records = jobs.JobRecords()
    old = jobs.Job(id="old", type="T", priority=0, user_data=None, slot=3)
    for index in range(2 * jobs.JOURNAL_CHUNK + 5):
        records.append_journal(old, f"old-{index}")
    new = jobs.Job(id="new", type="T", priority=0, user_data=None, slot=3)
    for index in range(jobs.JOURNAL_CHUNK + 1):
        records.append_journal(new, f"new-{index}")
    assert records.load_journal(new) == [f"new-{index}" for index in range(jobs.JOURNAL_CHUNK + 1)]


def test_old_finished_jobs_are_forgotten_beyond_the_history_size(jobs, db) -> None:
    engine = jobs.JobEngine(history_size=2)
    ids = []
    for index in range(4):
        ids.append(engine.submit("T", lambda p, c: {}))
        wait_for(lambda: engine.get(ids[-1])["State"] == "Success")
    assert engine.list(False) == ids[2:]
    assert [entry[0] for entry in json.loads(db.properties[jobs.INDEX_PROPERTY])] == ids[2:]
    assert engine.get(ids[0]) is None


def test_the_monitor_journals_new_instances_before_they_are_stored(jobs, db) -> None:
    from orthanc_reshape.dicom.files import orthanc_instance_id
    engine = jobs.JobEngine()
    job = jobs.Job(id="j", type="T", priority=0, user_data=None, slot=0)
    monitor = jobs.JobMonitor(engine, job)
    fresh, existing = dicom_file("1.2.3.1"), dicom_file("1.2.3.2")
    db.existing.add(orthanc_instance_id(existing))
    monitor.will_store(orthanc_instance_id(fresh))
    monitor.will_store(orthanc_instance_id(existing))  # already in Orthanc: never rolled back
    monitor.will_store(None)  # a file whose ID cannot be predicted: journaled once stored (below)
    assert job.journal == [orthanc_instance_id(fresh)]
    monitor.stored(orthanc_instance_id(fresh), True)
    monitor.stored("unexpected-id", True)  # Orthanc chose another ID than predicted: journaled after the fact
    assert job.journal == [orthanc_instance_id(fresh), "unexpected-id"]


def test_perform_runs_synchronous_requests_at_once(jobs) -> None:
    options = types.SimpleNamespace(synchronous=True, priority=0, user_data=None)
    assert jobs.perform("T", lambda p, c: {"Now": 1}, options) == {"Now": 1}
    jobs.configure(1, 10)
    options = types.SimpleNamespace(synchronous=False, priority=0, user_data=None)
    answer = jobs.perform("T", lambda p, c: {"Later": 1}, options, "/reshape")
    assert answer["Path"] == f"/reshape/jobs/{answer['ID']}"
    wait_for(lambda: jobs.engine().get(answer["ID"])["State"] == "Success")


def test_jobs_configuration() -> None:
    from orthanc_reshape.config import ConfigurationError, parse_config
    default = parse_config({})
    assert (default.jobs_workers, default.jobs_history_size) == (1, 100)
    config = parse_config({"Reshape": {"JobsWorkers": 4, "JobsHistorySize": 10}})
    assert (config.jobs_workers, config.jobs_history_size) == (4, 10)
    for bad in ({"JobsWorkers": 0}, {"JobsWorkers": "2"}, {"JobsWorkers": True}, {"JobsHistorySize": 1001}):
        with pytest.raises(ConfigurationError):
            parse_config({"Reshape": bad})


def test_with_a_rebuilder_queued_jobs_run_after_a_restart_and_interrupted_ones_can_be_resubmitted(jobs, db) -> None:
    first = jobs.JobEngine(workers=1)
    release, started = threading.Event(), threading.Event()
    running = first.submit("Running", blocking_run(release, started), request={"Name": "running"})
    started.wait(5)
    queued = first.submit("Queued", lambda p, c: {}, request={"Name": "queued"})
    gone = first.submit("Gone", lambda p, c: {}, request={"Name": "gone"})
    untracked = first.submit("Untracked", lambda p, c: {})  # no request: cannot be prepared again

    def rebuild(request):
        if request["Name"] == "gone":
            raise jobs.ReshapeError("UnknownResource", "Unknown resource: x")
        return lambda p, c: {"Rebuilt": request["Name"]}
    restarted = jobs.JobEngine(workers=1)
    restarted.rebuilder = rebuild
    wait_for(lambda: restarted.get(queued)["State"] == "Success")
    assert restarted.get(queued)["Content"] == {"Rebuilt": "queued"}
    assert restarted.get(gone)["State"] == "Failure" and "not valid any more" in restarted.get(gone)["ErrorDetails"]
    assert restarted.get(gone)["ErrorCode"] == 17
    assert restarted.get(untracked)["State"] == "Failure"
    assert restarted.get(running)["State"] == "Failure"
    restarted.resubmit(running)
    wait_for(lambda: restarted.get(running)["State"] == "Success")
    assert restarted.get(running)["Content"] == {"Rebuilt": "running"}
    with pytest.raises(jobs.ReshapeError):
        restarted.resubmit(untracked)
    release.set()  # let the first engine's thread end while the stand-in store is still in place
    wait_for(lambda: first.get(running)["State"] == "Success")


def test_a_resubmitted_job_forgets_the_journal_of_its_earlier_run(jobs, db) -> None:
    """After a resubmit, a crash must not roll back what the earlier (already rolled-back or committed)
    run had journaled."""
    engine = jobs.JobEngine(workers=1)

    def failing_run(progress, cancelled):
        for index in range(jobs.JOURNAL_CHUNK + 2):  # two chunks
            engine.journal(engine._jobs[job_id], f"first-{index}")
        raise jobs.ReshapeError("InternalError", "boom")
    job_id = engine.submit("T", failing_run)
    wait_for(lambda: engine.get(job_id)["State"] == "Failure")
    engine._jobs[job_id].run = lambda progress, cancelled: {}
    engine.resubmit(job_id)
    wait_for(lambda: engine.get(job_id)["State"] == "Success")
    assert jobs.JobRecords().load_journal(engine._jobs[job_id]) == []


def test_a_job_that_failed_while_deleting_its_sources_cannot_be_resubmitted(jobs) -> None:
    engine = jobs.JobEngine(workers=1)

    def committing_run(progress, cancelled):
        jobs.pipeline.current_monitor().committing()
        raise jobs.ReshapeError("InternalError", "deletion failed")
    job_id = engine.submit("T", committing_run)
    wait_for(lambda: engine.get(job_id)["State"] == "Failure")
    with pytest.raises(jobs.ReshapeError, match="cannot be resubmitted"):
        engine.resubmit(job_id)
