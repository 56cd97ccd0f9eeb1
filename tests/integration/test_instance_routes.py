"""POST /instances/{id}/modify and /anonymize on a real Orthanc, differential against the built-in routes
(the server mounted under /reshape answers both), on pydicom's test files and generated datasets."""
from __future__ import annotations

import pytest

from dicom_compare import differences, read
from dicom_files import make_ct_series, make_dimension_study, representative_files, to_bytes
from orthanc_server import OrthancServer

MOUNT = "/reshape"

# Bodies on which the plugin and the built-in must agree (DicomVersion given: 1.10.1 defaults to 2021b).
ANONYMIZE_BODIES = [
    {"DicomVersion": "2021b"},
    {"DicomVersion": "2017c"},
    {"DicomVersion": "2008"},
    {"DicomVersion": "2021b", "KeepPrivateTags": True},
    {"DicomVersion": "2021b", "Keep": ["StudyDescription", "SeriesDescription", "ReferencedImageSequence"]},
    {"DicomVersion": "2021b", "Replace": {"PatientName": "Research^One", "StudyDescription": "R"}},
    {"DicomVersion": "2021b", "Remove": ["Modality"], "Keep": ["PatientName"]},
]
MODIFY_BODIES = [
    {"Replace": {"PatientName": "Hello^World", "InstitutionName": "Elsewhere"}},
    {"Remove": ["StudyDate", "SeriesDescription"], "RemovePrivateTags": True},
    {"Replace": {"PatientID": "NEW-ID"}, "Force": True},
    {"Replace": {"StudyInstanceUID": "1.2.3.4.5"}, "Force": True},
    {"Keep": ["SOPInstanceUID"], "Force": True, "Replace": {"StudyDescription": "kept"}},
    {"Replace": {"StudyDescription": None, "ReferencedStudySequence": [
        {"ReferencedSOPClassUID": "1.2.840.10008.3.1.2.3.1", "ReferencedSOPInstanceUID": "1.2.3"}, {}]}},
    {"Replace": {"PatientName": "Ünïcödé^Ñame"}},
]


def _file_ids(server: OrthancServer) -> dict[str, str]:
    ids = {}
    for path in representative_files():
        ids[path.name] = server.upload(path.read_bytes())["ID"]
    return ids


@pytest.fixture
def stored_files(orthanc_mounted: OrthancServer) -> dict[str, str]:
    """The representative files, stored (again, if a test emptied the server)."""
    return _file_ids(orthanc_mounted)


def _both(server: OrthancServer, instance: str, action: str, body: dict) -> tuple:
    theirs = server.post(f"/instances/{instance}/{action}", body)
    ours = server.post(f"{MOUNT}/instances/{instance}/{action}", body)
    assert theirs.status == 200, theirs.body
    assert ours.status == 200, ours.body
    assert ours.headers["Content-Type"] == "application/dicom"
    return read(theirs.body), read(ours.body)


@pytest.mark.parametrize("body", ANONYMIZE_BODIES, ids=lambda b: ",".join(f"{k}" for k in b))
def test_anonymize_matches_builtin_on_pydicom_files(orthanc_mounted: OrthancServer, stored_files, body) -> None:
    for name, instance in stored_files.items():
        theirs, ours = _both(orthanc_mounted, instance, "anonymize", body)
        diff = differences(ours, theirs)
        if "Replace" in body:
            # Deliberate difference (Orthanc >= 1.12.7): a customised profile says "Orthanc <version>".
            # (absent from the built-in's output before Orthanc 1.12.7, present since)
            assert diff.pop("00120063", None) in (None, ("<generated>", None))
            assert ours.DeidentificationMethod.startswith("Orthanc ")
        assert not diff, name
        assert ours.PatientIdentityRemoved == "YES"
        assert ours.SOPInstanceUID != read(orthanc_mounted.instance_file(instance)).SOPInstanceUID
        assert ours.file_meta.MediaStorageSOPInstanceUID == ours.SOPInstanceUID
        assert ours.file_meta.TransferSyntaxUID == theirs.file_meta.TransferSyntaxUID, name


@pytest.mark.parametrize("body", MODIFY_BODIES, ids=lambda b: ",".join(f"{k}" for k in b))
def test_modify_matches_builtin_on_pydicom_files(orthanc_mounted: OrthancServer, stored_files, body) -> None:
    for name, instance in stored_files.items():
        theirs, ours = _both(orthanc_mounted, instance, "modify", body)
        assert not differences(ours, theirs), name
        assert ours.file_meta.TransferSyntaxUID == theirs.file_meta.TransferSyntaxUID, name


def test_untouched_pixel_data_is_copied_byte_for_byte(orthanc_mounted: OrthancServer, stored_files) -> None:
    for name, instance in stored_files.items():
        source = read(orthanc_mounted.instance_file(instance))
        ours = read(orthanc_mounted.post(f"{MOUNT}/instances/{instance}/anonymize", {}).body)
        if "PixelData" in source:
            assert ours["PixelData"].value == source["PixelData"].value, name


def test_modify_identifiers_regenerated_by_level(orthanc_mounted: OrthancServer, stored_files) -> None:
    instance = stored_files["CT_small.dcm"]
    source = read(orthanc_mounted.instance_file(instance))
    plain = read(orthanc_mounted.post(f"{MOUNT}/instances/{instance}/modify", {"Replace": {"PatientName": "X"}}).body)
    assert plain.StudyInstanceUID == source.StudyInstanceUID and plain.SeriesInstanceUID == source.SeriesInstanceUID
    assert plain.SOPInstanceUID != source.SOPInstanceUID
    patient = read(orthanc_mounted.post(f"{MOUNT}/instances/{instance}/modify",
                                        {"Replace": {"PatientID": "P"}, "Force": True}).body)
    assert patient.PatientID == "P"
    assert patient.StudyInstanceUID != source.StudyInstanceUID and patient.SeriesInstanceUID != source.SeriesInstanceUID
    kept = read(orthanc_mounted.post(f"{MOUNT}/instances/{instance}/modify",
                                     {"Keep": ["SOPInstanceUID"], "Force": True}).body)
    assert kept.SOPInstanceUID == source.SOPInstanceUID


def test_subsequence_paths_match_builtin(clean_mounted: OrthancServer) -> None:
    """The examples of Orthanc's test_modify_subsequences (spec §4)."""
    instance = clean_mounted.upload(to_bytes(make_dimension_study(1)[0]))["ID"]
    body = {
        "Replace": {
            "PatientName": "Hello1",
            "DimensionIndexSequence[1].DimensionDescriptionLabel": "Hello2",
            "DimensionIndexSequence[*].PatientName": "Hello3",
            "ReferencedImageEvidenceSequence[2].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]"
            ".ReferencedSOPInstanceUID": "Hello4",
            "DimensionOrganizationSequence[0].DimensionOrganizationUID": "1.2.3.4",
        },
        "Remove": [
            "ReferencedPerformedProcedureStepSequence",
            "PerformedProtocolCodeSequence[0].CodeValue",
            "SharedFunctionalGroupsSequence[*].ReferencedImageSequence[*].ReferencedSOPInstanceUID",
            "SharedFunctionalGroupsSequence[*].ReferencedImageSequence[1].ReferencedSOPClassUID",
            "SharedFunctionalGroupsSequence[2].ReferencedImageSequence",
        ],
    }
    theirs, ours = _both(clean_mounted, instance, "modify", body)
    assert not differences(ours, theirs)
    assert [i.DimensionDescriptionLabel for i in ours.DimensionIndexSequence][1] == "Hello2"
    assert {str(i.PatientName) for i in ours.DimensionIndexSequence} == {"Hello3"}
    anonymize = {
        "DicomVersion": "2021b", "KeepPrivateTags": True,
        "Keep": ["ReferencedImageEvidenceSequence", "DimensionIndexSequence",
                 "PerFrameFunctionalGroupsSequence[*].2005,140f[*].SOPInstanceUID",
                 "(5200,9230)[*].2005,140f[*].(0008,0023)"],
        "Replace": {"DimensionOrganizationSequence[0].DimensionOrganizationUID": "1.2.3.4"},
        "Remove": ["PerformedProtocolCodeSequence[0].CodeValue"],
    }
    source = read(clean_mounted.instance_file(instance))
    theirs, ours = _both(clean_mounted, instance, "anonymize", anonymize)
    diff = differences(ours, theirs)
    # Deliberate before Orthanc 1.12.7, which does the same: "Orthanc <version>" when customised.
    assert diff.pop("00120063", None) in (None, ("<generated>", None))
    assert ours.DeidentificationMethod.startswith("Orthanc ")
    assert not diff
    assert ours.ReferencedImageEvidenceSequence == source.ReferencedImageEvidenceSequence
    assert ours.DimensionOrganizationSequence[0].DimensionOrganizationUID == "1.2.3.4"
    frame = ours.PerFrameFunctionalGroupsSequence[0][0x2005140F][0]
    assert frame.SOPInstanceUID == source.PerFrameFunctionalGroupsSequence[0][0x2005140F][0].SOPInstanceUID


def test_transcode_is_delegated_to_orthanc(clean_mounted: OrthancServer) -> None:
    instance = clean_mounted.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    for syntax in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.4.70"):
        theirs, ours = _both(clean_mounted, instance, "modify", {"Transcode": syntax})
        assert ours.file_meta.TransferSyntaxUID == theirs.file_meta.TransferSyntaxUID == syntax
    lossy = read(clean_mounted.post(f"{MOUNT}/instances/{instance}/modify",
                                    {"Transcode": "1.2.840.10008.1.2.4.51", "Keep": ["SOPInstanceUID"],
                                     "Force": True}).body)
    assert lossy.SOPInstanceUID != read(clean_mounted.instance_file(instance)).SOPInstanceUID  # as Orthanc


def test_anonymized_counter_increments_once_per_request(clean_mounted: OrthancServer) -> None:
    instance = clean_mounted.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    names = [str(read(clean_mounted.post(f"{MOUNT}/instances/{instance}/anonymize", {}).body).PatientName)
             for _ in range(2)]
    assert names[0].startswith("Anonymized")
    assert int(names[1][len("Anonymized"):]) == int(names[0][len("Anonymized"):]) + 1


def test_default_profile_is_2023b(clean_mounted: OrthancServer) -> None:
    """Deliberate difference: 2023b is the default on every Orthanc version (1.10.1 defaults to 2021b)."""
    instance = clean_mounted.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    ours = read(clean_mounted.post(f"{MOUNT}/instances/{instance}/anonymize", {}).body)
    assert "2023b" in ours.DeidentificationMethod


def test_numbers_are_accepted_in_replace(clean_mounted: OrthancServer) -> None:
    """Deliberate difference: Orthanc refuses JSON numbers in Replace (400); the plugin converts them."""
    instance = clean_mounted.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    assert clean_mounted.post(f"/instances/{instance}/modify", {"Replace": {"Rows": 8}}).status == 400
    ours = read(clean_mounted.post(f"{MOUNT}/instances/{instance}/modify",
                                   {"Replace": {"Rows": 8, "SliceThickness": 2.5}}).body)
    assert ours.Rows == 8 and float(ours.SliceThickness) == 2.5


def test_keep_patient_id_with_force_is_allowed(clean_mounted: OrthancServer) -> None:
    """Deliberate difference with 1.10.1 (newest Orthanc's rule): Keep PatientID + Force anonymizes."""
    instance = clean_mounted.upload(to_bytes(make_ct_series(1, patient_id="KEEPME")[0]))["ID"]
    ours = read(clean_mounted.post(f"{MOUNT}/instances/{instance}/anonymize",
                                   {"Keep": ["PatientID"], "Force": True}).body)
    assert ours.PatientID == "KEEPME"


@pytest.mark.parametrize("action,body,field", [
    ("modify", {"Replace": {"NoSuchTag": "x"}}, "Replace.NoSuchTag"),
    ("modify", {"Replace": "x"}, "Replace"),
    ("modify", {"Remove": "PatientName"}, "Remove"),
    ("modify", {"Remove": [12]}, "Remove[0]"),
    ("modify", {"Keep": ["Seq[x].PatientName"]}, "Keep[0]"),
    ("modify", {"Force": "yes"}, "Force"),
    ("modify", {"Replace": {"SOPInstanceUID": "1.2"}}, "Replace.SOPInstanceUID"),
    ("modify", {"Remove": ["SOPInstanceUID"], "Force": True}, "Remove[0]"),
    ("modify", {"Replace": {"Rows": "abc"}}, "Replace.Rows"),
    ("modify", {"Replace": {"PatientName": {"a": 1}}}, "Replace.PatientName"),
    ("modify", {"Transcode": "9.9"}, "Transcode"),
    ("modify", {"PrivateCreator": 3}, "PrivateCreator"),
    ("anonymize", {"DicomVersion": "2099"}, "DicomVersion"),
    ("anonymize", {"DicomVersion": 2021}, "DicomVersion"),
    ("anonymize", {"KeepPrivateTags": "no"}, "KeepPrivateTags"),
    ("anonymize", b"{not json", "body"),
    ("anonymize", b"[1, 2]", "body"),
])
def test_bad_input_is_a_400_naming_the_field(orthanc_mounted: OrthancServer, stored_files, action, body,
                                             field) -> None:
    response = orthanc_mounted.post(f"{MOUNT}/instances/{stored_files['CT_small.dcm']}/{action}", body)
    assert response.status == 400, response.body
    error = response.json()
    assert error["HttpStatus"] == 400 and error["Field"] == field and error["Details"]


def test_unknown_tag_is_400_where_orthanc_says_500(orthanc_mounted: OrthancServer, stored_files) -> None:
    body = {"Replace": {"NoSuchTag": "x"}}
    instance = stored_files["CT_small.dcm"]
    assert orthanc_mounted.post(f"/instances/{instance}/modify", body).status == 500
    assert orthanc_mounted.post(f"{MOUNT}/instances/{instance}/modify", body).status == 400


def test_unknown_instance_is_404(orthanc_mounted: OrthancServer) -> None:
    response = orthanc_mounted.post(f"{MOUNT}/instances/00000000-00000000-00000000-00000000-00000000/anonymize", {})
    assert response.status == 404 and response.json()["HttpStatus"] == 404


def test_default_mount_shadows_the_builtin(clean_orthanc: OrthancServer) -> None:
    instance = clean_orthanc.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    response = clean_orthanc.post(f"/instances/{instance}/modify", {"Replace": {"NoSuchTag": "x"}})
    assert response.status == 400 and response.json()["Field"] == "Replace.NoSuchTag"  # ours, not Orthanc's 500


def test_a_method_the_route_does_not_take_is_405(orthanc_mounted: OrthancServer, stored_files) -> None:
    response = orthanc_mounted.get(f"{MOUNT}/instances/{stored_files['CT_small.dcm']}/anonymize")
    assert response.status == 405


def test_names_of_orthancs_dictionary_configuration_are_accepted(make_orthanc) -> None:
    server = make_orthanc({"Dictionary": {"0009,1001": ["LO", "ReshapeTestText", 1, 1, "RESHAPE TEST"]}})
    instance = server.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    ours = read(server.post(f"/instances/{instance}/modify", {"Replace": {"ReshapeTestText": "named"},
                                                              "PrivateCreator": "RESHAPE TEST"}).body)
    assert ours[0x00091001].value == "named"
