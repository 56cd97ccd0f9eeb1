"""Annex E options, DicomVersion 2026a and Retain Safe Private on a real Orthanc."""
from __future__ import annotations

from dicom_compare import read
from dicom_files import make_ct_series, to_bytes
from orthanc_server import OrthancServer


def test_options_and_their_codes_on_a_stored_study(clean_orthanc: OrthancServer) -> None:
    image = make_ct_series(1)[0]
    block = image.private_block(0x0043, "GEMS_PARM_01", create=True)
    block.add_new(0x27, "SH", "1234")   # safe (Table E.3.10-1)
    block.add_new(0x01, "LO", "x")      # not listed
    study = clean_orthanc.upload(to_bytes(image))["ParentStudy"]
    body = {"DicomVersion": "2026a", "Options": ["RetainInstitutionIdentity", "RetainDeviceIdentity",
                                                 "RetainSafePrivate", "RetainLongitudinalFullDates"]}
    answer = clean_orthanc.post_json(f"/studies/{study}/anonymize", body)
    (instance,) = clean_orthanc.get_json(f"/studies/{answer['ID']}/instances")
    out = read(clean_orthanc.instance_file(instance["ID"]))
    assert out.InstitutionName == image.InstitutionName and out.StationName == image.StationName
    assert out.StudyDate == image.StudyDate and out.AcquisitionDate == image.AcquisitionDate
    assert out.PatientName.family_name.startswith("Anonymized")
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == \
        ["113100", "113112", "113109", "113111", "113106"]
    assert out.DeidentificationMethod[0] == "Orthanc Reshape - PS 3.15-2026a Table E.1-1 Basic Profile"
    private = {tag: out[tag].value for tag in out.keys() if (tag >> 16) & 1}
    assert private == {0x00430010: "GEMS_PARM_01", 0x00431027: "1234"}


def test_unknown_option_is_a_400(clean_orthanc: OrthancServer) -> None:
    study = clean_orthanc.upload(to_bytes(make_ct_series(1)[0]))["ParentStudy"]
    response = clean_orthanc.post(f"/studies/{study}/anonymize", {"Options": ["CleanPixelData"]})
    assert response.status == 400 and response.json()["Field"] == "Options[0]"
