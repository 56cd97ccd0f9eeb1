"""Test data: the DICOM files shipped in the pydicom wheel, and small generated studies.

Real files
  pydicom_test_files()      every Part-10 file of pydicom/data that Orthanc stores (see the filter there)
  REPRESENTATIVE_FILES      ~a dozen of them covering transfer syntaxes, charsets, sequences, private tags,
                            multi-frame; all have distinct SOPInstanceUIDs, so they can be uploaded together
  test_file(name) / test_file_bytes(name)

Generated files (pydicom only, no numpy; deterministic for a given seed; 16x16 pixels by default)
  make_ct_series, make_study, make_rtstruct_for, make_sr_with_evidence, make_presentation_state_for,
  make_dimension_study, and to_bytes(ds) -> a Part-10 file (explicit VR little endian unless asked otherwise).
"""
from __future__ import annotations

import array
import copy
import functools
import io
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (PYDICOM_IMPLEMENTATION_UID, PYDICOM_ROOT_UID, UID, ExplicitVRLittleEndian,
                         generate_uid)

# --------------------------------------------------------------------------------------------
# Files shipped with pydicom
# --------------------------------------------------------------------------------------------

PYDICOM_DATA = Path(os.path.dirname(pydicom.data.__file__))
PYDICOM_FILE_DIRS = (PYDICOM_DATA / "test_files", PYDICOM_DATA / "charset_files")
MAX_FILE_SIZE = 5 * 1024 * 1024
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")

# Read without complaint by pydicom, rejected by Orthanc 1.10.1 with 400 "Cannot parse an invalid DICOM file":
# the data stops in the middle of an element. (Checked by tests/integration/test_sample_files_upload.py.)
ORTHANC_REJECTS = frozenset({"MR_truncated.dcm", "rtplan_truncated.dcm"})

# name -> what it covers. Every one was uploaded to Orthanc 1.10.1 (200, "Success"), and their
# SOPInstanceUIDs are pairwise distinct. Note: many pydicom files share UIDs (all MR_small_* are the same
# instance; rtdose_* too), so uploading all of pydicom_test_files() gives "AlreadyStored" for some.
REPRESENTATIVE_FILES: dict[str, str] = {
    "CT_small.dcm": "explicit VR little endian; GE private tags (groups 0009, 0019, 0043...); a sequence",
    "ExplVR_BigEnd.dcm": "explicit VR big endian (US)",
    "rtplan.dcm": "implicit VR little endian; RT plan, nested sequences (beams, control points, references)",
    "rtdose.dcm": "implicit VR little endian; multi-frame (15 frames), ReferencedRTPlanSequence",
    "SC_rgb_jpeg_dcmtk.dcm": "JPEG baseline (1.2.840.10008.1.2.4.50), RGB, ISO_IR 192",
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS lossless (1.2.840.10008.1.2.4.80)",
    "JPEG2000.dcm": "JPEG 2000 (1.2.840.10008.1.2.4.91), NM, private tags, sequences",
    "SC_rgb_rle.dcm": "RLE lossless (1.2.840.10008.1.2.5), RGB",
    "image_dfl.dcm": "deflated explicit VR little endian (1.2.840.10008.1.2.1.99)",
    "chrH31.dcm": "Japanese, SpecificCharacterSet ['', 'ISO 2022 IR 87'] (code extensions)",
    "chrX1.dcm": "UTF-8, SpecificCharacterSet ISO_IR 192",
    "test-SR.dcm": "structured report: deep ContentSequence, references to images",
    "examples_ybr_color.dcm": "multi-frame (30 frames) JPEG baseline, YBR, private tags",
}


def _is_orthanc_storable(path: Path) -> bool:
    """A Part-10 file pydicom reads without a warning, with the UIDs Orthanc needs (it answers 404
    "Inexistent tag" without Study/Series UIDs), not a DICOMDIR, at most 5 MB."""
    if path.name in ORTHANC_REJECTS or path.stat().st_size > MAX_FILE_SIZE:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = pydicom.dcmread(path)  # no force: a file without preamble/File Meta fails here
    except Exception:
        return False
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        return False
    if meta.get("MediaStorageSOPClassUID") == DICOMDIR_SOP_CLASS:
        return False
    return all(ds.get(keyword) for keyword in REQUIRED_UIDS)


@functools.lru_cache(maxsize=1)
def _pydicom_test_files() -> tuple[Path, ...]:
    found = []
    for folder in PYDICOM_FILE_DIRS:
        for path in sorted(folder.glob("*.dcm")):
            if _is_orthanc_storable(path):
                found.append(path)
    return tuple(found)


def pydicom_test_files() -> list[Path]:
    """Paths of the DICOM files in the installed pydicom wheel that Orthanc accepts (POST /instances -> 200)."""
    return list(_pydicom_test_files())


def test_file(name: str) -> Path:
    """Path of a file of the pydicom wheel by name (e.g. "CT_small.dcm", "chrX1.dcm")."""
    for folder in PYDICOM_FILE_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} is not in the pydicom wheel ({PYDICOM_DATA})")


test_file.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name


def test_file_bytes(name: str) -> bytes:
    return test_file(name).read_bytes()


test_file_bytes.__test__ = False  # type: ignore[attr-defined]


def representative_files() -> list[Path]:
    return [test_file(name) for name in REPRESENTATIVE_FILES]


# --------------------------------------------------------------------------------------------
# Generated files
# --------------------------------------------------------------------------------------------

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
COMPREHENSIVE_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.33"
GSPS_STORAGE = "1.2.840.10008.5.1.4.1.1.11.1"
DETACHED_STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"
MODALITY_PPS = "1.2.840.10008.3.1.2.3.3"

PRIVATE_CREATOR = "RESHAPE TEST"
PRIVATE_GROUP = 0x0009
PHILIPS_CREATOR = "Philips MR Imaging DD 005"  # owns block 0x14 of group 2005, hence (2005,140f)


def uid(*parts: object) -> UID:
    """A valid UID derived only from `parts` (same parts, same UID)."""
    return generate_uid(prefix=PYDICOM_ROOT_UID, entropy_srcs=[repr(p) for p in parts])


def _pixels(rows: int, columns: int, frames: int, seed: int, bits_stored: int = 12) -> bytes:
    """A deterministic 16-bit little-endian gradient (no numpy)."""
    top = (1 << bits_stored) - 1
    values = array.array("H", ((r * 7 + c * 3 + f * 11 + seed * 13) & top
                               for f in range(frames) for r in range(rows) for c in range(columns)))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def item(**elements: object) -> Dataset:
    """A dataset (a sequence item) from keyword=value pairs."""
    dataset = Dataset()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return dataset


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    return item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def _file_meta(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "RESHAPE_TESTS"
    return meta


def _copy_patient_study(source: Dataset, target: Dataset) -> None:
    """Patient and study modules (and SpecificCharacterSet) of `source`, onto `target`."""
    for keyword in ("SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "StudyDescription",
                    "ReferringPhysicianName", "StudyID"):
        if keyword in source:
            setattr(target, keyword, copy.deepcopy(source[keyword].value))


def _new_series(source: Dataset, sop_class: str, modality: str, series_uid: str, sop_uid: str,
                series_number: int, description: str) -> Dataset:
    ds = Dataset()
    _copy_patient_study(source, ds)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.SeriesDate = source.get("StudyDate", "")
    ds.SeriesTime = source.get("StudyTime", "")
    ds.InstanceNumber = 1
    ds.ContentDate = source.get("StudyDate", "")
    ds.ContentTime = source.get("StudyTime", "")
    ds.Manufacturer = "Orthanc Reshape tests"
    ds.file_meta = _file_meta(ds)
    return ds


def _by_series(images: Sequence[Dataset]) -> dict[str, list[Dataset]]:
    series: dict[str, list[Dataset]] = {}
    for image in images:
        series.setdefault(str(image.SeriesInstanceUID), []).append(image)
    return series


def make_ct_series(n: int = 3, *, seed: int = 0,
                   patient_name: str = "Doe^Jane", patient_id: str = "RESHAPE-0001",
                   patient_birth_date: str = "19700101", patient_sex: str = "F",
                   study_uid: str | None = None, series_uid: str | None = None,
                   frame_of_reference_uid: str | None = None,
                   study_date: str = "20240102", study_time: str = "101010",
                   accession_number: str = "ACC0001", study_description: str = "Reshape test study",
                   study_id: str = "1", series_number: int = 1, series_description: str = "CT series",
                   institution_name: str = "Reshape Hospital", station_name: str = "CT01",
                   referring_physician: str = "Referrer^Rita",
                   rows: int = 16, columns: int = 16, charset: str = "ISO_IR 100") -> list[Dataset]:
    """`n` CT images of one series, with full patient/study/series/equipment modules.

    Each image also has: a private block (creator "RESHAPE TEST" in group 0009: a LO, a US, a UI and a
    private SQ whose item holds the image's own SOPInstanceUID); ReferencedImageSequence pointing at the
    previous image of the series (the first points at the last); SourceImageSequence pointing at an image
    that is not in the set (a dangling reference); ProcedureCodeSequence; RequestAttributesSequence.
    """
    study_uid = study_uid or uid("study", seed, patient_id)
    series_uid = series_uid or uid("series", seed, study_uid, series_number)
    frame_of_reference_uid = frame_of_reference_uid or uid("for", seed, study_uid)
    sop_uids = [uid("sop", seed, series_uid, i) for i in range(n)]
    images = []
    for i in range(n):
        ds = Dataset()
        ds.SpecificCharacterSet = charset
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uids[i]
        ds.StudyDate = study_date
        ds.SeriesDate = study_date
        ds.AcquisitionDate = study_date
        ds.ContentDate = study_date
        ds.StudyTime = study_time
        ds.SeriesTime = study_time
        ds.AcquisitionTime = study_time
        ds.ContentTime = study_time
        ds.AccessionNumber = accession_number
        ds.Modality = "CT"
        ds.Manufacturer = "Reshape Medical"
        ds.InstitutionName = institution_name
        ds.InstitutionAddress = "1 Test Street, Testville"
        ds.ReferringPhysicianName = referring_physician
        ds.StationName = station_name
        ds.StudyDescription = study_description
        ds.ProcedureCodeSequence = DicomSequence([_code("CTHEAD", "99RESHAPE", "CT of the head")])
        ds.SeriesDescription = series_description
        ds.OperatorsName = "Operator^Olga"
        ds.ManufacturerModelName = "Reshaper 3000"
        ds.ReferencedImageSequence = DicomSequence([item(
            ReferencedSOPClassUID=CT_IMAGE_STORAGE, ReferencedSOPInstanceUID=sop_uids[i - 1])])
        ds.SourceImageSequence = DicomSequence([item(
            ReferencedSOPClassUID=CT_IMAGE_STORAGE,
            ReferencedSOPInstanceUID=uid("source-image", seed, series_uid, i))])
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = patient_birth_date
        ds.PatientSex = patient_sex
        ds.PatientAge = "054Y"
        ds.SliceThickness = "1.0"
        ds.KVP = "120"
        ds.DeviceSerialNumber = "SN-42"
        ds.SoftwareVersions = "1.0"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = study_id
        ds.SeriesNumber = series_number
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = float(i)
        ds.RequestAttributesSequence = DicomSequence([item(
            RequestedProcedureID="RP-1", ScheduledProcedureStepID="SPS-1")])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.PixelSpacing = [0.5, 0.5]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
        block.add_new(0x01, "LO", f"private text {i}")
        block.add_new(0x02, "US", i)
        block.add_new(0x03, "UI", uid("private-uid", seed, series_uid, i))
        block.add_new(0x10, "SQ", DicomSequence([item(SOPInstanceUID=sop_uids[i])]))
        ds.PixelData = _pixels(rows, columns, 1, seed + i)
        ds["PixelData"].VR = "OW"
        ds.file_meta = _file_meta(ds)
        images.append(ds)
    return images


def make_study(*, series_count: int = 2, instances_per_series: int = 3, seed: int = 0,
               patient_name: str = "Doe^Jane", patient_id: str = "RESHAPE-0001",
               study_uid: str | None = None, **ct_options: object) -> list[Dataset]:
    """One CT study: `series_count` series of `instances_per_series` images (flat list, series after series).
    All series share the study's FrameOfReferenceUID. Other options go to make_ct_series."""
    study_uid = study_uid or uid("study", seed, patient_id)
    frame_of_reference_uid = uid("for", seed, study_uid)
    images: list[Dataset] = []
    for number in range(1, series_count + 1):
        images += make_ct_series(instances_per_series, seed=seed, patient_name=patient_name,
                                 patient_id=patient_id, study_uid=study_uid, series_number=number,
                                 series_description=f"CT series {number}",
                                 frame_of_reference_uid=frame_of_reference_uid,
                                 **ct_options)  # type: ignore[arg-type]
    return images


def make_rtstruct_for(images: Sequence[Dataset], *, seed: int = 0, series_number: int = 100) -> Dataset:
    """An RT Structure Set (new series, same patient and study) whose references point at `images`.

    ReferencedFrameOfReferenceSequence > RTReferencedStudySequence (ReferencedSOPInstanceUID = the images'
    StudyInstanceUID) > RTReferencedSeriesSequence (one item per series) > ContourImageSequence (one item
    per image); StructureSetROISequence; ROIContourSequence > ContourSequence (one contour per image, each
    with its ContourImageSequence); RTROIObservationsSequence.
    """
    first = images[0]
    ds = _new_series(first, RT_STRUCTURE_SET_STORAGE, "RTSTRUCT",
                     uid("rtstruct-series", seed, first.StudyInstanceUID),
                     uid("rtstruct", seed, *(i.SOPInstanceUID for i in images)), series_number, "RT structures")
    ds.StructureSetLabel = "Reshape"
    ds.StructureSetName = "Reshape structures"
    ds.StructureSetDate = first.get("StudyDate", "")
    ds.StructureSetTime = first.get("StudyTime", "")
    frame_of_reference = first.FrameOfReferenceUID

    def contour_image(image: Dataset) -> Dataset:
        return item(ReferencedSOPClassUID=image.SOPClassUID, ReferencedSOPInstanceUID=image.SOPInstanceUID)

    series_items = [item(SeriesInstanceUID=series_uid,
                          ContourImageSequence=DicomSequence([contour_image(i) for i in members]))
                    for series_uid, members in _by_series(images).items()]
    study_item = item(ReferencedSOPClassUID=DETACHED_STUDY_MANAGEMENT,
                       ReferencedSOPInstanceUID=first.StudyInstanceUID,
                       RTReferencedSeriesSequence=DicomSequence(series_items))
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([item(
        FrameOfReferenceUID=frame_of_reference, RTReferencedStudySequence=DicomSequence([study_item]))])
    ds.StructureSetROISequence = DicomSequence([item(
        ROINumber=1, ReferencedFrameOfReferenceUID=frame_of_reference, ROIName="BODY",
        ROIGenerationAlgorithm="MANUAL")])
    contours = []
    for image in images:
        z = float(image.ImagePositionPatient[2]) if "ImagePositionPatient" in image else 0.0
        contours.append(item(ContourImageSequence=DicomSequence([contour_image(image)]),
                              ContourGeometricType="CLOSED_PLANAR", NumberOfContourPoints=4,
                              ContourData=[0, 0, z, 4, 0, z, 4, 4, z, 0, 4, z]))
    ds.ROIContourSequence = DicomSequence([item(
        ReferencedROINumber=1, ROIDisplayColor=[255, 0, 0], ContourSequence=DicomSequence(contours))])
    ds.RTROIObservationsSequence = DicomSequence([item(
        ObservationNumber=1, ReferencedROINumber=1, RTROIInterpretedType="EXTERNAL", ROIInterpreter="")])
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


def make_sr_with_evidence(images: Sequence[Dataset], *, seed: int = 0, series_number: int = 200) -> Dataset:
    """A Comprehensive SR (new series, same patient and study) about `images`.

    CurrentRequestedProcedureEvidenceSequence > (StudyInstanceUID) ReferencedSeriesSequence > ReferencedSOPSequence
    lists every image; the ContentSequence holds a TEXT item, a PNAME item and an IMAGE item whose
    ReferencedSOPSequence points at the first image.
    """
    first = images[0]
    ds = _new_series(first, COMPREHENSIVE_SR_STORAGE, "SR", uid("sr-series", seed, first.StudyInstanceUID),
                     uid("sr", seed, *(i.SOPInstanceUID for i in images)), series_number, "Report")
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = DicomSequence([_code("18748-4", "LN", "Diagnostic imaging report")])
    series_items = [item(SeriesInstanceUID=series_uid, ReferencedSOPSequence=DicomSequence([
        item(ReferencedSOPClassUID=i.SOPClassUID, ReferencedSOPInstanceUID=i.SOPInstanceUID)
        for i in members])) for series_uid, members in _by_series(images).items()]
    ds.CurrentRequestedProcedureEvidenceSequence = DicomSequence([item(
        StudyInstanceUID=first.StudyInstanceUID, ReferencedSeriesSequence=DicomSequence(series_items))])
    ds.ContentSequence = DicomSequence([
        item(RelationshipType="CONTAINS", ValueType="TEXT",
              ConceptNameCodeSequence=DicomSequence([_code("121071", "DCM", "Finding")]),
              TextValue="Nothing to report"),
        item(RelationshipType="HAS OBS CONTEXT", ValueType="PNAME",
              ConceptNameCodeSequence=DicomSequence([_code("121008", "DCM", "Person Observer Name")]),
              PersonName="Observer^Olivia"),
        item(RelationshipType="CONTAINS", ValueType="IMAGE",
              ConceptNameCodeSequence=DicomSequence([_code("121080", "DCM", "Best illustration of finding")]),
              ReferencedSOPSequence=DicomSequence([item(ReferencedSOPClassUID=first.SOPClassUID,
                                                         ReferencedSOPInstanceUID=first.SOPInstanceUID)])),
    ])
    return ds


def make_presentation_state_for(images: Sequence[Dataset], *, seed: int = 0, series_number: int = 300) -> Dataset:
    """A Grayscale Softcopy Presentation State (new series, same patient and study) applying to `images`:
    ReferencedSeriesSequence > ReferencedImageSequence, one item per series and per image."""
    first = images[0]
    ds = _new_series(first, GSPS_STORAGE, "PR", uid("pr-series", seed, first.StudyInstanceUID),
                     uid("pr", seed, *(i.SOPInstanceUID for i in images)), series_number, "Presentation")
    ds.ContentLabel = "RESHAPE"
    ds.ContentDescription = "Window for the tests"
    ds.PresentationCreationDate = first.get("StudyDate", "")
    ds.PresentationCreationTime = first.get("StudyTime", "")
    ds.ContentCreatorName = "Reader^Rob"
    ds.ReferencedSeriesSequence = DicomSequence([
        item(SeriesInstanceUID=series_uid, ReferencedImageSequence=DicomSequence([
            item(ReferencedSOPClassUID=i.SOPClassUID, ReferencedSOPInstanceUID=i.SOPInstanceUID)
            for i in members]))
        for series_uid, members in _by_series(images).items()])
    ds.SoftcopyVOILUTSequence = DicomSequence([item(WindowCenter="40", WindowWidth="400")])
    ds.PresentationLUTShape = "IDENTITY"
    return ds


def make_dimension_study(instances: int = 1, *, seed: int = 0, patient_name: str = "Dimension^Dora",
                         patient_id: str = "RESHAPE-DIM", frames: int = 2, shared_groups_items: int = 1,
                         referenced_images: int = 3, rows: int = 16, columns: int = 16) -> list[Dataset]:
    """Enhanced MR images carrying the sequences of Orthanc's test_modify_subsequences (spec §4):

    DimensionIndexSequence (3 items, DimensionDescriptionLabel "Label 0..2"); ReferencedImageEvidenceSequence
    (3 items, each ReferencedSeriesSequence > ReferencedSOPSequence > ReferencedSOPInstanceUID);
    SharedFunctionalGroupsSequence (`shared_groups_items` items, default 1 as in a real enhanced image, so
    that `SharedFunctionalGroupsSequence[2].ReferencedImageSequence` does not exist; each item has a
    ReferencedImageSequence of `referenced_images` items, default 3); PerformedProtocolCodeSequence (CodeValue);
    ReferencedPerformedProcedureStepSequence; DimensionOrganizationSequence (DimensionOrganizationUID);
    PerFrameFunctionalGroupsSequence (one item per frame), each item holding the Philips private sequence
    (2005,140f) (creator "Philips MR Imaging DD 005" at (2005,0014)) whose item has SOPInstanceUID and
    ContentDate (0008,0023), for `PerFrameFunctionalGroupsSequence[*].2005,140f[*].SOPInstanceUID`.
    """
    study_uid = uid("dim-study", seed, patient_id)
    series_uid = uid("dim-series", seed, study_uid)
    organization_uid = uid("dim-organization", seed, study_uid)
    images = []
    for n in range(instances):
        sop_uid = uid("dim-sop", seed, series_uid, n)
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M_FFE", "M"]
        ds.SOPClassUID = ENHANCED_MR_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240103"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
        ds.AccessionNumber = "ACC-DIM"
        ds.Modality = "MR"
        ds.Manufacturer = "Reshape Medical"
        ds.InstitutionName = "Reshape Hospital"
        ds.ReferringPhysicianName = "Referrer^Rita"
        ds.StudyDescription = "Dimension study"
        ds.SeriesDescription = "Enhanced MR"
        ds.ReferencedPerformedProcedureStepSequence = DicomSequence([item(
            ReferencedSOPClassUID=MODALITY_PPS, ReferencedSOPInstanceUID=uid("dim-pps", seed, study_uid))])
        ds.ReferencedImageEvidenceSequence = DicomSequence([
            item(StudyInstanceUID=study_uid, ReferencedSeriesSequence=DicomSequence([item(
                SeriesInstanceUID=uid("dim-evidence-series", seed, k),
                ReferencedSOPSequence=DicomSequence([item(
                    ReferencedSOPClassUID=ENHANCED_MR_IMAGE_STORAGE,
                    ReferencedSOPInstanceUID=uid("dim-evidence", seed, n, k))]))]))
            for k in range(3)])
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19800202"
        ds.PatientSex = "O"
        ds.PerformedProtocolCodeSequence = DicomSequence([_code("PROTO-1", "99RESHAPE", "Test protocol")])
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = 1
        ds.InstanceNumber = n + 1
        ds.FrameOfReferenceUID = uid("dim-for", seed, study_uid)
        ds.PositionReferenceIndicator = ""
        ds.DimensionOrganizationSequence = DicomSequence([item(DimensionOrganizationUID=organization_uid)])
        ds.DimensionIndexSequence = DicomSequence([
            item(DimensionOrganizationUID=organization_uid,
                  DimensionIndexPointer=pointer, FunctionalGroupPointer=group,
                  DimensionDescriptionLabel=f"Label {k}")
            for k, (pointer, group) in enumerate([(0x00209056, 0x00209111), (0x00209057, 0x00209111),
                                                  (0x00209128, 0x00209111)])])
        ds.SharedFunctionalGroupsSequence = DicomSequence([
            item(ReferencedImageSequence=DicomSequence([
                item(ReferencedSOPClassUID=ENHANCED_MR_IMAGE_STORAGE,
                      ReferencedSOPInstanceUID=uid("dim-shared-ref", seed, n, g, r))
                for r in range(referenced_images)]))
            for g in range(shared_groups_items)])
        per_frame = []
        for f in range(frames):
            frame = item(FrameContentSequence=DicomSequence([item(
                StackID="1", InStackPositionNumber=f + 1, DimensionIndexValues=[1, f + 1, 1])]))
            frame.add_new(0x20050014, "LO", PHILIPS_CREATOR)  # private creator of block 0x14
            frame.add_new(0x2005140F, "SQ", DicomSequence([item(
                SOPInstanceUID=uid("dim-philips", seed, n, f), ContentDate="20240103")]))
            per_frame.append(frame)
        ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
        ds.NumberOfFrames = frames
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.PixelData = _pixels(rows, columns, frames, seed + n)
        ds["PixelData"].VR = "OW"
        ds.file_meta = _file_meta(ds)
        images.append(ds)
    return images


def to_bytes(ds: Dataset, transfer_syntax: str | None = None) -> bytes:
    """A DICOM Part-10 file (preamble, "DICM", File Meta) for `ds`, explicit VR little endian unless
    `transfer_syntax` (an uncompressed one) says otherwise. `ds` itself is not modified."""
    out = copy.copy(ds)
    meta = _file_meta(ds, transfer_syntax or ExplicitVRLittleEndian)
    for element in getattr(ds, "file_meta", None) or ():
        if element.keyword not in ("TransferSyntaxUID", "MediaStorageSOPClassUID",
                                   "MediaStorageSOPInstanceUID", "FileMetaInformationGroupLength"):
            meta[element.tag] = copy.deepcopy(element)
    out.file_meta = meta
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, out, enforce_file_format=True)
    return buffer.getvalue()


def all_bytes(datasets: Iterable[Dataset]) -> list[bytes]:
    return [to_bytes(ds) for ds in datasets]
