"""POST /studies/{id}/split and /studies/{id}/merge on a real Orthanc.

Parity: differential against Orthanc's built-in split/merge on the server that mounts the plugin under
/reshape (answers, resulting DICOM files with the generated UIDs mapped back to their sources, every
validation error). Beyond Orthanc: nested references follow the move, ModifiedFrom metadata, all-or-nothing
with a corrupted file halfway, and identical retried requests create no duplicates.
"""
from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicom_files import make_ct_series, make_rtstruct_for, make_sr_with_evidence, make_study, to_bytes
from orthanc_server import OrthancServer, Response

MOUNT = "/reshape"
MODIFIED_FROM = 4301  # store.METADATA_IDS["ModifiedFrom"]
UNKNOWN = "00000000-00000000-00000000-00000000-00000000"

# merge_target_and_source() writes a 300-character StudyDescription on purpose (Orthanc's 256 limit).
pytestmark = pytest.mark.filterwarnings("ignore:The value length .* exceeds the maximum length")


# --- helpers --------------------------------------------------------------------------------------------------

def upload(server: OrthancServer, datasets: list[Dataset]) -> list[dict]:
    return server.upload_many([to_bytes(ds) for ds in datasets])


def dataset(server: OrthancServer, instance_id: str) -> Dataset:
    return pydicom.dcmread(io.BytesIO(server.instance_file(instance_id)))


def instance_ids(server: OrthancServer, level: str, resource_id: str) -> list[str]:
    return [i["ID"] for i in server.get_json(f"/{level}/{resource_id}/instances")]


def snapshot(server: OrthancServer) -> dict[str, list[str]]:
    """Every resource of the store (compared before/after a request that must change nothing)."""
    return {level: sorted(server.get_json(f"/{level}")) for level in ("patients", "studies", "series", "instances")}


def key(ds: Dataset) -> tuple:
    return int(ds.SeriesNumber), int(ds.InstanceNumber)


def uid_map_to_sources(results: list[Dataset], sources: list[Dataset]) -> dict[str, str]:
    """New Study/Series/SOP Instance UID -> the source's, matching results to sources by (series, instance number)."""
    by_key = {key(s): s for s in sources}
    mapping: dict[str, str] = {}
    for ds in results:
        source = by_key[key(ds)]
        for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            mapping[str(ds[name].value)] = str(source[name].value)
    return mapping


def canonical(ds: Dataset, mapping: dict[str, str]) -> dict[str, Any]:
    """Every element path -> value, each UI value mapped through `mapping` (at every depth)."""
    result: dict[str, Any] = {}

    def walk(item: Dataset, prefix: str) -> None:
        for element in item:
            path = f"{prefix}{element.tag:08x}"
            if element.tag.element == 0:
                continue
            if element.VR == "SQ":
                result[path] = len(element.value)
                for index, sub in enumerate(element.value):
                    walk(sub, f"{path}[{index}].")
            elif element.VR == "UI":
                values = element.value if isinstance(element.value, list) or hasattr(element.value, "append") \
                    else [element.value]
                result[path] = "\\".join(mapping.get(str(v), str(v)) for v in values if v is not None)
            else:
                result[path] = element.value if isinstance(element.value, bytes) else str(element.value)
    walk(ds, "")
    return result


def assert_same_dicom(ours: list[Dataset], theirs: list[Dataset], sources: list[Dataset]) -> None:
    """Same files once every generated UID (top-level and, for ours, the rewritten references) is mapped
    back to the source's UID."""
    assert sorted(map(key, ours)) == sorted(map(key, theirs))
    our_map, their_map = uid_map_to_sources(ours, sources), uid_map_to_sources(theirs, sources)
    theirs_by_key = {key(ds): ds for ds in theirs}
    for ds in ours:
        a, b = canonical(ds, our_map), canonical(theirs_by_key[key(ds)], their_map)
        assert {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)} == {}, key(ds)


def modified_from(server: OrthancServer, level: str, resource_id: str) -> str | None:
    response = server.get(f"/{level}/{resource_id}/metadata/{MODIFIED_FROM}")
    return response.text() if response.ok else None


def split(server: OrthancServer, study: str, body: Any, builtin: bool = False) -> Response:
    return server.post(("" if builtin else MOUNT) + f"/studies/{study}/split", body)


def merge(server: OrthancServer, study: str, body: Any, builtin: bool = False) -> Response:
    return server.post(("" if builtin else MOUNT) + f"/studies/{study}/merge", body)


def ok(response: Response) -> dict:
    assert response.status == 200, response.text()
    return response.json()


def storage_file(server: OrthancServer, instance_id: str) -> Path:
    uuid = server.get_json(f"/instances/{instance_id}/attachments/dicom/info")["Uuid"]
    return server.storage_path / uuid[0:2] / uuid[2:4] / uuid


@pytest.fixture(scope="module")
def uncached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A server that reads every file from disk (no storage cache), so that a file corrupted on disk is seen."""
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-uncached"),
                           {"Reshape": {"Mount": MOUNT}, "MaximumStorageCacheSize": 0}, name="reshape-uncached")
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture
def clean_uncached(uncached: OrthancServer) -> OrthancServer:
    uncached.delete_all()
    return uncached


# --- split: parity --------------------------------------------------------------------------------------------

SPLIT_EDITS = {"Replace": {"PatientID": "SPLIT-ID", "PatientName": "Split^Sam", "StudyDescription": "Split off",
                           "AccessionNumber": "", "EthnicGroup": "added"},
               "Remove": ["PatientBirthDate", "ReferringPhysicianName", "ProcedureCodeSequence"]}


@pytest.mark.parametrize("what", ["Series", "Instances", "Series+Edits"])
def test_split_matches_builtin(clean_mounted: OrthancServer, what: str) -> None:
    sources = make_study(series_count=3, instances_per_series=2)
    answers = upload(clean_mounted, sources)
    study = answers[0]["ParentStudy"]
    series = clean_mounted.get_json(f"/studies/{study}")["Series"]
    if what == "Instances":  # one instance of two different series
        body: dict = {"Instances": [answers[0]["ID"], answers[3]["ID"]]}
    else:
        body = {"Series": [answers[0]["ParentSeries"]]}
    if what == "Series+Edits":
        body.update(SPLIT_EDITS)
    body["KeepSource"] = True
    theirs, ours = ok(split(clean_mounted, study, body, builtin=True)), ok(split(clean_mounted, study, body))
    assert set(ours) == set(theirs) == {"Description", "InstancesCount", "FailedInstancesCount", "TargetStudy",
                                        "TargetStudyUID"}
    assert (ours["Description"], ours["InstancesCount"], ours["FailedInstancesCount"]) == \
        (theirs["Description"], theirs["InstancesCount"], theirs["FailedInstancesCount"]) == ("REST API", 2, 0)
    new_study = clean_mounted.get_json(f"/studies/{ours['TargetStudy']}")
    assert new_study["MainDicomTags"]["StudyInstanceUID"] == ours["TargetStudyUID"]
    assert clean_mounted.get_json(f"/studies/{study}")["Series"] == series  # KeepSource: nothing deleted
    our_files = [dataset(clean_mounted, i) for i in instance_ids(clean_mounted, "studies", ours["TargetStudy"])]
    their_files = [dataset(clean_mounted, i) for i in instance_ids(clean_mounted, "studies", theirs["TargetStudy"])]
    assert len({ds.SeriesInstanceUID for ds in our_files}) == (2 if what == "Instances" else 1)
    assert_same_dicom(our_files, their_files, sources)
    if what == "Series+Edits":
        assert {(ds.PatientID, str(ds.PatientName), ds.StudyDescription, ds.AccessionNumber, ds.EthnicGroup)
                for ds in our_files} == {("SPLIT-ID", "Split^Sam", "Split off", "", "added")}
        assert not any(name in ds for ds in our_files
                       for name in ("PatientBirthDate", "ReferringPhysicianName", "ProcedureCodeSequence"))


def test_split_deletes_the_sources_by_default_like_builtin(clean_mounted: OrthancServer) -> None:
    sources = make_study(series_count=2, instances_per_series=2)
    shapes = []
    for builtin in (True, False):
        clean_mounted.delete_all()
        answers = upload(clean_mounted, sources)
        study = answers[0]["ParentStudy"]
        answer = ok(split(clean_mounted, study, {"Series": [answers[0]["ParentSeries"]]}, builtin=builtin))
        remaining = clean_mounted.get_json(f"/studies/{study}")["Series"]
        assert answers[0]["ParentSeries"] not in remaining and answers[2]["ParentSeries"] in remaining
        shapes.append((len(clean_mounted.instances()), len(clean_mounted.studies()),
                       len(instance_ids(clean_mounted, "studies", answer["TargetStudy"]))))
    assert shapes[0] == shapes[1] == (4, 2, 2)


def test_split_of_the_whole_study_leaves_no_source(clean_mounted: OrthancServer) -> None:
    answers = upload(clean_mounted, make_study(series_count=2, instances_per_series=2))
    study = answers[0]["ParentStudy"]
    answer = ok(split(clean_mounted, study, {"Series": clean_mounted.get_json(f"/studies/{study}")["Series"]}))
    assert clean_mounted.studies() == [answer["TargetStudy"]]
    assert len(clean_mounted.series()) == 2 and len(clean_mounted.instances()) == 4


def test_split_of_an_instance_also_covered_by_a_series_moves_it_once(clean_mounted: OrthancServer) -> None:
    answers = upload(clean_mounted, make_study(series_count=2, instances_per_series=2))
    answer = ok(split(clean_mounted, answers[0]["ParentStudy"],
                      {"Series": [answers[0]["ParentSeries"]], "Instances": [answers[0]["ID"], answers[2]["ID"]]}))
    assert answer["InstancesCount"] == 3  # Orthanc would process answers[0] twice, into two copies
    assert len(instance_ids(clean_mounted, "studies", answer["TargetStudy"])) == 3


# --- merge: parity --------------------------------------------------------------------------------------------

def merge_target_and_source() -> tuple[list[Dataset], list[Dataset]]:
    """A target whose modules differ from the source's: another patient, a StudyDescription over 256
    characters (copied as absent), no PatientBirthDate, OtherPatientIDs with two values."""
    target = make_ct_series(2, seed=1, patient_id="TARGET", patient_name="Target^Tom", accession_number="ACC-T",
                            study_description="D" * 300, study_id="T1", series_number=7)
    for ds in target:
        del ds.PatientBirthDate
        ds.OtherPatientIDs = ["T-1", "T-2"]
    source = make_study(series_count=2, instances_per_series=2, seed=2, patient_id="SOURCE",
                        patient_name="Source^Sue")
    for ds in source:
        ds.EthnicGroup = "Source group"
        ds.PatientComments = "Comments of the source"
    return target, source


@pytest.mark.parametrize("level", ["Study", "Series", "Instance"])
def test_merge_matches_builtin(clean_mounted: OrthancServer, level: str) -> None:
    target_files, sources = merge_target_and_source()
    target = upload(clean_mounted, target_files)[0]["ParentStudy"]
    answers = upload(clean_mounted, sources)
    resource = {"Study": answers[0]["ParentStudy"], "Series": answers[0]["ParentSeries"],
                "Instance": answers[0]["ID"]}[level]
    body = {"Resources": [resource], "KeepSource": True}
    before = set(instance_ids(clean_mounted, "studies", target))
    theirs = ok(merge(clean_mounted, target, body, builtin=True))
    after_theirs = set(instance_ids(clean_mounted, "studies", target))
    ours = ok(merge(clean_mounted, target, body))
    after_ours = set(instance_ids(clean_mounted, "studies", target))
    assert set(ours) == set(theirs) == {"Description", "InstancesCount", "FailedInstancesCount", "TargetStudy"}
    expected_count = {"Study": 4, "Series": 2, "Instance": 1}[level]
    assert ours == theirs == {"Description": "REST API", "InstancesCount": expected_count,
                              "FailedInstancesCount": 0, "TargetStudy": target}
    their_files = [dataset(clean_mounted, i) for i in after_theirs - before]
    our_files = [dataset(clean_mounted, i) for i in after_ours - after_theirs]
    assert len(our_files) == expected_count
    assert_same_dicom(our_files, their_files, sources)
    for ds in our_files:
        assert (ds.PatientID, str(ds.PatientName), ds.AccessionNumber, ds.StudyID) == ("TARGET", "Target^Tom",
                                                                                      "ACC-T", "T1")
        assert list(ds.OtherPatientIDs) == ["T-1", "T-2"]
        assert ds.StudyInstanceUID == target_files[0].StudyInstanceUID
        for name in ("StudyDescription", "PatientBirthDate", "EthnicGroup", "PatientComments",
                     "ProcedureCodeSequence"):
            assert name not in ds


def test_merge_deletes_the_sources_by_default_like_builtin(clean_mounted: OrthancServer) -> None:
    target_files, sources = merge_target_and_source()
    shapes = []
    for builtin in (True, False):
        clean_mounted.delete_all()
        target = upload(clean_mounted, target_files)[0]["ParentStudy"]
        answers = upload(clean_mounted, sources)
        ok(merge(clean_mounted, target, {"Resources": [answers[0]["ParentSeries"]]}, builtin=builtin))
        source_study = clean_mounted.get_json(f"/studies/{answers[0]['ParentStudy']}")
        assert answers[0]["ParentSeries"] not in source_study["Series"]
        shapes.append((len(clean_mounted.instances()), len(clean_mounted.series()), len(clean_mounted.patients()),
                       len(instance_ids(clean_mounted, "studies", target))))
    assert shapes[0] == shapes[1] == (6, 3, 2, 4)


# --- validation errors: the same status as the built-in route, and the field named ------------------------------

@pytest.fixture
def two_studies(orthanc_mounted: OrthancServer) -> dict[str, str]:
    """IDs for the error cases: a study (S) with two series, and another study (O)."""
    main = upload(orthanc_mounted, make_study(series_count=2, instances_per_series=1, seed=7, patient_id="ERR"))
    other = upload(orthanc_mounted, make_ct_series(1, seed=8, patient_id="ERR-OTHER"))
    return {"S": main[0]["ParentStudy"], "S1": main[0]["ParentSeries"], "S2": main[1]["ParentSeries"],
            "I1": main[0]["ID"], "P": main[0]["ParentPatient"], "O": other[0]["ParentStudy"],
            "O1": other[0]["ParentSeries"], "OI": other[0]["ID"], "U": UNKNOWN}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    """Body template: "$X" strings become the ID named X."""
    if isinstance(value, str) and value.startswith("$"):
        return ids[value[1:]]
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


SPLIT_ERRORS = [  # (study, body, status, field)
    ("$U", {"Series": ["$S1"]}, 404, None),
    ("$U", {"Series": "not a list"}, 404, None),
    ("$S", "not JSON", 400, "body"),
    ("$S", {"Series": "$S1"}, 400, "Series"),
    ("$S", {"Series": [1]}, 400, "Series"),
    ("$S", {"Series": ["$U"]}, 404, "Series[0]"),
    ("$S", {"Series": ["$S1", "$O1"]}, 404, "Series[1]"),
    ("$S", {"Instances": "$I1"}, 400, "Instances"),
    ("$S", {"Instances": ["$OI"]}, 404, "Instances[0]"),
    ("$S", {"Series": ["$S1"], "Instances": ["$U"]}, 404, "Instances[0]"),
    ("$S", {}, 400, "Series"),
    ("$S", {"Series": [], "Instances": []}, 400, "Series"),
    ("$S", {"Series": [], "Remove": ["Modality"]}, 400, "Series"),
    ("$S", {"Series": ["$O1"], "KeepSource": "yes"}, 404, "Series[0]"),
    ("$S", {"Series": ["$S1"], "KeepSource": "yes"}, 400, "KeepSource"),
    ("$S", {"Series": ["$S1"], "Remove": "PatientName"}, 400, "Remove"),
    ("$S", {"Series": ["$S1"], "Remove": [1]}, 400, "Remove[0]"),
    ("$S", {"Series": ["$S1"], "Remove": ["PatientName", "Modality"]}, 400, "Remove[1]"),
    ("$S", {"Series": ["$S1"], "Remove": ["StudyInstanceUID"]}, 400, "Remove[0]"),
    ("$S", {"Series": ["$S1"], "Remove": ["0020,000e"]}, 400, "Remove[0]"),
    ("$S", {"Series": ["$S1"], "Remove": ["Modality"], "Replace": []}, 400, "Remove[0]"),
    ("$S", {"Series": ["$S1"], "Replace": ["PatientName"]}, 400, "Replace"),
    ("$S", {"Series": ["$S1"], "Replace": {"PatientName": 1}}, 400, "Replace.PatientName"),
    ("$S", {"Series": ["$S1"], "Replace": {"SeriesDescription": "x"}}, 400, "Replace.SeriesDescription"),
    ("$S", {"Series": ["$S1"], "Replace": {"StudyInstanceUID": "1.2.3"}}, 400, "Replace.StudyInstanceUID"),
    ("$S", {"Series": ["$S1"], "Replace": {"ReferencedStudySequence": "x"}}, 400, "Replace.ReferencedStudySequence"),
    ("$S", {"Series": ["$S1"], "Permissive": "no"}, 400, "Permissive"),
    ("$S", {"Series": ["$S1"], "Priority": "high"}, 400, "Priority"),
]


@pytest.mark.parametrize("study, body, status, field", SPLIT_ERRORS,
                         ids=[f"{i}-{status}-{field}" for i, (_, _, status, field) in enumerate(SPLIT_ERRORS)])
def test_split_errors_match_builtin(orthanc_mounted: OrthancServer, two_studies: dict, study: str, body: Any,
                                    status: int, field: str | None) -> None:
    _error_matches_builtin(split, orthanc_mounted, two_studies, study, body, status, field)


def _error_matches_builtin(route, server: OrthancServer, two_studies: dict, study: str, body: Any, status: int,
                           field: str | None) -> None:
    """`route` (split or merge) answers `status` naming `field`, as the built-in does, and changes nothing."""
    before = snapshot(server)
    study_id, filled = _fill(study, two_studies), _fill(body, two_studies)
    theirs = route(server, study_id, filled, builtin=True)
    ours = route(server, study_id, filled)
    assert (ours.status, theirs.status) == (status, status), ours.text()
    assert ours.json().get("Field") == field
    assert snapshot(server) == before


@pytest.mark.parametrize("body", [{"Remove": ["NoSuchTag"]}, {"Replace": {"ProcedureCodeSequence[0].CodeValue": "x"}}])
def test_split_unknown_tag_is_400_where_builtin_says_500(orthanc_mounted: OrthancServer, two_studies: dict,
                                                         body: dict) -> None:
    body = {"Series": [two_studies["S1"]], **body}
    assert split(orthanc_mounted, two_studies["S"], body, builtin=True).status == 500
    ours = split(orthanc_mounted, two_studies["S"], body)
    assert ours.status == 400 and ours.json()["Field"] in ("Remove[0]", "Replace.ProcedureCodeSequence[0].CodeValue")


@pytest.mark.parametrize("body", [{"Series": ["$I1"]}, {"Series": ["$S"]}, {"Series": ["$P"]},
                                  {"Instances": ["$S1"]}, {"Instances": ["$S"]}, {"Instances": ["$O1"]}])
def test_split_of_a_resource_of_the_wrong_level_is_404(orthanc_mounted: OrthancServer, two_studies: dict,
                                                       body: dict) -> None:
    """Orthanc answers 400, 404 or 500 depending on the level given (quirks of its parent look-ups);
    the plugin always answers 404: the resource is not a series/instance of the study."""
    before = snapshot(orthanc_mounted)
    filled = _fill(body, two_studies)
    assert split(orthanc_mounted, two_studies["S"], filled, builtin=True).status in (400, 404, 500)
    ours = split(orthanc_mounted, two_studies["S"], filled)
    assert ours.status == 404 and ours.json()["Field"] == f"{next(iter(body))}[0]"
    assert snapshot(orthanc_mounted) == before


MERGE_ERRORS = [  # (target, body, status, field)
    ("$U", {"Resources": ["$O"]}, 404, None),
    ("$U", {}, 404, None),
    ("$S", "not JSON", 400, "body"),
    ("$S", {}, 400, "Resources"),
    ("$S", {"Resources": "$O"}, 400, "Resources"),
    ("$S", {"Resources": [1]}, 400, "Resources"),
    ("$S", {"Resources": ["$U"]}, 404, "Resources[0]"),
    ("$S", {"Resources": ["$O", "$U"]}, 404, "Resources[1]"),
    ("$S", {"Resources": ["$P"]}, 404, "Resources[0]"),
    ("$S", {"Resources": ["$S"]}, 404, "Resources[0]"),
    ("$S", {"Resources": ["$S2"]}, 404, "Resources[0]"),
    ("$S", {"Resources": ["$I1"]}, 404, "Resources[0]"),
    ("$S", {"Resources": ["$U"], "KeepSource": 1}, 404, "Resources[0]"),
    ("$S", {"Resources": ["$O"], "KeepSource": 1}, 400, "KeepSource"),
    ("$S", {"Resources": ["$O"], "Synchronous": "yes"}, 400, "Synchronous"),
]


@pytest.mark.parametrize("target, body, status, field", MERGE_ERRORS,
                         ids=[f"{i}-{status}-{field}" for i, (_, _, status, field) in enumerate(MERGE_ERRORS)])
def test_merge_errors_match_builtin(orthanc_mounted: OrthancServer, two_studies: dict, target: str, body: Any,
                                    status: int, field: str | None) -> None:
    _error_matches_builtin(merge, orthanc_mounted, two_studies, target, body, status, field)


# --- beyond Orthanc: references follow the move, provenance -----------------------------------------------------

def test_split_of_ct_with_its_rtstruct_rewrites_the_references(clean_mounted: OrthancServer) -> None:
    ct = make_ct_series(3, series_number=1)
    other = make_ct_series(2, series_number=2, study_uid=ct[0].StudyInstanceUID)
    rt = make_rtstruct_for(ct)
    answers = upload(clean_mounted, ct + other + [rt])
    study, ct_series, rt_series = answers[0]["ParentStudy"], answers[0]["ParentSeries"], answers[-1]["ParentSeries"]
    body = {"Series": [ct_series, rt_series]}

    # Orthanc leaves the moved RT-STRUCT pointing at the old CT.
    theirs = ok(split(clean_mounted, study, {**body, "KeepSource": True}, builtin=True))
    their_rt = [dataset(clean_mounted, i) for i in instance_ids(clean_mounted, "studies", theirs["TargetStudy"])
                if dataset(clean_mounted, i).Modality == "RTSTRUCT"][0]
    their_study_item = their_rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert their_study_item.ReferencedSOPInstanceUID == ct[0].StudyInstanceUID
    clean_mounted.delete(f"/studies/{theirs['TargetStudy']}")

    ours = ok(split(clean_mounted, study, body))
    moved = {i: dataset(clean_mounted, i) for i in instance_ids(clean_mounted, "studies", ours["TargetStudy"])}
    new_rt = [ds for ds in moved.values() if ds.Modality == "RTSTRUCT"][0]
    new_ct = sorted((ds for ds in moved.values() if ds.Modality == "CT"), key=lambda d: int(d.InstanceNumber))
    study_item = new_rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert study_item.ReferencedSOPInstanceUID == ours["TargetStudyUID"]
    series_item = study_item.RTReferencedSeriesSequence[0]
    assert series_item.SeriesInstanceUID == new_ct[0].SeriesInstanceUID
    assert [c.ReferencedSOPInstanceUID for c in series_item.ContourImageSequence] == \
        [ds.SOPInstanceUID for ds in new_ct]
    contours = new_rt.ROIContourSequence[0].ContourSequence
    assert [c.ContourImageSequence[0].ReferencedSOPInstanceUID for c in contours] == [ds.SOPInstanceUID for ds in new_ct]
    # CT -> previous CT references follow too; the dangling SourceImageSequence stays as it was.
    assert new_ct[1].ReferencedImageSequence[0].ReferencedSOPInstanceUID == new_ct[0].SOPInstanceUID
    assert new_ct[0].SourceImageSequence[0].ReferencedSOPInstanceUID == ct[0].SourceImageSequence[0].ReferencedSOPInstanceUID
    # Provenance: every new instance, series and the new study name their source.
    old_ids = {a["ID"] for a in answers}
    for instance_id in moved:
        assert modified_from(clean_mounted, "instances", instance_id) in old_ids
    assert modified_from(clean_mounted, "studies", ours["TargetStudy"]) == study
    assert {modified_from(clean_mounted, "series", s) for s in clean_mounted.get_json(
        f"/studies/{ours['TargetStudy']}")["Series"]} == {ct_series, rt_series}
    # The CT that stayed is untouched; the sources of the moved ones are gone.
    assert clean_mounted.get_json(f"/studies/{study}")["Series"] == [answers[3]["ParentSeries"]]


def test_split_of_an_rtstruct_alone_keeps_pointing_at_the_ct_that_stays(clean_mounted: OrthancServer) -> None:
    ct = make_ct_series(2)
    rt = make_rtstruct_for(ct)
    answers = upload(clean_mounted, ct + [rt])
    ours = ok(split(clean_mounted, answers[0]["ParentStudy"], {"Instances": [answers[-1]["ID"]]}))
    (new_rt_id,) = instance_ids(clean_mounted, "studies", ours["TargetStudy"])
    study_item = dataset(clean_mounted, new_rt_id).ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert study_item.ReferencedSOPInstanceUID == ct[0].StudyInstanceUID
    assert study_item.RTReferencedSeriesSequence[0].SeriesInstanceUID == ct[0].SeriesInstanceUID
    assert [c.ReferencedSOPInstanceUID for c in study_item.RTReferencedSeriesSequence[0].ContourImageSequence] == \
        [ds.SOPInstanceUID for ds in ct]


def test_merge_of_an_sr_with_its_evidence_rewrites_the_references(clean_mounted: OrthancServer) -> None:
    target_files = make_ct_series(1, seed=1, patient_id="TARGET")
    target = upload(clean_mounted, target_files)[0]["ParentStudy"]
    ct = make_ct_series(2, seed=2, patient_id="SOURCE")
    sr = make_sr_with_evidence(ct)
    answers = upload(clean_mounted, ct + [sr])
    ours = ok(merge(clean_mounted, target, {"Resources": [answers[0]["ParentStudy"]]}))
    assert ours["InstancesCount"] == 3
    merged = [dataset(clean_mounted, i) for i in instance_ids(clean_mounted, "studies", target)]
    target_uid = clean_mounted.get_json(f"/studies/{target}")["MainDicomTags"]["StudyInstanceUID"]
    new_sr = [ds for ds in merged if ds.Modality == "SR"][0]
    new_ct = sorted((ds for ds in merged if ds.Modality == "CT"
                     and ds.SeriesInstanceUID != target_files[0].SeriesInstanceUID),
                    key=lambda d: int(d.InstanceNumber))
    assert len(new_ct) == 2
    evidence = new_sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == target_uid
    series_item = evidence.ReferencedSeriesSequence[0]
    assert series_item.SeriesInstanceUID == new_ct[0].SeriesInstanceUID
    assert [r.ReferencedSOPInstanceUID for r in series_item.ReferencedSOPSequence] == \
        [ds.SOPInstanceUID for ds in new_ct]
    assert new_sr.ContentSequence[2].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == new_ct[0].SOPInstanceUID
    assert all(ds.PatientID == "TARGET" for ds in merged)
    assert answers[0]["ParentStudy"] not in clean_mounted.studies()  # KeepSource defaults to false
    for ds in [new_sr] + new_ct:
        instance_id = [i for i in instance_ids(clean_mounted, "studies", target)
                       if clean_mounted.get_json(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"]
                       == ds.SOPInstanceUID][0]
        assert modified_from(clean_mounted, "instances", instance_id) in {a["ID"] for a in answers}
    assert modified_from(clean_mounted, "studies", target) is None  # the target study existed before


# --- beyond Orthanc: nothing lost, no duplicates -----------------------------------------------------------------

def corrupt(server: OrthancServer, instance_id: str) -> None:
    path = storage_file(server, instance_id)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a truncated file: pydicom reads a partial dataset without error


def test_split_with_a_corrupted_file_halfway_changes_nothing(clean_uncached: OrthancServer) -> None:
    server = clean_uncached
    answers = upload(server, make_study(series_count=2, instances_per_series=3))
    study = answers[0]["ParentStudy"]
    corrupt(server, answers[4]["ID"])  # the fifth of six: four new instances are stored before it fails
    before = snapshot(server)
    response = split(server, study, {"Series": server.get_json(f"/studies/{study}")["Series"]})
    assert response.status == 500
    details = response.json()["Details"]
    assert answers[4]["ID"] in details and "does not match Orthanc's index" in details
    assert re.search(r"the [1-5] instance\(s\) stored before were removed", details)  # several workers: 4 or 5
    assert snapshot(server) == before


def test_merge_with_a_corrupted_file_halfway_changes_nothing(clean_uncached: OrthancServer) -> None:
    server = clean_uncached
    target = upload(server, make_ct_series(1, seed=1, patient_id="TARGET"))[0]["ParentStudy"]
    answers = upload(server, make_study(series_count=2, instances_per_series=2, seed=2, patient_id="SOURCE"))
    corrupt(server, answers[2]["ID"])
    before = snapshot(server)
    response = merge(server, target, {"Resources": [answers[0]["ParentStudy"]]})
    assert response.status == 500
    assert snapshot(server) == before


def test_permissive_split_keeps_the_source_of_a_failed_instance(clean_uncached: OrthancServer) -> None:
    server = clean_uncached
    answers = upload(server, make_study(series_count=1, instances_per_series=3))
    corrupt(server, answers[1]["ID"])
    answer = ok(split(server, answers[0]["ParentStudy"], {"Series": [answers[0]["ParentSeries"]],
                                                          "Permissive": True}))
    assert (answer["InstancesCount"], answer["FailedInstancesCount"]) == (3, 1)
    assert [f["ID"] for f in answer["FailedInstances"]] == [answers[1]["ID"]]
    assert len(instance_ids(server, "studies", answer["TargetStudy"])) == 2
    assert instance_ids(server, "studies", answers[0]["ParentStudy"]) == [answers[1]["ID"]]  # Orthanc would delete it


def test_permissive_split_keeps_references_to_a_failed_instance_on_it(clean_uncached: OrthancServer) -> None:
    """The CT that failed stays in the source study: the moved RT-STRUCT still points at it there, and at the
    new UIDs of the CTs that did move."""
    server = clean_uncached
    ct = make_ct_series(3, seed=7)
    answers = upload(server, ct + [make_rtstruct_for(ct)])
    corrupt(server, answers[1]["ID"])
    series = [answers[0]["ParentSeries"], answers[3]["ParentSeries"]]
    answer = ok(split(server, answers[0]["ParentStudy"], {"Series": series, "Permissive": True}))
    assert [f["ID"] for f in answer["FailedInstances"]] == [answers[1]["ID"]]
    results = [dataset(server, i) for i in instance_ids(server, "studies", answer["TargetStudy"])]
    rt = next(ds for ds in results if ds.Modality == "RTSTRUCT")
    new_uid = {int(ds.InstanceNumber): str(ds.SOPInstanceUID) for ds in results if ds.Modality == "CT"}
    references = [c.ContourImageSequence[0].ReferencedSOPInstanceUID for c in rt.ROIContourSequence[0].ContourSequence]
    assert references == [new_uid[int(ct[0].InstanceNumber)], ct[1].SOPInstanceUID, new_uid[int(ct[2].InstanceNumber)]]


def test_retried_split_creates_no_duplicates(clean_mounted: OrthancServer) -> None:
    answers = upload(clean_mounted, make_study(series_count=2, instances_per_series=2))
    study, series = answers[0]["ParentStudy"], answers[0]["ParentSeries"]
    body = {"Series": [series], "Replace": {"StudyDescription": "Split"}, "KeepSource": True}
    first = ok(split(clean_mounted, study, body))
    second = ok(split(clean_mounted, study, body))
    assert first == second
    assert len(clean_mounted.instances()) == 6 and len(instance_ids(clean_mounted, "studies", first["TargetStudy"])) == 2
    # A different request is a different split: another new study.
    other = ok(split(clean_mounted, study, {**body, "Replace": {"StudyDescription": "Other"}}))
    assert other["TargetStudyUID"] != first["TargetStudyUID"]
    # A retry whose first attempt died halfway (one new instance missing) completes it, then moves.
    clean_mounted.delete(f"/instances/{instance_ids(clean_mounted, 'studies', first['TargetStudy'])[0]}")
    third = ok(split(clean_mounted, study, {**body, "KeepSource": False}))
    assert third == first
    assert len(instance_ids(clean_mounted, "studies", first["TargetStudy"])) == 2
    assert series not in clean_mounted.get_json(f"/studies/{study}")["Series"]
    assert len(clean_mounted.instances()) == 2 + 2 + 2


def test_retried_merge_creates_no_duplicates(clean_mounted: OrthancServer) -> None:
    target = upload(clean_mounted, make_ct_series(1, seed=1, patient_id="TARGET"))[0]["ParentStudy"]
    answers = upload(clean_mounted, make_study(series_count=2, instances_per_series=2, seed=2, patient_id="SOURCE"))
    body = {"Resources": [answers[0]["ParentSeries"]], "KeepSource": True}
    assert ok(merge(clean_mounted, target, body)) == ok(merge(clean_mounted, target, body))
    assert len(instance_ids(clean_mounted, "studies", target)) == 3
    ok(merge(clean_mounted, target, {**body, "KeepSource": False}))
    assert len(instance_ids(clean_mounted, "studies", target)) == 3
    assert len(clean_mounted.instances()) == 3 + 2


# --- asynchronous: the same work as a job -----------------------------------------------------------------------

def wait_job(server: OrthancServer, path: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = server.get_json(path)
        if job["State"] in ("Success", "Failure") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_asynchronous_split_and_merge_run_as_jobs(clean_mounted: OrthancServer) -> None:
    answers = upload(clean_mounted, make_study(series_count=2, instances_per_series=2))
    study = answers[0]["ParentStudy"]
    body = {"Series": [answers[0]["ParentSeries"]], "KeepSource": True}
    synchronous = ok(split(clean_mounted, study, body))
    submitted = ok(split(clean_mounted, study, {**body, "Asynchronous": True}))
    assert set(submitted) == {"ID", "Path"} and submitted["Path"] == f"{MOUNT}/jobs/{submitted['ID']}"
    job = wait_job(clean_mounted, submitted["Path"])
    assert (job["State"], job["Type"]) == ("Success", "SplitStudy")
    assert job["Content"] == synchronous  # the same split again: the same study, nothing duplicated
    assert len(clean_mounted.instances()) == 6
    target = upload(clean_mounted, make_ct_series(1, seed=1, patient_id="TARGET"))[0]["ParentStudy"]
    submitted = ok(merge(clean_mounted, target, {"Resources": [study], "Asynchronous": True}))
    job = wait_job(clean_mounted, submitted["Path"])
    assert (job["State"], job["Type"]) == ("Success", "MergeStudy")
    assert job["Content"]["InstancesCount"] == 4 and job["Content"]["TargetStudy"] == target
    assert study not in clean_mounted.studies()
