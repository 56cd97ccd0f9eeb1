"""Moving instances into another study (split/merge): derived UIDs, module values, references that follow."""
from __future__ import annotations

import re

from pydicom.dataset import Dataset

from dicom_files import (make_ct_series, make_presentation_state_for, make_rtstruct_for, make_sr_with_evidence,
                         make_study, to_bytes)
from orthanc_reshape.dicom.files import read_dataset, write_dataset
from orthanc_reshape.dicom.profiles import merge_copied_tags, split_allowed_tags
from orthanc_reshape.dicom.relocation import (MovedSet, Relocation, UidScheme, module_values, relocate,
                                              rewrite_references, split_study_uid)
from orthanc_reshape.dicom.tags import parse_tag
from orthanc_reshape.dicom.uids import derived_uid
from support import instance, item, seq

STUDY_UID_TAG, SERIES_UID_TAG = 0x0020000D, 0x0020000E
UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def stored(ds: Dataset) -> Dataset:
    """A generated dataset as the plugin reads it from storage (raw elements)."""
    return read_dataset(to_bytes(ds))


def members(images) -> list:
    return [(str(i.StudyInstanceUID), str(i.SeriesInstanceUID), str(i.SOPInstanceUID)) for i in images]


# --- derived UIDs -------------------------------------------------------------------------------------------

def test_derived_uid_is_a_function_of_its_parts_and_a_valid_2_25_uid() -> None:
    first = derived_uid("2.25", "a", "b")
    assert first == derived_uid("2.25", "a", "b")
    assert first != derived_uid("2.25", "a", "c") != derived_uid("2.25", "ab")
    assert first.startswith("2.25.") and UID.match(first) and len(first) <= 64
    assert int(first.split(".")[2]) < 2 ** 128


def test_derived_uid_honours_the_root() -> None:
    uid = derived_uid("1.2.826.0.1.3680043.10.999", "x")
    assert uid.startswith("1.2.826.0.1.3680043.10.999.") and UID.match(uid) and len(uid) <= 64


def test_split_study_uid_ignores_order_and_duplicates_of_the_moved_instances() -> None:
    a = split_study_uid("2.25", "1.2.3", ["i2", "i1"], [(0x00081030, "X")], [0x00100030])
    assert a == split_study_uid("2.25", "1.2.3 ", ["i1", "i2", "i1"], [(0x00081030, "X")], [0x00100030])


def test_split_study_uid_depends_on_the_moved_set_and_on_replace_and_remove() -> None:
    base = split_study_uid("2.25", "1.2.3", ["i1"], [], [])
    assert base != split_study_uid("2.25", "1.2.3", ["i1", "i2"], [], [])
    assert base != split_study_uid("2.25", "1.2.4", ["i1"], [], [])
    assert base != split_study_uid("2.25", "1.2.3", ["i1"], [(0x00081030, "X")], [])
    assert base != split_study_uid("2.25", "1.2.3", ["i1"], [], [0x00081030])
    assert split_study_uid("2.25", "1.2.3", ["i1"], [(0x00081030, "X")], []) \
        != split_study_uid("2.25", "1.2.3", ["i1"], [(0x00081030, "Y")], [])


def test_uid_scheme_gives_one_series_uid_per_source_series_and_distinct_instance_uids() -> None:
    scheme = UidScheme("2.25", "9.9")
    assert scheme.series_uid("1", "1.1") == scheme.series_uid("1", "1.1\x00")
    assert scheme.series_uid("1", "1.1") != scheme.series_uid("1", "1.2")
    assert scheme.instance_uid("1", "1.1", "1.1.1") != scheme.instance_uid("1", "1.1", "1.1.2")
    assert scheme.instance_uid("1", "1.1", "1.1.1") != UidScheme("2.25", "9.8").instance_uid("1", "1.1", "1.1.1")


# --- module tag lists ---------------------------------------------------------------------------------------

def test_split_allows_both_modules_but_not_the_study_uid() -> None:
    allowed = split_allowed_tags()
    assert len(allowed) == 24 + 17 - 1
    assert parse_tag("PatientID") in allowed and parse_tag("StudyDescription") in allowed
    assert parse_tag("ReferencedStudySequence") in allowed
    assert STUDY_UID_TAG not in allowed and SERIES_UID_TAG not in allowed
    assert parse_tag("Modality") not in allowed


def test_merge_copies_both_modules_with_the_study_uid() -> None:
    copied = merge_copied_tags()
    assert len(copied) == 41 and STUDY_UID_TAG in copied and SERIES_UID_TAG not in copied


# --- module values of the target ----------------------------------------------------------------------------

def test_module_values_copy_plain_strings_and_remove_the_rest() -> None:
    ds = instance(PatientName="Target^Tom", StudyDescription="", OtherPatientIDs=["A", "B"],
                  StudyID="x" * 16, ReferringPhysicianName="Ref^Rob",
                  ReferencedStudySequence=seq(item(ReferencedSOPInstanceUID="1.2")))
    ds.AccessionNumber = "A" * 300  # longer than 256: Orthanc's summary counts it as absent
    replace, remove = module_values(ds, merge_copied_tags())
    values = {tag: value for tag, value, _ in replace}
    assert values[parse_tag("PatientName")] == "Target^Tom"
    assert values[parse_tag("PatientID")] == "PAT1"
    assert values[parse_tag("StudyDescription")] == ""
    assert values[parse_tag("OtherPatientIDs")] == "A\\B"
    assert values[STUDY_UID_TAG] == "1.2.3"
    for name in ("AccessionNumber", "ReferencedStudySequence", "PatientBirthDate", "StudyDate"):
        assert parse_tag(name) in remove and parse_tag(name) not in values
    assert len(replace) + len(remove) == len(merge_copied_tags())


def test_module_values_decode_the_target_character_set() -> None:
    ds = stored(make_ct_series(1, patient_name="Müller^Jürgen", charset="ISO_IR 100")[0])
    replace, _ = module_values(ds, merge_copied_tags())
    assert dict((t, v) for t, v, _ in replace)[parse_tag("PatientName")] == "Müller^Jürgen"


# --- references ---------------------------------------------------------------------------------------------

def test_rtstruct_moved_with_its_ct_points_at_the_new_ct() -> None:
    ct = make_ct_series(3)
    rt = make_rtstruct_for(ct)
    scheme = UidScheme("2.25", "9.9.9")
    moved = MovedSet.of(scheme, members(ct + [rt]), whole=[ct[0].SeriesInstanceUID, ct[0].StudyInstanceUID])
    ds = stored(rt)
    assert rewrite_references(ds, moved) > 0
    study_item = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert study_item.ReferencedSOPInstanceUID == "9.9.9"
    series_item = study_item.RTReferencedSeriesSequence[0]
    assert series_item.SeriesInstanceUID == scheme.series_uid(ct[0].StudyInstanceUID, ct[0].SeriesInstanceUID)
    new_ct = [moved.instances[str(i.SOPInstanceUID)] for i in ct]
    assert [c.ReferencedSOPInstanceUID for c in series_item.ContourImageSequence] == new_ct
    contours = ds.ROIContourSequence[0].ContourSequence
    assert [c.ContourImageSequence[0].ReferencedSOPInstanceUID for c in contours] == new_ct
    # The frame of reference and the class UIDs are not references to moved instances.
    assert ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID == ct[0].FrameOfReferenceUID
    assert study_item.ReferencedSOPClassUID == rt.ReferencedFrameOfReferenceSequence[0] \
        .RTReferencedStudySequence[0].ReferencedSOPClassUID


def test_rtstruct_moved_without_its_ct_keeps_pointing_at_the_old_ct() -> None:
    ct = make_ct_series(2)
    rt = make_rtstruct_for(ct)
    moved = MovedSet.of(UidScheme("2.25", "9.9.9"), members([rt]), whole=[rt.SeriesInstanceUID])
    ds = stored(rt)
    assert rewrite_references(ds, moved) == 0
    assert write_dataset(ds) == write_dataset(stored(rt))


def test_a_study_reference_follows_only_where_moved_instances_are_referenced() -> None:
    ds = instance(ReferencedStudySequence=seq(item(ReferencedSOPInstanceUID="1.2.3")),
                  CurrentRequestedProcedureEvidenceSequence=seq(item(
                      StudyInstanceUID="1.2.3", ReferencedSeriesSequence=seq(item(
                          SeriesInstanceUID="1.2.3.4", ReferencedSOPSequence=seq(
                              item(ReferencedSOPInstanceUID="1.2.3.4.1"),
                              item(ReferencedSOPInstanceUID="1.2.3.4.2")))))))
    scheme = UidScheme("2.25", "7.7")
    moved = MovedSet.of(scheme, [("1.2.3", "1.2.3.4", "1.2.3.4.1")])  # one instance of the series moves
    assert rewrite_references(ds, moved) == 3
    assert ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "1.2.3"  # the old study still exists
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == "7.7"
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == scheme.series_uid("1.2.3", "1.2.3.4")
    assert [r.ReferencedSOPInstanceUID for r in series.ReferencedSOPSequence] == \
        [scheme.instance_uid("1.2.3", "1.2.3.4", "1.2.3.4.1"), "1.2.3.4.2"]


def test_a_whole_study_moved_is_followed_everywhere() -> None:
    ds = instance(ReferencedStudySequence=seq(item(ReferencedSOPInstanceUID="1.2.3")))
    moved = MovedSet.of(UidScheme("2.25", "7.7"), [("1.2.3", "1.2.3.4", "1.2.3.4.1")], whole=["1.2.3"])
    assert rewrite_references(ds, moved) == 1
    assert ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "7.7"


def test_multi_valued_and_private_references_follow() -> None:
    ds = instance(ReferencedImageSequence=seq(item(ReferencedSOPInstanceUID="5.1")))
    ds.ReferencedImageSequence[0].FailedSOPInstanceUIDList = ["5.1", "5.2", "6.1"]
    moved = MovedSet.of(UidScheme("2.25", "7.7"), [("5", "5.0", "5.1"), ("5", "5.0", "5.2")])
    ds = read_dataset(write_dataset(ds))
    assert rewrite_references(ds, moved) == 3
    assert list(ds.ReferencedImageSequence[0].FailedSOPInstanceUIDList) == \
        [moved.instances["5.1"], moved.instances["5.2"], "6.1"]
    private = stored(make_ct_series(1)[0])
    sop = str(private.SOPInstanceUID)
    moved = MovedSet.of(UidScheme("2.25", "7.7"), [(str(private.StudyInstanceUID), str(private.SeriesInstanceUID),
                                                    sop)])
    rewrite_references(private, moved)
    block = private.private_block(0x0009, "RESHAPE TEST")
    assert block[0x10].value[0].SOPInstanceUID == moved.instances[sop]
    assert private.ReferencedImageSequence[0].ReferencedSOPInstanceUID == moved.instances[sop]  # points at itself


# --- relocate: one instance -----------------------------------------------------------------------------------

def test_relocate_sets_the_new_uids_module_values_and_references() -> None:
    images = make_study(series_count=2, instances_per_series=2)
    sr = make_sr_with_evidence(images[:2])
    scheme = UidScheme("2.25", "8.8")
    moved = MovedSet.of(scheme, members(images[:2] + [sr]))
    relocation = Relocation(scheme, moved, replace=((parse_tag("StudyDescription"), "Split", "Replace.x"),),
                            remove=(parse_tag("AccessionNumber"), parse_tag("PatientBirthDate")))
    ds = stored(sr)
    study, series, sop = relocate(ds, relocation)
    assert (study, series, sop) == ("8.8", scheme.series_uid(sr.StudyInstanceUID, sr.SeriesInstanceUID),
                                    scheme.instance_uid(sr.StudyInstanceUID, sr.SeriesInstanceUID, sr.SOPInstanceUID))
    again = read_dataset(write_dataset(ds))
    assert again.StudyInstanceUID == "8.8" and again.SeriesInstanceUID == series and again.SOPInstanceUID == sop
    assert again.file_meta.MediaStorageSOPInstanceUID == sop
    assert again.StudyDescription == "Split"
    assert "AccessionNumber" not in again and "PatientBirthDate" not in again
    assert again.PatientName == sr.PatientName
    evidence = again.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == "8.8"
    assert [r.ReferencedSOPInstanceUID for r in evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence] == \
        [moved.instances[str(i.SOPInstanceUID)] for i in images[:2]]
    image_item = again.ContentSequence[2].ReferencedSOPSequence[0]
    assert image_item.ReferencedSOPInstanceUID == moved.instances[str(images[0].SOPInstanceUID)]


def test_relocate_is_deterministic_and_keeps_pixel_data_verbatim() -> None:
    image = make_ct_series(1)[0]
    scheme = UidScheme("2.25", "8.8")
    relocation = Relocation(scheme, MovedSet.of(scheme, members([image])))
    first, second = stored(image), stored(image)
    relocate(first, relocation)
    relocate(second, relocation)
    assert write_dataset(first) == write_dataset(second)
    assert read_dataset(write_dataset(first)).PixelData == image.PixelData


def test_presentation_state_moved_with_its_images_follows_them() -> None:
    images = make_study(series_count=2, instances_per_series=2)
    pr = make_presentation_state_for(images)
    scheme = UidScheme("2.25", "6.6")
    moved = MovedSet.of(scheme, members(images[:2] + [pr]))  # the first series moves, the second stays
    ds = stored(pr)
    rewrite_references(ds, moved)
    first, second = ds.ReferencedSeriesSequence
    assert first.SeriesInstanceUID == moved.series[str(images[0].SeriesInstanceUID)]
    assert [r.ReferencedSOPInstanceUID for r in first.ReferencedImageSequence] == \
        [moved.instances[str(i.SOPInstanceUID)] for i in images[:2]]
    assert second.SeriesInstanceUID == images[2].SeriesInstanceUID
    assert [r.ReferencedSOPInstanceUID for r in second.ReferencedImageSequence] == \
        [i.SOPInstanceUID for i in images[2:]]


def test_narrowed_uids_are_those_no_longer_moved_or_no_longer_moved_whole() -> None:
    """What a permissive split or merge must rewrite again when an instance failed (it stays where it was)."""
    scheme = UidScheme("2.25", "7.7")
    full = MovedSet.of(scheme, [("1", "1.1", "1.1.1"), ("1", "1.1", "1.1.2"), ("1", "1.2", "1.2.1")],
                       whole=["1.1", "1.2", "1"])
    without_one = MovedSet.of(scheme, [("1", "1.1", "1.1.1"), ("1", "1.2", "1.2.1")], whole=["1.2"])
    assert full.narrowed_uids(without_one) == {"1.1.2", "1.1", "1"}
    assert full.narrowed_uids(full) == frozenset()
