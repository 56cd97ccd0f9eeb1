"""Asynchronous operations as jobs (issue 5): Orthanc's job shape, progress, cancel, pause/resume, priority,
built-in jobs passed through untouched, and restart safety (SIGKILL in the middle of a job)."""
from __future__ import annotations

import time
from collections.abc import Callable
from io import BytesIO

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orthanc_reshape.dicom.files import orthanc_instance_id
from orthanc_server import OrthancServer

BIG = 200  # instances of the study that jobs take a while to process
JOB_KEYS = {"ID", "Type", "State", "Progress", "Priority", "CreationTime", "EffectiveRuntime", "ErrorCode",
            "ErrorDescription", "ErrorDetails", "Content", "UserData"}


def make_instances(count: int, patient_id: str = "JOBS", series_count: int = 2) -> list[bytes]:
    """`count` tiny CT instances (8x8 pixels) of one study, spread over `series_count` series."""
    study = generate_uid()
    series = [generate_uid() for _ in range(series_count)]
    files = []
    for index in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Jobs^Test", patient_id, "19700101"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series[index % series_count]
        ds.StudyDescription, ds.Modality, ds.InstanceNumber = "Jobs", "CT", index + 1
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = bytes(range(128))
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files


def upload_study(server: OrthancServer, count: int, patient_id: str = "JOBS") -> str:
    answers = server.upload_many(make_instances(count, patient_id))
    return answers[0]["ParentStudy"]


def submit(server: OrthancServer, uri: str, body: dict) -> str:
    answer = server.post_json(uri, {**body, "Asynchronous": True})
    assert set(answer) == {"ID", "Path"} and answer["Path"] == f"/jobs/{answer['ID']}"
    return answer["ID"]


def wait_state(server: OrthancServer, job_id: str, states: tuple, timeout: float = 60.0,
               progress_above: int = -1) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = server.get_json(f"/jobs/{job_id}")
        if job["State"] in states and job["Progress"] > progress_above:
            return job
        if job["State"] in ("Success", "Failure") and job["State"] not in states:
            raise AssertionError(f"job ended {job['State']} while waiting for {states}: {job}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['State']} ({job['Progress']} %) after {timeout} s")
        time.sleep(0.02)


def without_ids(content: dict) -> dict:
    return {key: value for key, value in content.items() if key not in ("ID", "Path", "PatientID", "Resources")}


@pytest.fixture
def big_study(clean_orthanc: OrthancServer) -> str:
    return upload_study(clean_orthanc, BIG)


# --------------------------------------------------------------------------------------------------

def test_the_journal_predicts_orthanc_ids(clean_orthanc: OrthancServer) -> None:
    """Jobs journal the ID of an instance before storing it: the prediction must be Orthanc's ID."""
    files = make_instances(3, patient_id=" padded ")
    for data in files:
        assert orthanc_instance_id(data) == clean_orthanc.upload(data)["ID"]


def test_async_modify_ends_in_success_with_the_synchronous_content(clean_orthanc: OrthancServer) -> None:
    study = upload_study(clean_orthanc, 4)
    body = {"Replace": {"StudyDescription": "Changed"}, "Priority": 3, "UserData": {"ticket": [1, 2]}}
    synchronous = clean_orthanc.post_json(f"/studies/{study}/modify", body)
    job_id = submit(clean_orthanc, f"/studies/{study}/modify", body)
    job = clean_orthanc.wait_job(job_id)
    assert JOB_KEYS <= set(job) and job["ID"] == job_id
    assert (job["Type"], job["State"], job["Progress"], job["ErrorCode"]) == ("ResourceModification", "Success", 100, 0)
    assert job["Priority"] == 3 and job["UserData"] == {"ticket": [1, 2]}
    assert job["CompletionTime"] >= job["CreationTime"]
    content = job["Content"]
    assert set(content) == set(synchronous) and without_ids(content) == without_ids(synchronous)
    assert content["PatientID"] == synchronous["PatientID"]  # same patient, new study
    new_study = clean_orthanc.get_json(content["Path"])
    assert new_study["MainDicomTags"]["StudyDescription"] == "Changed" and len(new_study["Series"]) == 2
    assert len(clean_orthanc.instances()) == 12  # source + synchronous copy + asynchronous copy


def test_async_bulk_anonymize_ends_in_success(clean_orthanc: OrthancServer) -> None:
    study = upload_study(clean_orthanc, 3)
    job = clean_orthanc.wait_job(submit(clean_orthanc, "/tools/bulk-anonymize", {"Resources": [study]}))
    assert job["State"] == "Success", job
    content = job["Content"]
    assert content["IsAnonymization"] is True and content["InstancesCount"] == 3
    assert [r["Type"] for r in content["Resources"]].count("Instance") == 3
    assert job["UserData"] is None


def test_errors_found_before_the_dicom_work_are_answered_directly(clean_orthanc: OrthancServer) -> None:
    study = upload_study(clean_orthanc, 1)
    assert clean_orthanc.post("/studies/0000/modify", {"Asynchronous": True, "Replace": {}}).status == 404
    assert clean_orthanc.post(f"/studies/{study}/modify", {"Asynchronous": "yes"}).status == 400
    assert clean_orthanc.post(f"/studies/{study}/modify", {"Asynchronous": True, "Priority": 1.5}).status == 400
    assert clean_orthanc.post(f"/studies/{study}/modify",
                              {"Asynchronous": True, "Replace": {"NoSuchTag": "x"}}).status in (400, 500)
    # "Synchronous" wins over "Asynchronous"
    answer = clean_orthanc.post_json(f"/studies/{study}/modify", {"Synchronous": True, "Asynchronous": True,
                                                                  "Replace": {"StudyDescription": "S"}})
    assert answer["Type"] == "Study"


def test_progress_increases_while_the_job_runs(clean_orthanc: OrthancServer, big_study: str) -> None:
    job_id = submit(clean_orthanc, f"/studies/{big_study}/anonymize", {})
    seen = []
    while True:
        job = clean_orthanc.get_json(f"/jobs/{job_id}")
        seen.append(job["Progress"])
        if job["State"] in ("Success", "Failure"):
            break
        time.sleep(0.02)
    assert job["State"] == "Success", job
    assert seen == sorted(seen) and seen[-1] == 100
    assert any(0 < value < 100 for value in seen), seen
    assert job["Content"]["InstancesCount"] == BIG


def test_cancel_rolls_back_what_the_job_stored(clean_orthanc: OrthancServer, big_study: str) -> None:
    before = sorted(clean_orthanc.instances())
    job_id = submit(clean_orthanc, f"/studies/{big_study}/anonymize", {})
    wait_state(clean_orthanc, job_id, ("Running",), progress_above=5)
    assert clean_orthanc.post_json(f"/jobs/{job_id}/cancel") == {}
    job = clean_orthanc.wait_job(job_id)
    assert job["State"] == "Failure" and job["ErrorCode"] == 37, job
    assert "cancel" in job["ErrorDetails"].lower()
    assert sorted(clean_orthanc.instances()) == before
    assert clean_orthanc.get_json(f"/studies/{big_study}")["MainDicomTags"]["StudyDescription"] == "Jobs"
    # a cancelled job can be resubmitted, and then succeeds
    assert clean_orthanc.post_json(f"/jobs/{job_id}/resubmit") == {}
    job = clean_orthanc.wait_job(job_id)
    assert job["State"] == "Success" and job["Content"]["InstancesCount"] == BIG
    assert len(clean_orthanc.instances()) == 2 * BIG


def test_pause_and_resume(clean_orthanc: OrthancServer, big_study: str) -> None:
    job_id = submit(clean_orthanc, f"/studies/{big_study}/modify", {"Replace": {"StudyDescription": "P"}})
    wait_state(clean_orthanc, job_id, ("Running",), progress_above=2)
    assert clean_orthanc.post_json(f"/jobs/{job_id}/pause") == {}
    paused = wait_state(clean_orthanc, job_id, ("Paused",))
    time.sleep(0.3)
    again = clean_orthanc.get_json(f"/jobs/{job_id}")
    assert again["State"] == "Paused" and again["Progress"] == paused["Progress"] < 100
    count = len(clean_orthanc.instances())
    time.sleep(0.2)
    assert len(clean_orthanc.instances()) == count  # nothing happens while paused
    assert clean_orthanc.post(f"/jobs/{job_id}/resubmit").status == 400  # only failed jobs
    assert clean_orthanc.post_json(f"/jobs/{job_id}/resume") == {}
    job = clean_orthanc.wait_job(job_id)
    assert job["State"] == "Success" and job["Content"]["InstancesCount"] == BIG
    assert clean_orthanc.post(f"/jobs/{job_id}/resume").status == 400  # not paused any more


def test_a_paused_pending_job_can_be_cancelled_and_priority_orders_the_queue(clean_orthanc: OrthancServer,
                                                                             big_study: str) -> None:
    small = upload_study(clean_orthanc, 2, patient_id="SMALL")
    blocker = submit(clean_orthanc, f"/studies/{big_study}/anonymize", {})  # one worker: the others wait
    wait_state(clean_orthanc, blocker, ("Running",))
    low = submit(clean_orthanc, f"/studies/{small}/anonymize", {"Priority": 10})
    high = submit(clean_orthanc, f"/studies/{small}/anonymize", {"Priority": -10})
    doomed = submit(clean_orthanc, f"/studies/{small}/anonymize", {"Priority": -20})
    assert clean_orthanc.get_json(f"/jobs/{low}")["State"] == "Pending"
    assert clean_orthanc.post_json(f"/jobs/{doomed}/pause") == {}
    assert clean_orthanc.get_json(f"/jobs/{doomed}")["State"] == "Paused"
    assert clean_orthanc.post_json(f"/jobs/{doomed}/cancel") == {}
    assert clean_orthanc.get_json(f"/jobs/{doomed}")["State"] == "Failure"
    jobs = {job_id: clean_orthanc.wait_job(job_id) for job_id in (blocker, low, high)}
    assert all(job["State"] == "Success" for job in jobs.values())
    assert jobs[high]["CompletionTime"] < jobs[low]["CompletionTime"]


def test_builtin_jobs_are_listed_and_passed_through(clean_orthanc: OrthancServer) -> None:
    study = upload_study(clean_orthanc, 2)
    archive = clean_orthanc.post_json(f"/studies/{study}/archive", {"Asynchronous": True})["ID"]
    ours = submit(clean_orthanc, f"/studies/{study}/modify", {"Replace": {"StudyDescription": "B"}})
    clean_orthanc.wait_job(ours)
    builtin = clean_orthanc.wait_job(archive)
    assert builtin["Type"] == "Archive" and builtin["State"] == "Success"
    listed = clean_orthanc.get_json("/jobs")
    assert archive in listed and ours in listed
    expanded = {job["ID"]: job for job in clean_orthanc.get_json("/jobs?expand")}
    assert expanded[archive]["Type"] == "Archive" and expanded[ours]["Type"] == "ResourceModification"
    archive_file = clean_orthanc.get(f"/jobs/{archive}/archive")
    assert archive_file.status == 200 and archive_file.body[:2] == b"PK"
    assert clean_orthanc.post_json(f"/jobs/{archive}/pause") == {}  # a finished job: nothing to do
    assert clean_orthanc.post(f"/jobs/{archive}/resume").status == 400
    assert clean_orthanc.get_json(f"/jobs/{archive}")["State"] == "Success"
    assert clean_orthanc.get(f"/jobs/{ours}/cancel").status == 405
    assert clean_orthanc.delete(f"/jobs/{ours}").status == 405
    assert clean_orthanc.post("/jobs").status == 405
    unknown = "00000000-0000-0000-0000-000000000000"
    assert clean_orthanc.get(f"/jobs/{unknown}").status == 404
    assert clean_orthanc.post(f"/jobs/{unknown}/cancel").status == 400


def test_a_job_interrupted_by_a_crash_is_rolled_back_at_the_next_start(
        make_orthanc: Callable[..., OrthancServer]) -> None:
    server = make_orthanc()
    study = upload_study(server, BIG)
    sources = sorted(server.instances())
    finished = submit(server, f"/studies/{study}/modify", {"Replace": {"StudyDescription": "Kept"}})
    kept = server.wait_job(finished)
    job_id = submit(server, f"/studies/{study}/anonymize", {"UserData": "crash"})
    wait_state(server, job_id, ("Running",), progress_above=20)
    queued = submit(server, f"/studies/{study}/modify", {"Replace": {"StudyDescription": "Queued"}})
    stored_before_the_crash = len(server.instances()) - 2 * BIG
    server.kill()
    assert stored_before_the_crash > 0
    server.start()
    job = server.get_json(f"/jobs/{job_id}")
    assert job["State"] == "Failure" and job["ErrorCode"] != 0, job
    assert "Orthanc stopped while this job was running" in job["ErrorDetails"]
    assert job["UserData"] == "crash"
    assert job_id in server.get_json("/jobs")
    after = server.get_json(f"/jobs/{finished}")
    assert {**after, "Timestamp": None} == {**kept, "Timestamp": None}
    # the job that was waiting runs after the restart, as Orthanc's own jobs do
    assert server.wait_job(queued)["State"] == "Success"
    # the anonymized instances are gone; the sources and the other jobs' outputs are there
    remaining = sorted(server.instances())
    assert len(remaining) == 3 * BIG and set(sources) <= set(remaining)
    assert all(server.get_json(f"/patients/{p}")["MainDicomTags"]["PatientID"] == "JOBS" for p in server.patients())
    # the interrupted job can be resubmitted: its request is in its record
    assert server.post_json(f"/jobs/{job_id}/resubmit") == {}
    job = server.wait_job(job_id)
    assert job["State"] == "Success" and job["Content"]["InstancesCount"] == BIG
    assert len(server.instances()) == 4 * BIG


def test_a_clean_stop_leaves_either_a_finished_job_or_a_rolled_back_one(
        make_orthanc: Callable[..., OrthancServer]) -> None:
    server = make_orthanc()
    count = 400
    study = upload_study(server, count)
    job_id = submit(server, f"/studies/{study}/anonymize", {})
    wait_state(server, job_id, ("Running",), progress_above=5)
    server.stop()  # SIGTERM: the running job is interrupted and rolls back, or finishes first
    server.start()
    job = server.get_json(f"/jobs/{job_id}")
    if job["State"] == "Success":
        assert len(server.instances()) == 2 * count
    else:
        assert job["State"] == "Failure" and "Orthanc stopped while this job was running" in job["ErrorDetails"], job
        assert len(server.instances()) == count
    assert server.get_json(f"/studies/{study}")["MainDicomTags"]["StudyDescription"] == "Jobs"


def test_mounted_jobs_live_under_the_mount_point(clean_mounted: OrthancServer) -> None:
    study = upload_study(clean_mounted, 2)
    answer = clean_mounted.post_json(f"/reshape/studies/{study}/modify",
                                     {"Asynchronous": True, "Replace": {"StudyDescription": "M"}})
    assert answer["Path"] == f"/reshape/jobs/{answer['ID']}"
    deadline = time.monotonic() + 30
    while (job := clean_mounted.get_json(answer["Path"]))["State"] not in ("Success", "Failure"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert job["State"] == "Success"
    assert clean_mounted.get(f"/jobs/{answer['ID']}").status == 404  # Orthanc's own routes do not know it
    assert answer["ID"] in clean_mounted.get_json("/reshape/jobs")
    archive = clean_mounted.post_json(f"/studies/{study}/archive", {"Asynchronous": True})["ID"]
    assert clean_mounted.get_json(f"/reshape/jobs/{archive}")["Type"] == "Archive"
