"""The test-data helpers of tests/dicom_files.py (no server)."""
from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, ImplicitVRLittleEndian

import dicom_files as df


def _read(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def _all_uids(ds: Dataset) -> list[str]:
    found: list[str] = []

    def visit(dataset: Dataset, element: pydicom.DataElement) -> None:
        if element.VR == "UI" and element.value:
            values = element.value if isinstance(element.value, list) else [element.value]
            found.extend(str(v) for v in values)

    ds.walk(visit)
    return found


# -- pydicom files ---------------------------------------------------------------------------------

def test_pydicom_test_files_are_part10_files_with_the_uids_orthanc_needs() -> None:
    files = df.pydicom_test_files()
    assert len(files) > 40
    for path in files:
        ds = pydicom.dcmread(path)
        assert "TransferSyntaxUID" in ds.file_meta
        assert all(ds.get(k) for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"))


@pytest.mark.parametrize("name", [
    "rtstruct.dcm",                # no File Meta
    "no_meta.dcm",                 # no File Meta
    "ExplVR_LitEndNoMeta.dcm",     # no File Meta
    "meta_missing_tsyntax.dcm",    # no TransferSyntaxUID
    "JPEGLSNearLossless_08.dcm",   # no Study/Series UIDs: Orthanc answers 404 "Inexistent tag"
    "MR_truncated.dcm",            # Orthanc: "Cannot parse an invalid DICOM file"
    "SC_rgb_jpeg.dcm",             # pydicom warns (wrong VR encoding); Orthanc rejects it
])
def test_unusable_files_are_left_out(name: str) -> None:
    assert df.test_file(name).exists()
    assert name not in {p.name for p in df.pydicom_test_files()}


def test_representative_files_are_selected_and_distinct() -> None:
    selected = {p.name for p in df.pydicom_test_files()}
    assert 10 <= len(df.REPRESENTATIVE_FILES) <= 15
    assert set(df.REPRESENTATIVE_FILES) <= selected
    uids = [pydicom.dcmread(p).SOPInstanceUID for p in df.representative_files()]
    assert len(set(uids)) == len(uids)


def test_representative_files_cover_the_transfer_syntaxes() -> None:
    syntaxes = {str(pydicom.dcmread(p).file_meta.TransferSyntaxUID) for p in df.representative_files()}
    assert {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
            "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.91",
            "1.2.840.10008.1.2.5"} <= syntaxes


def test_unknown_test_file_is_an_error() -> None:
    with pytest.raises(FileNotFoundError):
        df.test_file("nope.dcm")


# -- generators ------------------------------------------------------------------------------------

def test_ct_series_round_trips_through_pydicom() -> None:
    images = df.make_ct_series(3)
    for original in images:
        copy = _read(df.to_bytes(original))
        assert copy.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert copy.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
        assert copy.SOPInstanceUID == original.SOPInstanceUID
        assert copy.PatientName == "Doe^Jane" and copy.PatientID == "RESHAPE-0001"
        assert copy.PixelData == original.PixelData and len(copy.PixelData) == 16 * 16 * 2
        block = copy.private_block(df.PRIVATE_GROUP, df.PRIVATE_CREATOR)
        assert block[0x01].value.startswith("private text")
        assert block[0x10].value[0].SOPInstanceUID == original.SOPInstanceUID


def test_ct_series_has_the_identifying_modules() -> None:
    (image,) = df.make_ct_series(1)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "AccessionNumber", "StudyDescription", "ReferringPhysicianName", "InstitutionName",
                    "StationName", "Manufacturer", "SeriesDate", "FrameOfReferenceUID"):
        assert image.get(keyword), keyword


def test_ct_images_reference_the_previous_image() -> None:
    images = df.make_ct_series(4)
    for i, image in enumerate(images):
        assert image.ReferencedImageSequence[0].ReferencedSOPInstanceUID == images[i - 1].SOPInstanceUID
        source = image.SourceImageSequence[0].ReferencedSOPInstanceUID
        assert source not in {x.SOPInstanceUID for x in images}


def test_generated_uids_are_valid() -> None:
    images = df.make_study(series_count=2, instances_per_series=2)
    datasets = images + [df.make_rtstruct_for(images), df.make_sr_with_evidence(images),
                         df.make_presentation_state_for(images)] + df.make_dimension_study(2)
    for ds in datasets:
        for value in _all_uids(ds):
            assert UID(value).is_valid, value


def test_generators_are_deterministic_per_seed() -> None:
    assert [df.to_bytes(d) for d in df.make_study(seed=3)] == [df.to_bytes(d) for d in df.make_study(seed=3)]
    assert df.make_study(seed=3)[0].SOPInstanceUID != df.make_study(seed=4)[0].SOPInstanceUID
    first, other = df.make_study(seed=3)[0], df.make_study(seed=4)[0]
    assert first.PixelData != other.PixelData


def test_study_groups_series_in_one_study() -> None:
    images = df.make_study(series_count=3, instances_per_series=2, patient_id="P9")
    assert len(images) == 6
    assert len({i.StudyInstanceUID for i in images}) == 1
    assert len({i.SeriesInstanceUID for i in images}) == 3
    assert len({i.SOPInstanceUID for i in images}) == 6
    assert len({i.FrameOfReferenceUID for i in images}) == 1
    assert {i.PatientID for i in images} == {"P9"}


def test_pixel_size_option() -> None:
    (image,) = df.make_ct_series(1, rows=64, columns=32)
    assert (image.Rows, image.Columns, len(image.PixelData)) == (64, 32, 64 * 32 * 2)


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian])
def test_to_bytes_with_another_transfer_syntax(syntax: str) -> None:
    (image,) = df.make_ct_series(1)
    copy = _read(df.to_bytes(image, syntax))
    assert copy.file_meta.TransferSyntaxUID == syntax
    assert copy.SOPInstanceUID == image.SOPInstanceUID
    assert image.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"  # the input is untouched


def test_rtstruct_references_every_image() -> None:
    images = df.make_study(series_count=2, instances_per_series=2)
    rt = _read(df.to_bytes(df.make_rtstruct_for(images)))
    assert rt.StudyInstanceUID == images[0].StudyInstanceUID and rt.PatientID == images[0].PatientID
    assert rt.SeriesInstanceUID not in {i.SeriesInstanceUID for i in images}
    frame = rt.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == images[0].FrameOfReferenceUID
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == images[0].StudyInstanceUID
    assert [s.SeriesInstanceUID for s in study.RTReferencedSeriesSequence] == \
        list(dict.fromkeys(i.SeriesInstanceUID for i in images))
    referenced = [c.ReferencedSOPInstanceUID for s in study.RTReferencedSeriesSequence
                  for c in s.ContourImageSequence]
    assert referenced == [i.SOPInstanceUID for i in images]
    contours = rt.ROIContourSequence[0].ContourSequence
    assert [c.ContourImageSequence[0].ReferencedSOPInstanceUID for c in contours] == referenced
    assert rt.StructureSetROISequence[0].ROINumber == rt.ROIContourSequence[0].ReferencedROINumber


def test_sr_lists_its_evidence_and_an_image() -> None:
    images = df.make_ct_series(3)
    sr = _read(df.to_bytes(df.make_sr_with_evidence(images)))
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == images[0].StudyInstanceUID
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == images[0].SeriesInstanceUID
    assert [r.ReferencedSOPInstanceUID for r in series.ReferencedSOPSequence] == [i.SOPInstanceUID for i in images]
    image_items = [c for c in sr.ContentSequence if c.ValueType == "IMAGE"]
    assert image_items[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == images[0].SOPInstanceUID


def test_presentation_state_references_every_image() -> None:
    images = df.make_ct_series(2)
    pr = _read(df.to_bytes(df.make_presentation_state_for(images)))
    assert pr.Modality == "PR"
    refs = pr.ReferencedSeriesSequence[0].ReferencedImageSequence
    assert [r.ReferencedSOPInstanceUID for r in refs] == [i.SOPInstanceUID for i in images]


def test_dimension_study_has_the_paths_of_test_modify_subsequences() -> None:
    (image,) = df.make_dimension_study()
    ds = _read(df.to_bytes(image))
    assert [i.DimensionDescriptionLabel for i in ds.DimensionIndexSequence] == ["Label 0", "Label 1", "Label 2"]
    evidence = ds.ReferencedImageEvidenceSequence
    assert len(evidence) == 3
    assert evidence[2].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    assert len(ds.SharedFunctionalGroupsSequence) == 1  # so [2] does not exist
    assert len(ds.SharedFunctionalGroupsSequence[0].ReferencedImageSequence) == 3
    assert ds.PerformedProtocolCodeSequence[0].CodeValue
    assert ds.ReferencedPerformedProcedureStepSequence[0].ReferencedSOPInstanceUID
    assert ds.DimensionOrganizationSequence[0].DimensionOrganizationUID
    for frame in ds.PerFrameFunctionalGroupsSequence:
        assert frame[0x20050014].value == df.PHILIPS_CREATOR
        philips = frame[0x2005140F].value[0]
        assert philips.SOPInstanceUID and philips.ContentDate == "20240103"
    assert int(ds.NumberOfFrames) == len(ds.PerFrameFunctionalGroupsSequence) == 2


def test_dimension_study_shape_options() -> None:
    (image,) = df.make_dimension_study(shared_groups_items=3, referenced_images=2)
    assert [len(g.ReferencedImageSequence) for g in image.SharedFunctionalGroupsSequence] == [2, 2, 2]
