"""Resource-level and bulk modify/anonymize on a real Orthanc: parity with the built-in routes
(differential, on the server mounted under /reshape), consistent UID maps, all-or-nothing."""
from __future__ import annotations

import pydicom
import pytest

from dicom_compare import differences, read
from dicom_files import make_ct_series, make_rtstruct_for, make_sr_with_evidence, make_study, to_bytes
from orthanc_server import OrthancServer

MOUNT = "/reshape"


def _dataset(server: OrthancServer, instance_id: str) -> pydicom.Dataset:
    return read(server.instance_file(instance_id))


def _instances_of(server: OrthancServer, level: str, resource_id: str) -> list[pydicom.Dataset]:
    ids = [i["ID"] for i in server.get_json(f"/{level}/{resource_id}/instances")]
    return sorted((_dataset(server, i) for i in ids), key=lambda d: (int(d.get("SeriesNumber", 0) or 0),
                                                                     int(d.get("InstanceNumber", 0) or 0)))


def _upload(server: OrthancServer, datasets) -> list[dict]:
    return server.upload_many([to_bytes(ds) for ds in datasets])


def _compare_with_builtin(server: OrthancServer, route: str, body: dict, level: str, ignore_keys=()) -> tuple:
    """Run the built-in route and ours on the same resource; assert the same answer shape and the same
    DICOM structure; return (builtin answer, our answer)."""
    theirs = server.post_json(route, body)
    ours = server.post_json(MOUNT + route, body)
    # ParentResources exists in the built-in answers from Orthanc 1.11.3 on; ours has it on every version.
    assert set(theirs) - {"ParentResources"} - set(ignore_keys) == set(ours) - {"ParentResources"} - set(ignore_keys)
    for key in ("Type", "InstancesCount", "FailedInstancesCount", "IsAnonymization", "Description"):
        if key in theirs:
            assert ours[key] == theirs[key], key
    their_instances = _instances_of(server, level, theirs["ID"])
    our_instances = _instances_of(server, level, ours["ID"])
    assert len(our_instances) == len(their_instances)
    for a, b in zip(our_instances, their_instances):
        assert not differences(a, b)
    return theirs, ours


# -- parity -----------------------------------------------------------------------------------------

def test_study_modify_matches_builtin(clean_mounted: OrthancServer) -> None:
    study = _upload(clean_mounted, make_study(series_count=2, instances_per_series=3))[0]["ParentStudy"]
    body = {"Replace": {"StudyDescription": "Changed", "InstitutionName": "Elsewhere"},
            "Remove": ["StationName"]}
    theirs, ours = _compare_with_builtin(clean_mounted, f"/studies/{study}/modify", body, "studies")
    assert ours["ParentResources"] == [study]
    new = _instances_of(clean_mounted, "studies", ours["ID"])
    assert {d.StudyDescription for d in new} == {"Changed"}
    assert all("StationName" not in d for d in new)
    assert len({d.StudyInstanceUID for d in new}) == 1 and len({d.SeriesInstanceUID for d in new}) == 2


@pytest.mark.parametrize("version", ["2008", "2017c", "2021b"])
def test_study_anonymize_matches_builtin(clean_mounted: OrthancServer, version: str) -> None:
    study = _upload(clean_mounted, make_study(series_count=2, instances_per_series=2))[0]["ParentStudy"]
    _compare_with_builtin(clean_mounted, f"/studies/{study}/anonymize", {"DicomVersion": version}, "studies")


def test_series_modify_matches_builtin(clean_mounted: OrthancServer) -> None:
    series = _upload(clean_mounted, make_ct_series(3))[0]["ParentSeries"]
    theirs, ours = _compare_with_builtin(clean_mounted, f"/series/{series}/modify",
                                         {"Replace": {"SeriesDescription": "S"}}, "series")
    assert clean_mounted.get_json(f"/series/{ours['ID']}")["ParentStudy"] == \
        clean_mounted.get_json(f"/series/{series}")["ParentStudy"]


def test_patient_with_two_studies_anonymizes_into_one_new_patient(clean_mounted: OrthancServer) -> None:
    first = _upload(clean_mounted, make_study(series_count=1, instances_per_series=2, seed=1))
    _upload(clean_mounted, make_study(series_count=1, instances_per_series=2, seed=2))
    patient = first[0]["ParentPatient"]
    assert len(clean_mounted.get_json(f"/patients/{patient}")["Studies"]) == 2
    theirs, ours = _compare_with_builtin(clean_mounted, f"/patients/{patient}/anonymize", {}, "patients")
    assert ours["Type"] == "Patient" and ours["ID"] == ours["PatientID"]
    new_patient = clean_mounted.get_json(f"/patients/{ours['ID']}")
    assert len(new_patient["Studies"]) == 2
    assert new_patient["MainDicomTags"]["PatientName"].startswith("Anonymized")


def test_bulk_anonymize_of_unrelated_patients(clean_mounted: OrthancServer) -> None:
    a = _upload(clean_mounted, make_ct_series(2, patient_id="A", seed=3))[0]
    b = _upload(clean_mounted, make_ct_series(2, patient_id="B", seed=4))[0]
    body = {"Resources": [a["ParentPatient"], b["ParentStudy"]]}
    theirs = clean_mounted.post_json("/tools/bulk-anonymize", body)
    ours = clean_mounted.post_json(MOUNT + "/tools/bulk-anonymize", body)
    assert [r["Type"] for r in ours["Resources"]] == [r["Type"] for r in theirs["Resources"]]
    assert [r["Type"] for r in ours["Resources"]] == ["Instance"] * 4 + ["Series"] * 2 + ["Study"] * 2 + ["Patient"] * 2
    for group in ("Instance", "Series", "Study", "Patient"):
        ids = [r["ID"] for r in ours["Resources"] if r["Type"] == group]
        assert ids == sorted(ids)
    patients = [clean_mounted.get_json(r["Path"]) for r in ours["Resources"] if r["Type"] == "Patient"]
    names = {p["MainDicomTags"]["PatientName"] for p in patients}
    assert len(names) == 1  # one Anonymized<N> per request, as Orthanc
    assert len({p["MainDicomTags"]["PatientID"] for p in patients}) == 2
    assert ours["ParentResources"] == sorted(body["Resources"])


def test_bulk_modify_without_level_keeps_instances_in_their_series(clean_mounted: OrthancServer) -> None:
    uploaded = _upload(clean_mounted, make_ct_series(2, seed=5))
    body = {"Resources": [uploaded[0]["ID"]], "Replace": {"ImageComments": "x"}}
    theirs = clean_mounted.post_json("/tools/bulk-modify", body)
    ours = clean_mounted.post_json(MOUNT + "/tools/bulk-modify", body)
    series = [r["ID"] for r in ours["Resources"] if r["Type"] == "Series"]
    assert series == [uploaded[0]["ParentSeries"]]
    assert [r["Type"] for r in ours["Resources"]] == [r["Type"] for r in theirs["Resources"]]


def test_bulk_modify_with_level(clean_mounted: OrthancServer) -> None:
    uploaded = _upload(clean_mounted, make_ct_series(2, seed=6))
    body = {"Resources": [uploaded[0]["ParentSeries"]], "Level": "Series", "Replace": {"SeriesDescription": "L"}}
    ours = clean_mounted.post_json(MOUNT + "/tools/bulk-modify", body)
    series = [r["ID"] for r in ours["Resources"] if r["Type"] == "Series"]
    assert len(series) == 1 and series[0] != uploaded[0]["ParentSeries"]
    study = [r["ID"] for r in ours["Resources"] if r["Type"] == "Study"]
    assert study == [uploaded[0]["ParentStudy"]]


def test_empty_bulk_is_a_successful_no_op(clean_mounted: OrthancServer) -> None:
    ours = clean_mounted.post_json(MOUNT + "/tools/bulk-anonymize", {"Resources": []})
    assert ours["Resources"] == [] and ours["InstancesCount"] == 0


# -- one UID map per request: references stay linked ------------------------------------------------

def test_ct_rtstruct_and_sr_stay_linked_after_study_anonymization(clean_orthanc: OrthancServer) -> None:
    ct = make_ct_series(3, seed=7)
    _upload(clean_orthanc, ct + [make_rtstruct_for(ct, seed=7), make_sr_with_evidence(ct, seed=7)])
    study = clean_orthanc.studies()[0]
    answer = clean_orthanc.post_json(f"/studies/{study}/anonymize", {})
    new = _instances_of(clean_orthanc, "studies", answer["ID"])
    images = [d for d in new if d.Modality == "CT"]
    rtstruct = next(d for d in new if d.Modality == "RTSTRUCT")
    sr = next(d for d in new if d.Modality == "SR")
    new_sops = {d.SOPInstanceUID for d in images}
    assert not new_sops & {d.SOPInstanceUID for d in ct}
    frame = rtstruct.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == images[0].FrameOfReferenceUID
    rt_study = frame.RTReferencedStudySequence[0]
    assert rt_study.ReferencedSOPInstanceUID == images[0].StudyInstanceUID  # the RT-STRUCT special case
    contour_refs = {i.ReferencedSOPInstanceUID for i in rt_study.RTReferencedSeriesSequence[0].ContourImageSequence}
    assert contour_refs == new_sops
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == images[0].StudyInstanceUID
    refs = {i.ReferencedSOPInstanceUID for s in evidence.ReferencedSeriesSequence for i in s.ReferencedSOPSequence}
    assert refs == new_sops


# -- all-or-nothing ---------------------------------------------------------------------------------

def _study_with_one_bad_instance(server: OrthancServer, count: int = 50, bad: int = 25) -> tuple[str, list[str]]:
    """A study where Replace "0009,1002": "abc" fails on one instance only: that one keeps its private
    (0009,1002) element of VR US, the others lack it (the value is then inserted as UN)."""
    images = make_ct_series(count, seed=11)
    for index, ds in enumerate(images):
        if index != bad:
            del ds[0x00091002]
    uploaded = _upload(server, images)
    return uploaded[0]["ParentStudy"], sorted(u["ID"] for u in uploaded)


def _snapshot(server: OrthancServer) -> tuple:
    return sorted(server.instances()), sorted(server.series()), sorted(server.studies()), sorted(server.patients())


def test_failure_in_the_middle_leaves_the_store_exactly_as_before(clean_orthanc: OrthancServer) -> None:
    study, _ = _study_with_one_bad_instance(clean_orthanc)
    before = _snapshot(clean_orthanc)
    response = clean_orthanc.post(f"/studies/{study}/modify", {"Replace": {"0009,1002": "abc"},
                                                                "KeepSource": False})
    assert response.status == 400
    error = response.json()
    assert error["Field"] == "Replace.0009,1002"
    assert "Instance " in error["Details"] and "removed" in error["Details"]
    assert _snapshot(clean_orthanc) == before


def test_permissive_reports_failures_and_never_deletes_their_sources(clean_orthanc: OrthancServer) -> None:
    study, sources = _study_with_one_bad_instance(clean_orthanc, count=6, bad=3)
    answer = clean_orthanc.post_json(f"/studies/{study}/modify", {"Replace": {"0009,1002": "abc"},
                                                                   "KeepSource": False, "Permissive": True})
    assert answer["FailedInstancesCount"] == 1 and answer["InstancesCount"] == 6
    failed = answer["FailedInstances"][0]["ID"]
    assert failed in sources
    remaining = set(clean_orthanc.instances())
    assert failed in remaining  # the failed instance's source survives
    assert not (set(sources) - {failed}) & remaining  # the others' sources were deleted
    assert len(clean_orthanc.get_json(f"/studies/{answer['ID']}/instances")) == 5


def test_keep_source_false_deletes_sources_only_after_storing(clean_orthanc: OrthancServer) -> None:
    uploaded = _upload(clean_orthanc, make_ct_series(3, seed=12))
    answer = clean_orthanc.post_json(f"/series/{uploaded[0]['ParentSeries']}/anonymize", {"KeepSource": False})
    remaining = set(clean_orthanc.instances())
    assert not {u["ID"] for u in uploaded} & remaining
    assert len(remaining) == 3
    assert answer["Type"] == "Series"


def test_in_place_modification_needs_keep_source_and_overwrite(clean_orthanc: OrthancServer) -> None:
    study = _upload(clean_orthanc, make_ct_series(1, seed=13))[0]["ParentStudy"]
    keep_all = {"Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"], "Force": True,
                "Replace": {"StudyDescription": "in place"}}
    refused = clean_orthanc.post(f"/studies/{study}/modify", dict(keep_all, KeepSource=False))
    assert refused.status == 400 and refused.json()["Field"] == "KeepSource"
    refused = clean_orthanc.post(f"/studies/{study}/modify", keep_all)
    assert refused.status == 400 and "OverwriteInstances" in refused.json()["Details"]


def test_in_place_modification_with_overwrite(make_orthanc) -> None:
    server = make_orthanc({"OverwriteInstances": True})
    uploaded = _upload(server, make_ct_series(2, seed=14))
    study = uploaded[0]["ParentStudy"]
    answer = server.post_json(f"/studies/{study}/modify", {
        "Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"], "Force": True,
        "Replace": {"StudyDescription": "in place"}})
    assert answer["ID"] == study
    assert sorted(server.instances()) == sorted(u["ID"] for u in uploaded)  # never deleted
    assert server.get_json(f"/studies/{study}")["MainDicomTags"]["StudyDescription"] == "in place"


# -- provenance, labels, sanity checks ----------------------------------------------------------------

def test_provenance_metadata(clean_orthanc: OrthancServer) -> None:
    uploaded = _upload(clean_orthanc, make_ct_series(1, seed=15))[0]
    answer = clean_orthanc.post_json(f"/studies/{uploaded['ParentStudy']}/modify",
                                     {"Replace": {"StudyDescription": "p"}})
    new_instance = clean_orthanc.get_json(f"/studies/{answer['ID']}/instances")[0]["ID"]
    assert clean_orthanc.get(f"/instances/{new_instance}/metadata/4301").body.decode() == uploaded["ID"]
    assert clean_orthanc.get(f"/studies/{answer['ID']}/metadata/4301").body.decode() == uploaded["ParentStudy"]
    assert clean_orthanc.get(f"/patients/{answer['PatientID']}/metadata/4301").status == 404  # patient unchanged
    anonymized = clean_orthanc.post_json(f"/studies/{uploaded['ParentStudy']}/anonymize", {})
    assert clean_orthanc.get(f"/patients/{anonymized['PatientID']}/metadata/4302").body.decode() == \
        uploaded["ParentPatient"]


def _has_labels(server: OrthancServer) -> bool:
    version = server.get_json("/system")["Version"]
    return version == "mainline" or tuple(int(p) for p in version.split(".")[:2]) >= (1, 12)


def test_keep_labels(clean_orthanc: OrthancServer) -> None:
    uploaded = _upload(clean_orthanc, make_ct_series(1, seed=16))[0]
    if not _has_labels(clean_orthanc):
        refused = clean_orthanc.post(f"/studies/{uploaded['ParentStudy']}/modify", {"KeepLabels": True})
        assert refused.status == 400 and refused.json()["Field"] == "KeepLabels"
        pytest.skip(f"Orthanc {clean_orthanc.get_json('/system')['Version']} has no labels (needs 1.12.0); "
                    "checked that KeepLabels is refused with 400")
    clean_orthanc.put(f"/studies/{uploaded['ParentStudy']}/labels/reviewed")
    clean_orthanc.put(f"/instances/{uploaded['ID']}/labels/key")
    answer = clean_orthanc.post_json(f"/studies/{uploaded['ParentStudy']}/modify",
                                     {"KeepLabels": True, "Replace": {"StudyDescription": "l"}})
    assert clean_orthanc.get_json(f"/studies/{answer['ID']}/labels") == ["reviewed"]
    new_instance = clean_orthanc.get_json(f"/studies/{answer['ID']}/instances")[0]["ID"]
    assert clean_orthanc.get_json(f"/instances/{new_instance}/labels") == ["key"]


def test_study_level_patient_tags_must_agree_with_an_existing_patient(clean_orthanc: OrthancServer) -> None:
    first = _upload(clean_orthanc, make_ct_series(1, seed=17, patient_id="P1", study_uid="1.2.3.1"))[0]
    _upload(clean_orthanc, make_ct_series(1, seed=18, patient_id="P1", study_uid="1.2.3.2"))
    refused = clean_orthanc.post(f"/studies/{first['ParentStudy']}/modify", {"Replace": {"PatientName": "Other"}})
    assert refused.status == 400 and "patient tags" in refused.json()["Details"]


# -- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("route,body,status,field", [
    ("/studies/{study}/modify", {"Replace": []}, 400, "Replace"),
    ("/studies/{study}/modify", {"KeepSource": "no"}, 400, "KeepSource"),
    ("/studies/{study}/modify", {"Permissive": 1}, 400, "Permissive"),
    ("/studies/{study}/modify", {"Priority": "high"}, 400, "Priority"),
    ("/studies/{study}/modify", {"Remove": ["NotATag"]}, 400, "Remove[0]"),
    ("/studies/{study}/modify", {"Replace": {"PatientID": "x"}}, 400, "Replace.PatientID"),
    ("/studies/{study}/anonymize", {"DicomVersion": "1999"}, 400, "DicomVersion"),
    ("/studies/{study}/anonymize", {"Transcode": "1.2.3"}, 400, "Transcode"),
    ("/studies/0000/modify", {}, 404, None),
    ("/tools/bulk-modify", {"Resources": "x"}, 400, "Resources"),
    ("/tools/bulk-modify", {}, 400, "Resources"),
    ("/tools/bulk-modify", {"Resources": ["0000"]}, 404, None),
    ("/tools/bulk-modify", {"Resources": [], "Level": "Galaxy"}, 400, "Level"),
])
def test_bad_input_is_refused_and_changes_nothing(clean_orthanc: OrthancServer, route, body, status, field) -> None:
    study = _upload(clean_orthanc, make_ct_series(1, seed=19))[0]["ParentStudy"]
    before = _snapshot(clean_orthanc)
    response = clean_orthanc.post(route.format(study=study), body)
    assert response.status == status, response.body
    error = response.json()
    assert error["HttpStatus"] == status
    if field:
        assert error["Field"] == field
    assert _snapshot(clean_orthanc) == before


def test_sequential_sdk_path_gives_the_same_result(make_orthanc) -> None:
    """StoreWorkers 1 and LoopbackHttp false: instances read and stored through the plugin SDK only."""
    server = make_orthanc({"Reshape": {"StoreWorkers": 1, "LoopbackHttp": False}})
    uploaded = _upload(server, make_ct_series(4, seed=20))
    answer = server.post_json(f"/series/{uploaded[0]['ParentSeries']}/modify", {"Replace": {"SeriesDescription": "s"}})
    new = _instances_of(server, "series", answer["ID"])
    assert [d.InstanceNumber for d in new] == [1, 2, 3, 4] and {d.SeriesDescription for d in new} == {"s"}


def test_rollback_never_deletes_instances_that_existed_with_overwrite_instances(make_orthanc) -> None:
    """With OverwriteInstances, Orthanc answers "Success" when it re-stores an instance it already had:
    a failed request must still leave those instances in place."""
    server = make_orthanc({"OverwriteInstances": True})
    images = make_ct_series(3, seed=21)
    for ds in images[:2]:
        del ds[0x00091002]  # only the last image keeps its private US element: Replace "abc" fails there
    series = _upload(server, images)[0]["ParentSeries"]
    move = {"Replace": {"PatientID": "MOVED"}, "Force": True,
            "Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]}
    first = server.post_json(f"/series/{series}/modify", move)
    existing = sorted(i["ID"] for i in server.get_json(f"/series/{first['ID']}/instances"))
    assert len(existing) == 3
    refused = server.post(f"/series/{series}/modify", dict(move, Replace={"PatientID": "MOVED", "0009,1002": "abc"}))
    assert refused.status == 400 and "0009,1002" in refused.json()["Field"], refused.body
    assert sorted(i["ID"] for i in server.get_json(f"/series/{first['ID']}/instances")) == existing


@pytest.mark.parametrize("replace,field", [
    ({"Rows": "abc"}, "Replace.Rows"),
    ({"Rows": 70000}, "Replace.Rows"),
    ({"StudyDescription": ["not", "a", "sequence"]}, "Replace.StudyDescription"),
    ({"ReferencedStudySequence": [{"ReferencedSOPClassUID": True}]}, "Replace.ReferencedStudySequence[0].ReferencedSOPClassUID"),
])
def test_bad_values_are_refused_before_any_instance_even_permissive(clean_orthanc: OrthancServer, replace,
                                                                     field) -> None:
    study = _upload(clean_orthanc, make_ct_series(2, seed=22))[0]["ParentStudy"]
    before = _snapshot(clean_orthanc)
    response = clean_orthanc.post(f"/studies/{study}/modify", {"Replace": replace, "Permissive": True})
    assert response.status == 400 and response.json()["Field"] == field, response.body
    assert _snapshot(clean_orthanc) == before


def test_a_refused_request_takes_no_anonymized_number(clean_orthanc: OrthancServer) -> None:
    uploaded = _upload(clean_orthanc, make_ct_series(1, seed=23))[0]

    def number() -> int:
        name = str(read(clean_orthanc.post(f"/instances/{uploaded['ID']}/anonymize", {}).body).PatientName)
        return int(name[len("Anonymized"):])
    first = number()
    refused = clean_orthanc.post(f"/studies/{uploaded['ParentStudy']}/anonymize", {
        "Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID"], "Force": True,
        "KeepSource": False})
    assert refused.status == 400
    assert number() == first + 1


def test_a_failing_in_place_modification_overwrites_nothing(make_orthanc) -> None:
    """In place (OverwriteInstances, UIDs kept), an overwritten original could not be rolled back: every
    instance is edited once before the first one is stored."""
    server = make_orthanc({"OverwriteInstances": True})
    images = make_ct_series(6, seed=24)
    for index, ds in enumerate(images):
        if index != 4:
            del ds[0x00091002]
    uploaded = _upload(server, images)
    before = {u["ID"]: server.instance_file(u["ID"]) for u in uploaded}
    response = server.post(f"/studies/{uploaded[0]['ParentStudy']}/modify", {
        "Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"], "Force": True,
        "Replace": {"StudyDescription": "in place", "0009,1002": "abc"}})
    assert response.status == 400 and "checked before modifying the instances in place" in response.json()["Details"]
    assert {i: server.instance_file(i) for i in before} == before


def test_transcode_in_a_stored_result_route_keeps_references_valid(clean_mounted: OrthancServer) -> None:
    """Lossy transcoding after anonymizing: the SOPInstanceUIDs are put back, so references still resolve
    (Orthanc's job behaviour); the answer names the syntax."""
    study = _upload(clean_mounted, make_ct_series(3, seed=25))[0]["ParentStudy"]
    body = {"Transcode": "1.2.840.10008.1.2.4.51", "DicomVersion": "2021b"}
    theirs, ours = _compare_with_builtin(clean_mounted, f"/studies/{study}/anonymize", body, "studies")
    assert ours["Transcode"] == theirs["Transcode"] == "1.2.840.10008.1.2.4.51"
    new = _instances_of(clean_mounted, "studies", ours["ID"])
    assert {d.file_meta.TransferSyntaxUID for d in new} == {"1.2.840.10008.1.2.4.51"}
    sops = {d.SOPInstanceUID for d in new}
    assert {d.ReferencedImageSequence[0].ReferencedSOPInstanceUID for d in new} == sops


def test_a_forced_study_uid_rewrites_references_from_every_instance(clean_orthanc: OrthancServer) -> None:
    """Replace StudyInstanceUID (Force) in a bulk anonymization: an RT-STRUCT of another study that points
    at the CT's study gets the forced value, whichever worker handles it first."""
    ct = make_ct_series(3, seed=26)
    rtstruct = make_rtstruct_for(ct, seed=26)
    rtstruct.StudyInstanceUID = "1.2.826.0.1.3680043.99.26"
    uploaded = _upload(clean_orthanc, ct + [rtstruct])
    studies = sorted({u["ParentStudy"] for u in uploaded})
    assert len(studies) == 2
    answer = clean_orthanc.post_json("/tools/bulk-anonymize", {
        "Resources": studies, "Replace": {"StudyInstanceUID": "1.2.3.999"}, "Force": True})
    new = [_dataset(clean_orthanc, r["ID"]) for r in answer["Resources"] if r["Type"] == "Instance"]
    assert {d.StudyInstanceUID for d in new} == {"1.2.3.999"}
    rt = next(d for d in new if d.Modality == "RTSTRUCT")
    assert rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].ReferencedSOPInstanceUID == "1.2.3.999"
