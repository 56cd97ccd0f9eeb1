"""Keyed pseudonyms and date shifting on a real Orthanc (docs/deidentification.md): the same patient in
two requests lands in one pseudonymous patient, re-anonymizing is idempotent (also after a restart), a
CT and its RT-STRUCT anonymized separately still reference each other, the mapping lives in Orthanc's
database and is exported only when enabled."""
from __future__ import annotations

import csv
import datetime
import io

import pydicom
import pytest

from dicom_compare import read
from dicom_files import make_ct_series, make_rtstruct_for, make_study, to_bytes
from orthanc_server import OrthancServer

KEY = "integration-test-key-0123456789"
CONFIG = {"Reshape": {"Mount": "/reshape", "Pseudonymization": {
    "Projects": {"default": {"Key": KEY}, "trial": {"Key": KEY + "-trial"}}, "ExportMapping": True}}}
MOUNT = "/reshape"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-keyed"), CONFIG, name="reshape-keyed")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def clean_keyed(keyed: OrthancServer) -> OrthancServer:
    if not keyed.running:
        keyed.start()
    keyed.delete_all()
    return keyed


def _upload(server: OrthancServer, datasets) -> str:
    """Upload; returns the Orthanc ID of the (single) study."""
    answers = server.upload_many([to_bytes(ds) for ds in datasets])
    return answers[0]["ParentStudy"]


def _instances(server: OrthancServer, level: str, resource_id: str) -> list[pydicom.Dataset]:
    return [read(server.instance_file(i["ID"])) for i in server.get_json(f"/{level}/{resource_id}/instances")]


def _anonymize(server: OrthancServer, study: str, body: dict) -> dict:
    return server.post_json(f"{MOUNT}/studies/{study}/anonymize", body)


def test_two_studies_of_one_patient_land_in_one_pseudonymous_patient(clean_keyed: OrthancServer) -> None:
    first = _upload(clean_keyed, make_study(series_count=1, instances_per_series=2, seed=1))
    second = _upload(clean_keyed, make_study(series_count=1, instances_per_series=2, seed=2,
                                             patient_name="DOE^JANE"))  # another spelling, same PatientID
    a = _anonymize(clean_keyed, first, {"Pseudonymize": True})
    b = _anonymize(clean_keyed, second, {"Pseudonymize": True})
    assert a["PatientID"] == b["PatientID"] and a["ID"] != b["ID"]
    patient = clean_keyed.get_json(f"/patients/{a['PatientID']}")
    assert sorted(patient["Studies"]) == sorted([a["ID"], b["ID"]])
    assert patient["MainDicomTags"]["PatientName"].startswith("PSEUDO")
    assert patient["MainDicomTags"]["PatientID"] != "RESHAPE-0001"


def test_reanonymizing_a_study_is_idempotent_even_after_a_restart(clean_keyed: OrthancServer) -> None:
    study = _upload(clean_keyed, make_study(series_count=2, instances_per_series=2))
    first = _anonymize(clean_keyed, study, {"Pseudonymize": True})
    count = clean_keyed.statistics()["CountInstances"]
    second = _anonymize(clean_keyed, study, {"Pseudonymize": True})
    assert (second["ID"], second["PatientID"]) == (first["ID"], first["PatientID"])
    assert clean_keyed.statistics()["CountInstances"] == count
    clean_keyed.restart()
    third = _anonymize(clean_keyed, study, {"Pseudonymize": True})
    assert (third["ID"], third["PatientID"]) == (first["ID"], first["PatientID"])
    assert clean_keyed.statistics()["CountInstances"] == count
    other = _anonymize(clean_keyed, study, {"Pseudonymize": {"Project": "trial"}})
    assert other["ID"] != first["ID"] and other["PatientID"] != first["PatientID"]


def test_ct_and_rtstruct_anonymized_in_two_requests_still_reference_each_other(clean_keyed: OrthancServer) -> None:
    images = make_ct_series(3)
    structure = make_rtstruct_for(images)
    study = _upload(clean_keyed, images)
    rt_series = clean_keyed.upload(to_bytes(structure))["ParentSeries"]
    ct_series = [s for s in clean_keyed.get_json(f"/studies/{study}")["Series"] if s != rt_series][0]
    ct_answer = clean_keyed.post_json(f"{MOUNT}/series/{ct_series}/anonymize", {"Pseudonymize": True})
    rt_answer = clean_keyed.post_json(f"{MOUNT}/series/{rt_series}/anonymize", {"Pseudonymize": True})
    cts = _instances(clean_keyed, "series", ct_answer["ID"])
    (rt,) = _instances(clean_keyed, "series", rt_answer["ID"])
    assert clean_keyed.get_json(f"/series/{ct_answer['ID']}")["ParentStudy"] == \
        clean_keyed.get_json(f"/series/{rt_answer['ID']}")["ParentStudy"]
    frame = rt.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == cts[0].FrameOfReferenceUID
    referenced = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == cts[0].SeriesInstanceUID
    assert sorted(i.ReferencedSOPInstanceUID for i in referenced.ContourImageSequence) == \
        sorted(c.SOPInstanceUID for c in cts)


def test_the_mapping_is_in_orthancs_database_and_exported(clean_keyed: OrthancServer) -> None:
    images = make_ct_series(2)
    study = _upload(clean_keyed, images)
    answer = _anonymize(clean_keyed, study, {"Pseudonymize": True, "ShiftDates": True})
    new_patient = clean_keyed.get_json(f"/patients/{answer['PatientID']}")["MainDicomTags"]["PatientID"]
    response = clean_keyed.get(f"{MOUNT}/pseudonyms/default/patients.csv")
    assert response.ok and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert [(r["id_old"], r["id_new"]) for r in rows] == [("RESHAPE-0001", new_patient)]
    assert 1 <= abs(int(rows[0]["date_offset_days"])) <= 365
    uids = {r["id_old"]: r["id_new"] for r in clean_keyed.get_json(f"{MOUNT}/pseudonyms/default/uids.json")}
    new_study = clean_keyed.get_json(f"/studies/{answer['ID']}")["MainDicomTags"]["StudyInstanceUID"]
    assert uids[images[0].StudyInstanceUID] == new_study
    assert images[0].FrameOfReferenceUID in uids and images[1].SOPInstanceUID in uids
    assert clean_keyed.get_json(f"{MOUNT}/pseudonyms/trial/patients.json") == []
    assert clean_keyed.get(f"{MOUNT}/pseudonyms/unknown/patients.json").status == 404


def test_shifted_dates_keep_their_intervals(clean_keyed: OrthancServer) -> None:
    first = make_ct_series(1, seed=1, study_date="20240102")
    second = make_ct_series(1, seed=2, study_date="20240301")
    studies = [_upload(clean_keyed, first), _upload(clean_keyed, second)]
    answers = [_anonymize(clean_keyed, s, {"Pseudonymize": True, "ShiftDates": {"MaxDays": 50}}) for s in studies]
    dates = [clean_keyed.get_json(f"/studies/{a['ID']}")["MainDicomTags"]["StudyDate"] for a in answers]

    def day(text: str) -> datetime.date:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    assert day(dates[1]) - day(dates[0]) == day("20240301") - day("20240102")
    assert dates[0] != "20240102" and abs((day(dates[0]) - day("20240102")).days) <= 50


def test_the_instance_route_gives_the_same_file_twice(clean_keyed: OrthancServer) -> None:
    instance = clean_keyed.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    files = [clean_keyed.post(f"{MOUNT}/instances/{instance}/anonymize", {"Pseudonymize": True}).body
             for _ in range(2)]
    a, b = read(files[0]), read(files[1])
    assert a.SOPInstanceUID == b.SOPInstanceUID and a.PatientID == b.PatientID and a.PatientName == b.PatientName


def test_without_a_key_pseudonymize_is_a_400_and_export_a_403(clean_orthanc: OrthancServer) -> None:
    instance = clean_orthanc.upload(to_bytes(make_ct_series(1)[0]))
    response = clean_orthanc.post(f"/studies/{instance['ParentStudy']}/anonymize", {"Pseudonymize": True})
    assert response.status == 400
    assert "Pseudonymization" in response.json()["Details"] and response.json()["Field"] == "Pseudonymize"
    assert clean_orthanc.statistics()["CountStudies"] == 1
    assert clean_orthanc.get("/reshape/pseudonyms/default/patients.csv").status == 403


def test_bulk_anonymize_gives_each_patient_its_own_pseudonym(clean_keyed: OrthancServer) -> None:
    jane = _upload(clean_keyed, make_ct_series(1, seed=1))
    john = _upload(clean_keyed, make_ct_series(1, seed=2, patient_id="RESHAPE-0002", patient_name="Roe^John"))
    answer = clean_keyed.post_json(f"{MOUNT}/tools/bulk-anonymize", {"Resources": [jane, john], "Pseudonymize": True})
    patients = [r["ID"] for r in answer["Resources"] if r["Type"] == "Patient"]
    assert len(patients) == 2
    names = {clean_keyed.get_json(f"/patients/{p}")["MainDicomTags"]["PatientName"] for p in patients}
    assert len(names) == 2 and all(name.startswith("PSEUDO") for name in names)
    single = _anonymize(clean_keyed, john, {"Pseudonymize": True})
    assert single["PatientID"] in patients
