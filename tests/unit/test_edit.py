"""apply_plan on real and built datasets (spec §2, §3, §4): what a modify or an anonymize does to a file."""
from __future__ import annotations

import uuid

import pydicom
import pytest
from pydicom.dataset import Dataset

from orthanc_reshape.dicom.files import read_dataset, write_dataset
from orthanc_reshape.dicom.tags import is_private
from orthanc_reshape.dicom.uids import Level, UidMap
from orthanc_reshape.errors import ReshapeError
from support import (ORTHANC_VERSION, anonymize, element_bytes, instance, item, labelled_map, modify,
                     read_sample, reread, sample_bytes, seq)

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_SOP = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
PER_FRAME, PHILIPS_SEQ, PHILIPS_CREATOR = 0x52009230, 0x2005140F, 0x20050010


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def ref(sop: str, sop_class: str = CT_IMAGE) -> Dataset:
    return item(ReferencedSOPClassUID=sop_class, ReferencedSOPInstanceUID=sop)


def private_item(**elements) -> Dataset:
    """An item holding a private block (2005,0010) with one private text element and one private sequence."""
    result = item(**elements)
    result.add_new(PHILIPS_CREATOR, "LO", "Philips MR Imaging DD 005")
    result.add_new(0x20051401, "LO", "secret")
    return result


# ---------------------------------------------------------------------------------------------------------------
# Plain modification


class TestModificationLevels:
    """Which identifiers a modification regenerates (spec §1.2, §2 step 6)."""

    def test_instance_level_regenerates_only_the_sop_instance_uid(self):
        ds = read_sample("CT_small.dcm")
        plan = modify(ds, {"PatientName": "Doe^John"})
        assert plan.level == Level.INSTANCE
        ds = reread(ds)
        assert ds.PatientName == "Doe^John"
        assert ds.StudyInstanceUID == CT_STUDY and ds.SeriesInstanceUID == CT_SERIES
        assert ds.SOPInstanceUID != CT_SOP
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientID == "1CT1"

    def test_series_level_regenerates_series_and_sop(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, level=Level.SERIES)
        assert ds.StudyInstanceUID == CT_STUDY
        assert ds.SeriesInstanceUID != CT_SERIES and ds.SOPInstanceUID != CT_SOP

    def test_study_level_regenerates_study_series_and_sop(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, level=Level.STUDY)
        assert ds.StudyInstanceUID != CT_STUDY and ds.SeriesInstanceUID != CT_SERIES and ds.SOPInstanceUID != CT_SOP
        assert ds.PatientID == "1CT1"

    def test_replacing_patient_id_regenerates_study_series_and_sop(self):
        ds = read_sample("CT_small.dcm")
        plan = modify(ds, {"PatientID": "NEW"}, force=True)
        assert plan.level == Level.PATIENT
        assert ds.PatientID == "NEW"
        assert ds.StudyInstanceUID != CT_STUDY and ds.SeriesInstanceUID != CT_SERIES and ds.SOPInstanceUID != CT_SOP
        assert len({ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID}) == 3

    def test_a_replaced_series_uid_is_used_and_the_sop_is_new(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"SeriesInstanceUID": "1.2.3.4"}, force=True)
        assert ds.SeriesInstanceUID == "1.2.3.4"
        assert ds.StudyInstanceUID == CT_STUDY and ds.SOPInstanceUID != CT_SOP

    def test_a_replaced_study_uid_is_used_and_series_and_sop_are_new(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"StudyInstanceUID": "1.2.3"}, force=True)
        assert ds.StudyInstanceUID == "1.2.3"
        assert ds.SeriesInstanceUID != CT_SERIES and ds.SOPInstanceUID != CT_SOP

    def test_new_uids_are_valid_dicom_uids(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, level=Level.PATIENT)
        for value in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
            assert pydicom.uid.UID(value).is_valid

    def test_one_map_gives_one_new_series_to_the_instances_of_a_series(self):
        uid_map = UidMap()
        first, second = instance(sop="1.2.3.4.1"), instance(sop="1.2.3.4.2")
        modify(first, level=Level.SERIES, uid_map=uid_map)
        modify(second, level=Level.SERIES, uid_map=uid_map)
        assert first.SeriesInstanceUID == second.SeriesInstanceUID != "1.2.3.4"
        assert first.SOPInstanceUID != second.SOPInstanceUID
        assert first.StudyInstanceUID == second.StudyInstanceUID == "1.2.3"

    def test_a_retry_with_the_same_map_gives_the_same_result(self):
        uid_map = UidMap()
        first, again = read_sample("CT_small.dcm"), read_sample("CT_small.dcm")
        modify(first, level=Level.STUDY, uid_map=uid_map)
        modify(again, level=Level.STUDY, uid_map=uid_map)
        assert write_dataset(first) == write_dataset(again)

    def test_two_maps_never_share_values(self):
        first, second = read_sample("CT_small.dcm"), read_sample("CT_small.dcm")
        modify(first, level=Level.STUDY)
        modify(second, level=Level.STUDY)
        assert first.StudyInstanceUID != second.StudyInstanceUID
        assert first.SOPInstanceUID != second.SOPInstanceUID

    def test_keeping_the_sop_instance_uid_keeps_it_and_the_meta_header(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"PatientName": "x"}, keep=["SOPInstanceUID"], force=True)
        assert ds.SOPInstanceUID == CT_SOP
        assert reread(ds).file_meta.MediaStorageSOPInstanceUID == CT_SOP

    def test_a_missing_sop_instance_uid_is_inserted(self):
        ds = instance()
        del ds.SOPInstanceUID
        modify(ds)
        assert ds.SOPInstanceUID and ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID

    def test_an_absent_original_maps_from_the_empty_string(self):
        uid_map, generator = labelled_map()
        ds = instance()
        del ds.SeriesInstanceUID
        modify(ds, level=Level.SERIES, uid_map=uid_map)
        assert (Level.SERIES, "") in generator.calls


class TestModificationReplaceAndRemove:
    def test_replace_inserts_a_missing_tag(self):
        ds = read_sample("CT_small.dcm")
        assert "InstitutionAddress" not in ds
        modify(ds, {"InstitutionAddress": "1 Main Street", "ImageComments": None})
        ds = reread(ds)
        assert ds.InstitutionAddress == "1 Main Street"
        assert "ImageComments" in ds and ds.ImageComments in ("", None)

    def test_replace_sets_numbers_dates_and_sequences(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"SeriesNumber": "42", "Rows": "128", "StudyDate": "20240101",
                    "ReferencedImageSequence": [{"ReferencedSOPClassUID": CT_IMAGE, "ReferencedSOPInstanceUID": "1.2"}]})
        ds = reread(ds)
        assert (ds.SeriesNumber, ds.Rows, ds.StudyDate) == (42, 128, "20240101")
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2"

    def test_private_tags_take_their_creators_vr_or_are_stored_as_bytes(self):
        ds = read_sample("CT_small.dcm")
        del ds[0x00091002]
        modify(ds, {"0009,1002": "CT99", "0041,1001": "raw", "0009,1001": "kept VR"})
        assert ds[0x00091002].VR == "SH" and ds[0x00091002].value == "CT99"  # GEMS_IDEN_01 declares SH
        assert ds[0x00411001].VR == "UN" and ds[0x00411001].value == b"raw"  # no creator: raw bytes
        assert ds[0x00091001].VR == "LO" and ds[0x00091001].value == "kept VR"

    def test_remove_deletes_top_level_tags_and_ignores_absent_ones(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, remove=["InstitutionName", "OtherPatientIDsSequence", "InstitutionAddress"])
        assert "InstitutionName" not in ds and "OtherPatientIDsSequence" not in ds

    def test_replacing_the_sop_instance_uid_rewrites_the_meta_header(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"SOPInstanceUID": "1.2.3.4.5"}, force=True)
        ds = reread(ds)
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == "1.2.3.4.5"

    def test_replacing_the_sop_class_uid_rewrites_the_meta_header(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"})
        ds = reread(ds)
        assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.7"

    def test_a_bad_value_fails_naming_the_request_field(self):
        ds = read_sample("CT_small.dcm")
        with pytest.raises(ReshapeError) as caught:
            modify(ds, {"Rows": "many"})
        assert (caught.value.kind, caught.value.http_status, caught.value.field) == ("BadFileFormat", 400, "Replace.Rows")

    def test_nested_uids_and_references_are_never_remapped(self):
        ds = instance(FrameOfReferenceUID="1.2.3.9", ReferencedImageSequence=seq(ref("1.2.3.4.1")),
                      ReferencedSeriesSequence=seq(item(SeriesInstanceUID="1.2.3.4")))
        modify(ds, level=Level.STUDY)
        assert ds.FrameOfReferenceUID == "1.2.3.9"
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2.3.4.1"
        assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == "1.2.3.4"

    def test_a_keep_path_has_no_effect_on_a_modification(self):
        ds = instance(ReferencedImageSequence=seq(ref("1.2.3.4.1")))
        modify(ds, remove=["ReferencedImageSequence[0].ReferencedSOPInstanceUID"],
               keep=["ReferencedImageSequence[0].ReferencedSOPInstanceUID"])
        assert "ReferencedSOPInstanceUID" not in ds.ReferencedImageSequence[0]


class TestRemovePrivateTags:
    def test_top_level_private_elements_and_creators_go(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, remove_private=True)
        assert not [tag for tag in ds.keys() if is_private(tag)]
        assert ds.PatientName == "CompressedSamples^CT1"

    def test_a_kept_private_tag_stays(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, keep=["0009,1001", "0009,0010"], remove_private=True)
        assert [tag for tag in ds.keys() if is_private(tag)] == [0x00090010, 0x00091001]
        assert ds[0x00091001].value == "GE_GENESIS_FF"

    def test_nested_private_elements_stay_on_a_modification(self):
        ds = instance(ReferencedImageSequence=seq(private_item(ReferencedSOPInstanceUID="1.2")))
        modify(ds, remove_private=True)
        assert ds.ReferencedImageSequence[0][0x20051401].value == "secret"

    def test_without_the_option_private_tags_stay(self):
        ds = read_sample("CT_small.dcm")
        before = [tag for tag in ds.keys() if is_private(tag)]
        modify(ds, {"PatientName": "x"})
        assert [tag for tag in ds.keys() if is_private(tag)] == before


# ---------------------------------------------------------------------------------------------------------------
# Paths (spec §4, test_modify_subsequences)


def subsequences_instance() -> Dataset:
    """An instance shaped like Orthanc's test_modify_subsequences file."""
    per_frame = []
    for index in range(2):
        frame = private_item()
        frame.add_new(PHILIPS_SEQ, "SQ", seq(item(SOPInstanceUID=f"1.2.3.4.{index + 10}", ContentDate="20200101",
                                                  StudyDate="20200102", SeriesInstanceUID="1.2.3.4")))
        per_frame.append(frame)
    return instance(
        PatientName="Original^Name",
        DimensionIndexSequence=seq(*[item(DimensionDescriptionLabel=f"Label{i}", StudyInstanceUID="1.2.3")
                                     for i in range(3)]),
        ReferencedImageEvidenceSequence=seq(*[
            item(StudyInstanceUID="1.2.3", ReferencedSeriesSequence=seq(item(
                SeriesInstanceUID="1.2.3.4", ReferencedSOPSequence=seq(ref(f"1.2.3.4.{i + 1}")))))
            for i in range(3)]),
        DimensionOrganizationSequence=seq(item(DimensionOrganizationUID="1.2.3.7")),
        ReferencedPerformedProcedureStepSequence=seq(ref("1.2.3.8", "1.2.840.10008.3.1.2.3.3")),
        PerformedProtocolCodeSequence=seq(item(CodeValue="P1", CodingSchemeDesignator="99", CodeMeaning="proto"),
                                          item(CodeValue="P2", CodingSchemeDesignator="99", CodeMeaning="proto")),
        SharedFunctionalGroupsSequence=seq(item(ReferencedImageSequence=seq(*[ref(f"1.2.3.4.{i + 1}")
                                                                              for i in range(3)]))),
        PerFrameFunctionalGroupsSequence=seq(*per_frame),
    )


SUBSEQUENCE_REPLACE = {
    "PatientName": "Hello1",
    "DimensionIndexSequence[1].DimensionDescriptionLabel": "Hello2",
    "DimensionIndexSequence[*].PatientName": "Hello3",
    "ReferencedImageEvidenceSequence[2].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID":
        "Hello4",
    "DimensionOrganizationSequence[0].DimensionOrganizationUID": "1.2.3.4",
}
SUBSEQUENCE_REMOVE = [
    "ReferencedPerformedProcedureStepSequence",
    "PerformedProtocolCodeSequence[0].CodeValue",
    "SharedFunctionalGroupsSequence[*].ReferencedImageSequence[*].ReferencedSOPInstanceUID",
    "SharedFunctionalGroupsSequence[*].ReferencedImageSequence[1].ReferencedSOPClassUID",
    "SharedFunctionalGroupsSequence[2].ReferencedImageSequence",
]


class TestModifySubsequences:
    @pytest.fixture
    def modified(self):
        ds = subsequences_instance()
        modify(ds, SUBSEQUENCE_REPLACE, SUBSEQUENCE_REMOVE, level=Level.STUDY)
        return reread(ds)

    def test_top_level_replace(self, modified):
        assert modified.PatientName == "Hello1"

    def test_indexed_replace_touches_only_that_item(self, modified):
        labels = [i.DimensionDescriptionLabel for i in modified.DimensionIndexSequence]
        assert labels == ["Label0", "Hello2", "Label2"]

    def test_star_replace_inserts_into_every_item(self, modified):
        assert [i.PatientName for i in modified.DimensionIndexSequence] == ["Hello3"] * 3

    def test_deep_indexed_replace(self, modified):
        values = [i.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
                  for i in modified.ReferencedImageEvidenceSequence]
        assert values == ["1.2.3.4.1", "1.2.3.4.2", "Hello4"]

    def test_uid_replace_in_a_sequence(self, modified):
        assert modified.DimensionOrganizationSequence[0].DimensionOrganizationUID == "1.2.3.4"

    def test_top_level_remove_of_a_sequence(self, modified):
        assert "ReferencedPerformedProcedureStepSequence" not in modified

    def test_indexed_remove(self, modified):
        codes = modified.PerformedProtocolCodeSequence
        assert "CodeValue" not in codes[0] and codes[1].CodeValue == "P2"
        assert codes[0].CodeMeaning == "proto"

    def test_star_remove_in_every_item(self, modified):
        images = modified.SharedFunctionalGroupsSequence[0].ReferencedImageSequence
        assert len(images) == 3
        assert not any("ReferencedSOPInstanceUID" in i for i in images)

    def test_star_then_index_remove(self, modified):
        images = modified.SharedFunctionalGroupsSequence[0].ReferencedImageSequence
        assert ["ReferencedSOPClassUID" in i for i in images] == [True, False, True]

    def test_a_missing_item_is_a_silent_no_op(self):
        ds = subsequences_instance()
        modify(ds, {"SharedFunctionalGroupsSequence[5].PatientName": "x", "ReferencedStudySequence[*].PatientName": "x"},
               ["SharedFunctionalGroupsSequence[2].ReferencedImageSequence", "ReferencedStudySequence[0].PatientName"])
        assert len(ds.SharedFunctionalGroupsSequence) == 1
        assert "ReferencedStudySequence" not in ds

    def test_a_path_through_an_element_that_is_not_a_sequence_is_a_no_op(self):
        ds = subsequences_instance()
        modify(ds, {"PatientName[0].PatientID": "x"})
        assert "PatientID" in ds and ds.PatientID == "PAT1"

    def test_a_study_level_modify_regenerates_the_identifiers_but_not_nested_copies(self, modified):
        assert modified.StudyInstanceUID != "1.2.3"
        assert modified.DimensionIndexSequence[0].StudyInstanceUID == "1.2.3"

    def test_path_replacements_use_the_dataset_charset(self):
        ds = instance(SpecificCharacterSet="ISO_IR 192", OtherPatientIDsSequence=seq(item(PatientID="A")))
        modify(ds, {"OtherPatientIDsSequence[0].PatientID": "Ωμέγα", "OtherPatientIDsSequence[0].PatientName": "Zoë"})
        ds = reread(ds)
        assert ds.OtherPatientIDsSequence[0].PatientID == "Ωμέγα"
        assert ds.OtherPatientIDsSequence[0].PatientName == "Zoë"

    def test_path_replacements_use_the_charset_of_their_item_when_it_has_one(self):
        nested = item(SpecificCharacterSet="ISO_IR 100", PatientID="A")
        ds = instance(SpecificCharacterSet="ISO_IR 192", OtherPatientIDsSequence=seq(nested))
        modify(ds, {"OtherPatientIDsSequence[0].PatientID": "Zoë"})
        assert ds.OtherPatientIDsSequence[0].get_item(0x00100020).value == b"Zo\xeb "


class TestAnonymizeSubsequences:
    """The anonymization part of test_modify_subsequences: 2021b, KeepPrivateTags, Keep sequences and paths."""

    KEEP = ["ReferencedImageEvidenceSequence", "DimensionIndexSequence",
            "PerFrameFunctionalGroupsSequence[*].2005,140f[*].SOPInstanceUID",
            "(5200,9230)[*].2005,140f[*].(0008,0023)"]

    @pytest.fixture
    def pair(self):
        before = subsequences_instance()
        after = subsequences_instance()
        anonymize(after, {"DimensionOrganizationSequence[0].DimensionOrganizationUID": "1.2.3.4"},
                  ["PerformedProtocolCodeSequence[0].CodeValue"], self.KEEP, version="2021b", keep_private=True)
        return before, reread(after)

    def test_kept_sequences_come_out_identical(self, pair):
        before, after = pair
        for tag in (0x00089092, 0x00209222):
            assert element_bytes(after, tag) == element_bytes(before, tag)

    def test_path_replacements_survive_and_are_not_remapped(self, pair):
        assert pair[1].DimensionOrganizationSequence[0].DimensionOrganizationUID == "1.2.3.4"

    def test_the_path_remove_is_applied(self, pair):
        codes = pair[1].PerformedProtocolCodeSequence
        assert "CodeValue" not in codes[0] and codes[1].CodeValue == "P2"

    def test_kept_private_paths_stay_and_their_siblings_are_anonymized(self, pair):
        _, after = pair
        for index in range(2):
            kept = after[PER_FRAME][index][PHILIPS_SEQ].value[0]
            assert kept.SOPInstanceUID == f"1.2.3.4.{index + 10}"
            assert kept.ContentDate == "20200101"
            assert kept.StudyDate == ""  # a clear-set sibling, not kept
            assert kept.SeriesInstanceUID == after.SeriesInstanceUID != "1.2.3.4"  # remapped sibling

    def test_unkept_uids_elsewhere_are_remapped(self, pair):
        images = pair[1].SharedFunctionalGroupsSequence[0].ReferencedImageSequence
        assert all(i.ReferencedSOPInstanceUID != f"1.2.3.4.{n + 1}" for n, i in enumerate(images))


# ---------------------------------------------------------------------------------------------------------------
# Anonymization


class TestAnonymizeCtSmall:
    @pytest.fixture
    def anonymized(self):
        ds = read_sample("CT_small.dcm")
        plan = anonymize(ds)
        return plan, reread(ds)

    def test_patient_becomes_anonymized_n_with_a_uuid(self, anonymized):
        _, ds = anonymized
        assert ds.PatientName == "Anonymized1"
        assert is_uuid(ds.PatientID)

    def test_every_identifier_is_new(self, anonymized):
        _, ds = anonymized
        assert ds.StudyInstanceUID != CT_STUDY and ds.SeriesInstanceUID != CT_SERIES and ds.SOPInstanceUID != CT_SOP
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID

    def test_deidentification_tags_are_added(self, anonymized):
        _, ds = anonymized
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethod == f"Orthanc {ORTHANC_VERSION} - PS 3.15-2023b Table E.1-1 Basic Profile"

    def test_profile_removals_and_clears(self, anonymized):
        _, ds = anonymized
        for name in ("InstitutionName", "StationName", "StudyDescription", "OtherPatientIDsSequence", "SeriesDate",
                     "AcquisitionDate", "InstanceCreationDate"):
            assert name not in ds, name
        for name in ("StudyDate", "StudyTime", "ContentDate", "AccessionNumber", "ReferringPhysicianName",
                     "PatientBirthDate", "PatientSex"):
            assert name in ds and ds[name].value in ("", None), name

    def test_frame_of_reference_is_remapped(self, anonymized):
        _, ds = anonymized
        original = read_sample("CT_small.dcm").FrameOfReferenceUID
        assert ds.FrameOfReferenceUID != original and pydicom.uid.UID(ds.FrameOfReferenceUID).is_valid

    def test_private_tags_are_all_removed(self, anonymized):
        _, ds = anonymized
        assert not [tag for tag in ds.keys() if is_private(tag)]

    def test_other_tags_are_untouched(self, anonymized):
        _, ds = anonymized
        original = read_sample("CT_small.dcm")
        for name in ("Modality", "Manufacturer", "Rows", "Columns", "SliceThickness", "KVP", "ImageType"):
            assert ds[name].value == original[name].value, name
        assert ds.PixelData == original.PixelData

    def test_absent_clear_tags_are_not_inserted(self, anonymized):
        _, ds = anonymized
        assert "ContentSequence" not in ds and "VerifyingOrganization" not in ds

    def test_2008_leaves_dates(self):
        ds = read_sample("CT_small.dcm")
        anonymize(ds, version="2008")
        assert ds.StudyDate == "20040119" and ds.SeriesDate == "19970430"
        assert "PatientBirthDate" not in ds and "InstitutionName" not in ds
        assert ds.DeidentificationMethod == f"Orthanc {ORTHANC_VERSION} - PS 3.15-2008 Table E.1-1"


class TestAnonymizeTopLevel:
    def test_patient_id_is_not_inserted_when_absent(self):
        ds = instance(patient_id=None)
        anonymize(ds)
        assert "PatientID" not in ds

    def test_patient_name_is_inserted_when_absent(self):
        ds = instance()
        anonymize(ds)
        assert ds.PatientName == "Anonymized1"

    def test_a_user_patient_name_wins(self):
        ds = instance(PatientName="Doe^John")
        anonymize(ds, {"PatientName": "Someone"})
        assert ds.PatientName == "Someone"

    def test_kept_tags_keep_their_original_value(self):
        ds = read_sample("CT_small.dcm")
        anonymize(ds, keep=["StudyDate", "InstitutionName", "PatientName", "FrameOfReferenceUID"])
        original = read_sample("CT_small.dcm")
        for name in ("StudyDate", "InstitutionName", "PatientName", "FrameOfReferenceUID"):
            assert ds[name].value == original[name].value, name
        assert "DeidentificationMethod" not in ds  # a customised profile leaves it alone

    def test_a_customised_profile_with_replace_states_the_orthanc_version(self):
        ds = instance()
        anonymize(ds, {"InstitutionName": "Hospital"})
        assert ds.DeidentificationMethod == f"Orthanc {ORTHANC_VERSION}"
        assert ds.InstitutionName == "Hospital"

    def test_a_kept_deidentification_method_keeps_its_original_value(self):
        ds = instance(DeidentificationMethod="by hand")
        anonymize(ds, {"InstitutionName": "Hospital"}, keep=["DeidentificationMethod"])
        assert ds.DeidentificationMethod == "by hand"

    def test_keeping_the_sop_instance_uid_with_force(self):
        ds = instance()
        anonymize(ds, keep=["SOPInstanceUID"], force=True)
        assert ds.SOPInstanceUID == "1.2.3.4.1"
        assert ds.StudyInstanceUID != "1.2.3" and ds.SeriesInstanceUID != "1.2.3.4"

    def test_a_multi_valued_uid_is_mapped_as_one_string(self):
        uid_map, generator = labelled_map()
        ds = instance()
        ds.add_new(0x00080058, "UI", ["1.2.3.4.1", "1.2.3.4.2"])  # FailedSOPInstanceUIDList
        anonymize(ds, uid_map=uid_map)
        assert (Level.INSTANCE, "1.2.3.4.1\\1.2.3.4.2") in generator.calls
        assert ds.FailedSOPInstanceUIDList == uid_map.map(Level.INSTANCE, "1.2.3.4.1\\1.2.3.4.2")

    def test_top_level_curve_and_overlay_ranges_are_not_removed(self):
        # A quirk kept for parity (spec §10): the ranges are only checked inside sequences.
        ds = instance()
        ds.add_new(0x60003000, "OW", b"\x00\x01")
        ds.add_new(0x50000005, "US", 1)
        anonymize(ds)
        assert 0x60003000 in ds and 0x50000005 in ds

    def test_a_kept_private_tag_survives_at_top_level_only(self):
        ds = read_sample("CT_small.dcm")
        ds.ReferencedImageSequence = seq(ref("1.2"))
        ds.ReferencedImageSequence[0].add_new(0x00090010, "LO", "GEMS_IDEN_01")
        ds.ReferencedImageSequence[0].add_new(0x00091001, "LO", "nested copy")
        anonymize(ds, keep=["0009,1001"])
        assert ds[0x00091001].value == "GE_GENESIS_FF"
        assert 0x00091001 not in ds.ReferencedImageSequence[0]

    def test_keep_private_tags_keeps_them_everywhere(self):
        ds = read_sample("CT_small.dcm")
        before = [tag for tag in ds.keys() if is_private(tag)]
        anonymize(ds, keep_private=True)
        assert [tag for tag in ds.keys() if is_private(tag)] == before


class TestNestedRules:
    """The relationship visitor (spec §3.4)."""

    def test_private_tags_are_removed_at_every_depth(self):
        deep = private_item(ReferencedSOPInstanceUID="1.2")
        ds = instance(ReferencedImageSequence=seq(private_item(ReferencedSOPClassUID=CT_IMAGE,
                                                               SourceImageSequence=seq(deep))))
        anonymize(ds)
        outer = ds.ReferencedImageSequence[0]
        inner = outer.SourceImageSequence[0]
        assert not [t for t in outer.keys() if is_private(t)]
        assert not [t for t in inner.keys() if is_private(t)]
        assert outer.ReferencedSOPClassUID == CT_IMAGE

    def test_keep_private_tags_keeps_nested_ones(self):
        ds = instance(ReferencedImageSequence=seq(private_item(ReferencedSOPClassUID=CT_IMAGE)))
        anonymize(ds, keep_private=True)
        assert ds.ReferencedImageSequence[0][0x20051401].value == "secret"

    def test_nested_profile_removals(self):
        ds = instance(ReferencedImageSequence=seq(item(
            ReferencedSOPClassUID=CT_IMAGE, StudyDescription="knee", CodeMeaning="kept",
            ReferencedStudySequence=seq(ref("1.2.9")))))
        anonymize(ds)
        nested = ds.ReferencedImageSequence[0]
        assert "StudyDescription" not in nested and "ReferencedStudySequence" not in nested
        assert nested.CodeMeaning == "kept"

    def test_nested_clear_empties_strings_and_removes_other_vrs(self):
        nested = item(ReferencedSOPClassUID=CT_IMAGE, StudyDate="20200101", AccessionNumber="A1",
                      ContentSequence=seq(item(TextValue="x")))
        nested.add_new(0x00420011, "OB", b"%PDF")  # EncapsulatedDocument, clear in 2023b
        ds = instance(ReferencedImageSequence=seq(nested))
        anonymize(ds)
        nested = reread(ds).ReferencedImageSequence[0]
        assert nested.StudyDate == "" and nested.AccessionNumber == ""
        assert "ContentSequence" not in nested
        assert 0x00420011 not in nested

    def test_top_level_clear_of_a_sequence_empties_it(self):
        ds = instance(ContentSequence=seq(item(TextValue="x"), item(TextValue="y")))
        anonymize(ds)
        assert "ContentSequence" in ds and len(ds.ContentSequence) == 0

    def test_nested_ranges_are_removed(self):
        nested = ref("1.2")
        nested.add_new(0x60003000, "OW", b"\x00\x01")
        nested.add_new(0x50000005, "US", 1)
        nested.add_new(0x60000010, "US", 1)  # OverlayRows: outside the ranges
        ds = instance(ReferencedImageSequence=seq(nested))
        anonymize(ds)
        nested = ds.ReferencedImageSequence[0]
        assert 0x60003000 not in nested and 0x50000005 not in nested
        assert 0x60000010 in nested

    def test_nested_main_uids_use_their_level_maps(self):
        ds = instance(ReferencedSeriesSequence=seq(item(SeriesInstanceUID="1.2.3.4")),
                      ReferencedStudySequence=seq(ref("1.2.3")),
                      SourceImageSequence=seq(item(SOPInstanceUID="1.2.3.4.1", StudyInstanceUID="1.2.3")))
        anonymize(ds, keep=["ReferencedStudySequence"])
        assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == ds.SeriesInstanceUID != "1.2.3.4"
        assert ds.SourceImageSequence[0].SOPInstanceUID == ds.SOPInstanceUID != "1.2.3.4.1"
        assert ds.SourceImageSequence[0].StudyInstanceUID == ds.StudyInstanceUID != "1.2.3"

    def test_referenced_image_sequence_is_kept_and_remapped(self):
        ds = instance(ReferencedImageSequence=seq(ref("1.2.3.4.1"), ref("1.2.3.4.77")))
        uid_map = UidMap()
        anonymize(ds, uid_map=uid_map)
        refs = ds.ReferencedImageSequence
        assert len(refs) == 2
        assert refs[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID  # the instance map
        assert refs[1].ReferencedSOPInstanceUID == uid_map.map(Level.INSTANCE, "1.2.3.4.77") != "1.2.3.4.77"
        assert refs[0].ReferencedSOPClassUID == CT_IMAGE

    def test_nested_patient_id_gets_the_top_level_uuid_and_nested_name_survives(self):
        ds = instance(ReferencedImageSequence=seq(item(PatientID="PAT1", PatientName="Doe^Jane",
                                                       ReferencedSOPClassUID=CT_IMAGE)))
        anonymize(ds)
        nested = ds.ReferencedImageSequence[0]
        assert nested.PatientID == ds.PatientID and is_uuid(ds.PatientID)
        assert nested.PatientName == "Doe^Jane"

    def test_a_replaced_uid_set_tag_stops_remapping_its_nested_copies(self):
        ds = instance(FrameOfReferenceUID="1.2.3.9",
                      ReferencedImageSequence=seq(item(FrameOfReferenceUID="1.2.3.9", ReferencedSOPClassUID=CT_IMAGE)))
        anonymize(ds, {"FrameOfReferenceUID": "1.2.3.10"})
        assert ds.FrameOfReferenceUID == "1.2.3.10"
        assert ds.ReferencedImageSequence[0].FrameOfReferenceUID == "1.2.3.9"

    def test_forced_identifiers_are_followed_by_nested_references(self):
        ds = instance(ReferencedImageSequence=seq(ref("1.2.3.4.1")),
                      ReferencedSeriesSequence=seq(item(SeriesInstanceUID="1.2.3.4", StudyInstanceUID="1.2.3")))
        anonymize(ds, {"StudyInstanceUID": "5.6", "SeriesInstanceUID": "5.6.7", "SOPInstanceUID": "5.6.7.8"},
                  force=True)
        assert (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) == ("5.6", "5.6.7", "5.6.7.8")
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "5.6.7.8"
        assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == "5.6.7"
        assert ds.ReferencedSeriesSequence[0].StudyInstanceUID == "5.6"

    def test_a_sequence_given_in_replace_is_walked(self):
        ds = instance()
        anonymize(ds, {"ReferencedImageSequence": [{"ReferencedSOPClassUID": CT_IMAGE,
                                                     "ReferencedSOPInstanceUID": "1.2.3.4.1",
                                                     "StudyDescription": "gone"}]})
        nested = ds.ReferencedImageSequence[0]
        assert nested.ReferencedSOPInstanceUID == ds.SOPInstanceUID
        assert "StudyDescription" not in nested

    def test_path_replacements_run_after_the_remapping(self):
        ds = instance(ReferencedImageSequence=seq(ref("1.2.3.4.1")))
        anonymize(ds, {"ReferencedImageSequence[0].ReferencedSOPInstanceUID": "1.2.3.4.1"})
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2.3.4.1"


class TestKeepPaths:
    def test_keep_of_a_sequence_keeps_it_byte_for_byte(self):
        before = instance(ReferencedImageSequence=seq(item(ReferencedSOPClassUID=CT_IMAGE,
                                                           ReferencedSOPInstanceUID="1.2.3.4.1",
                                                           StudyDate="20200101", StudyDescription="knee")))
        after = reread(before)
        anonymize(after, keep=["ReferencedImageSequence"])
        assert element_bytes(reread(after), 0x00081140) == element_bytes(before, 0x00081140)

    def test_a_kept_content_sequence_keeps_its_nested_uids(self):
        content = seq(item(ValueType="IMAGE", ReferencedSOPSequence=seq(ref("1.2.3.4.1"))))
        before = instance(ContentSequence=content)
        after = reread(before)
        anonymize(after, keep=["ContentSequence"])
        assert element_bytes(after, 0x0040A730) == element_bytes(before, 0x0040A730)

    def test_keep_path_with_star_keeps_that_element_in_every_item(self):
        ds = instance(ReferencedImageSequence=seq(ref("1.2.3.4.1"), ref("1.2.3.4.2")))
        anonymize(ds, keep=["ReferencedImageSequence[*].ReferencedSOPInstanceUID"])
        assert [i.ReferencedSOPInstanceUID for i in ds.ReferencedImageSequence] == ["1.2.3.4.1", "1.2.3.4.2"]
        assert ds.SOPInstanceUID != "1.2.3.4.1"

    def test_keep_path_with_an_index_keeps_only_that_item(self):
        ds = instance(ReferencedImageSequence=seq(ref("1.2.3.4.1"), ref("1.2.3.4.1")))
        anonymize(ds, keep=["ReferencedImageSequence[1].ReferencedSOPInstanceUID"])
        refs = ds.ReferencedImageSequence
        assert refs[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
        assert refs[1].ReferencedSOPInstanceUID == "1.2.3.4.1"

    def test_keep_path_protects_from_nested_removal(self):
        ds = instance(ReferencedImageSequence=seq(item(StudyDescription="knee", ReferencedSOPClassUID=CT_IMAGE)))
        anonymize(ds, keep=["ReferencedImageSequence[0].StudyDescription"])
        assert ds.ReferencedImageSequence[0].StudyDescription == "knee"

    def test_a_tag_only_keep_takes_the_tag_out_of_the_profile_at_every_depth(self):
        # Orthanc's Keep edits the profile sets, which the nested rules read too.
        ds = instance(StudyDescription="top",
                      ReferencedImageSequence=seq(item(StudyDescription="knee", ReferencedSOPClassUID=CT_IMAGE)))
        anonymize(ds, keep=["StudyDescription"])
        assert ds.StudyDescription == "top"
        assert ds.ReferencedImageSequence[0].StudyDescription == "knee"


class TestUidConsistencyAcrossInstances:
    """One UidMap per request: the same original always gets the same new value (spec §2.1)."""

    @staticmethod
    def pair():
        first = instance(sop="1.2.3.4.1", FrameOfReferenceUID="1.2.3.9")
        second = instance(sop="1.2.3.4.2", FrameOfReferenceUID="1.2.3.9",
                          ReferencedImageSequence=seq(ref("1.2.3.4.1")),
                          SourceImageSequence=seq(item(ReferencedSOPClassUID=CT_IMAGE,
                                                       ReferencedSOPInstanceUID="1.2.3.4.1")))
        return first, second

    @pytest.mark.parametrize("first_done", [True, False])
    def test_a_reference_follows_the_new_uid_of_the_instance_it_points_to(self, first_done):
        first, second = self.pair()
        uid_map = UidMap()
        for ds in ((first, second) if first_done else (second, first)):
            anonymize(ds, uid_map=uid_map)
        assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID != "1.2.3.4.1"
        assert second.SourceImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
        assert first.StudyInstanceUID == second.StudyInstanceUID
        assert first.SeriesInstanceUID == second.SeriesInstanceUID
        assert first.PatientID == second.PatientID
        assert first.FrameOfReferenceUID == second.FrameOfReferenceUID != "1.2.3.9"
        assert first.SOPInstanceUID != second.SOPInstanceUID

    def test_separate_requests_share_nothing(self):
        first, second = self.pair()
        anonymize(first)
        anonymize(second)
        assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID != first.SOPInstanceUID
        assert first.StudyInstanceUID != second.StudyInstanceUID
        assert first.PatientID != second.PatientID

    def test_padding_spaces_do_not_change_the_key(self):
        first, second = self.pair()
        second.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3.4.1 "
        uid_map = UidMap()
        anonymize(first, uid_map=uid_map)
        anonymize(second, uid_map=uid_map)
        assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID


class TestRtStruct:
    """RT-STRUCT: ReferencedSOPInstanceUID under ReferencedFrameOfReferenceSequence > RTReferencedStudySequence
    holds a StudyInstanceUID and goes through the study map (spec §3.4, test_anonymize_relationships_5)."""

    @pytest.fixture
    def rtstruct(self):
        ds = read_sample("rtstruct.dcm")
        study_ref = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
        study_ref.ReferencedSOPInstanceUID = ds.StudyInstanceUID
        return ds

    def test_the_referenced_study_gets_the_new_study_uid(self, rtstruct):
        anonymize(rtstruct)
        study_ref = rtstruct.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
        assert study_ref.ReferencedSOPInstanceUID == rtstruct.StudyInstanceUID
        assert rtstruct.StudyInstanceUID != "1.2.826.0.1.3680043.8.498.2010020400001.1"

    def test_it_uses_the_study_map_even_for_another_study(self):
        ds = read_sample("rtstruct.dcm")
        original = "1.2.826.0.1.3680043.8.498.2010020400001.2.1"
        uid_map, _ = labelled_map()
        anonymize(ds, uid_map=uid_map)
        study_ref = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
        assert study_ref.ReferencedSOPInstanceUID == uid_map.map(Level.STUDY, original)
        assert uid_map.items()[(Level.STUDY, original)] == study_ref.ReferencedSOPInstanceUID
        assert (Level.INSTANCE, original) not in uid_map.items()

    def test_the_rest_of_the_structure_set_is_remapped_consistently(self, rtstruct):
        anonymize(rtstruct)
        frame = rtstruct.ReferencedFrameOfReferenceSequence[0]
        series = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
        assert series.SeriesInstanceUID != "1.2.826.0.1.3680043.8.498.2010020400001.2.1.1"
        assert frame.FrameOfReferenceUID != "1.2.826.0.1.3680043.8.498.2010020400001.2"
        for roi in rtstruct.StructureSetROISequence:
            assert roi.ReferencedFrameOfReferenceUID == frame.FrameOfReferenceUID
        assert rtstruct.InstanceCreatorUID != "1.2.826.0.1.3680043.8.498"

    def test_the_special_case_needs_the_exact_parents(self):
        ds = instance(RTReferencedStudySequence=seq(ref("1.2.3")),
                      SourceImageSequence=seq(item(RTReferencedStudySequence=seq(ref("1.2.3")))))
        uid_map = UidMap()
        anonymize(ds, uid_map=uid_map)
        as_instance = uid_map.map(Level.INSTANCE, "1.2.3")
        assert ds.RTReferencedStudySequence[0].ReferencedSOPInstanceUID == as_instance != ds.StudyInstanceUID
        assert ds.SourceImageSequence[0].RTReferencedStudySequence[0].ReferencedSOPInstanceUID == as_instance


# ---------------------------------------------------------------------------------------------------------------
# Files: what is not touched is copied verbatim


def raw_elements(data: bytes):
    """Every top-level element of a file as pydicom reads it, still raw."""
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data), force=True)
    return ds, {tag: ds.get_item(tag) for tag in ds.keys()}


class TestUntouchedBytes:
    @pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "ExplVR_BigEnd.dcm",
                                      "MR_small_implicit.dcm"])
    def test_elements_the_plan_does_not_touch_are_byte_identical(self, name):
        source = sample_bytes(name)
        ds = read_dataset(source)
        modify(ds, {"PatientName": "Doe^John"})
        original, before = raw_elements(source)
        result, after = raw_elements(write_dataset(ds))
        assert result.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        touched = {0x00100010, 0x00080018}
        group_lengths = {tag for tag in before if not tag & 0xFFFF}  # stale after an edit: pydicom drops them
        assert set(after) == (set(before) | touched) - group_lengths
        for tag, element in before.items():
            if tag in touched | group_lengths:
                continue
            assert after[tag].value == element.value, f"{tag:08x}"

    def test_pixel_data_is_never_decoded(self):
        ds = read_sample("JPEG2000.dcm")
        anonymize(ds)
        assert ds.get_item(0x7FE00010).is_raw  # still the bytes read from the file
        _, before = raw_elements(sample_bytes("JPEG2000.dcm"))
        _, after = raw_elements(write_dataset(ds))
        assert after[0x7FE00010].value == before[0x7FE00010].value

    def test_big_endian_values_survive(self):
        ds = read_sample("ExplVR_BigEnd.dcm")
        modify(ds, {"PatientName": "Doe", "SeriesNumber": "12"})
        out = reread(ds)
        original = read_sample("ExplVR_BigEnd.dcm")
        assert out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
        assert (out.Rows, out.Columns, out.SeriesNumber) == (original.Rows, original.Columns, 12)
        assert out.PixelData == original.PixelData


class TestCharsets:
    def test_a_japanese_file_keeps_its_encoding(self):
        ds = read_sample("chrH31.dcm")
        modify(ds, {"PatientName": "Yamada^Hanako=山田^花子=やまだ^はなこ", "InstitutionName": "病院"})
        raw = write_dataset(ds)
        out = read_dataset(raw)
        assert list(out.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]
        assert out.PatientName == "Yamada^Hanako=山田^花子=やまだ^はなこ"
        assert out.InstitutionName == "病院"
        assert "山田".encode("utf-8") not in raw  # ISO 2022, not UTF-8

    def test_anonymizing_a_japanese_file(self):
        ds = read_sample("chrH31.dcm")
        anonymize(ds)
        out = reread(ds)
        assert list(out.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]
        assert out.PatientName == "Anonymized1"

    def test_latin1_replacements(self):
        ds = read_sample("CT_small.dcm")
        modify(ds, {"PatientName": "Müller^Zoë"})
        assert ds.get_item(0x00100010).value == b"M\xfcller^Zo\xeb"
        assert reread(ds).PatientName == "Müller^Zoë"
