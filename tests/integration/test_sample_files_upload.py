"""The test data is what it claims to be: Orthanc stores every file of tests/dicom_files.py."""
from __future__ import annotations

import pytest

import dicom_files
from orthanc_reshape.dicom.files import orthanc_instance_id
from orthanc_server import OrthancServer


@pytest.mark.parametrize("path", dicom_files.pydicom_test_files(), ids=lambda p: p.name)
def test_orthanc_accepts_every_selected_pydicom_file(clean_orthanc: OrthancServer, path) -> None:
    """... and gives it the ID the plugin predicts (the write-ahead journal of jobs, OverwriteInstances)."""
    response = clean_orthanc.post("/instances", path.read_bytes(), content_type="application/dicom")
    assert response.status == 200, response.text()
    assert response.json()["ID"] == orthanc_instance_id(path.read_bytes())


def test_representative_files_are_distinct_instances(clean_orthanc: OrthancServer) -> None:
    answers = [clean_orthanc.upload(p.read_bytes()) for p in dicom_files.representative_files()]
    assert [a["Status"] for a in answers] == ["Success"] * len(answers)
    assert len(clean_orthanc.instances()) == len(dicom_files.REPRESENTATIVE_FILES)


def test_generated_study_with_rt_sr_and_pr_is_stored(clean_orthanc: OrthancServer) -> None:
    images = dicom_files.make_study(series_count=2, instances_per_series=2)
    derived = [dicom_files.make_rtstruct_for(images), dicom_files.make_sr_with_evidence(images),
               dicom_files.make_presentation_state_for(images)]
    answers = [clean_orthanc.upload(dicom_files.to_bytes(ds)) for ds in images + derived]
    assert {a["Status"] for a in answers} == {"Success"}
    assert len(clean_orthanc.studies()) == 1
    assert len(clean_orthanc.series()) == 5
    tags = clean_orthanc.tags(answers[0]["ID"])
    assert tags["PatientName"] == "Doe^Jane"
    assert tags["ReferencedImageSequence"][0]["ReferencedSOPInstanceUID"] == images[1].SOPInstanceUID


def test_generated_dimension_study_is_stored(clean_orthanc: OrthancServer) -> None:
    (image,) = dicom_files.make_dimension_study()
    answer = clean_orthanc.upload(dicom_files.to_bytes(image))
    tags = clean_orthanc.tags(answer["ID"])
    assert len(tags["DimensionIndexSequence"]) == 3
    assert len(tags["ReferencedImageEvidenceSequence"]) == 3
    assert tags["NumberOfFrames"] == "2"
