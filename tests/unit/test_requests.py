"""Request bodies of modify and anonymize (spec §0, §1.1): every refusal is a 400 that names the field."""
from __future__ import annotations

import pytest

from orthanc_reshape.config import ReshapeConfig
from orthanc_reshape.dicom.plan import DEIDENTIFICATION_METHOD
from orthanc_reshape.dicom.tags import PATIENT_NAME
from orthanc_reshape.dicom.uids import Level
from orthanc_reshape.errors import ReshapeError
from orthanc_reshape.requests import parse_edit_request, parse_json_object

CONFIG = ReshapeConfig()
BOTH = pytest.mark.parametrize("anonymize", [False, True], ids=["modify", "anonymize"])


def refused(body, anonymize=False, config=CONFIG) -> ReshapeError:
    with pytest.raises(ReshapeError) as caught:
        parse_edit_request(body, anonymize, config)
    return caught.value


def assert_refused(body, kind, field, anonymize=False):
    error = refused(body, anonymize)
    assert (error.kind, error.http_status, error.field) == (kind, 400, field)
    assert error.to_json()["Field"] == field and error.to_json()["HttpStatus"] == 400
    return error


class TestBody:
    @pytest.mark.parametrize("body", [b"", b"   ", b"{", b"{'a': 1}", b"Replace=1", b"\xff\xfe", b'{"a": }'])
    def test_a_body_that_is_not_json_is_bad_file_format(self, body):
        with pytest.raises(ReshapeError) as caught:
            parse_json_object(body)
        assert (caught.value.kind, caught.value.http_status, caught.value.field) == ("BadFileFormat", 400, "body")

    @pytest.mark.parametrize("body", [b"[]", b"[{}]", b"1", b'"Replace"', b"null", b"true"])
    def test_a_body_that_is_not_an_object_is_refused(self, body):
        with pytest.raises(ReshapeError) as caught:
            parse_json_object(body)
        assert (caught.value.http_status, caught.value.field) == (400, "body")

    def test_an_object_is_accepted(self):
        assert parse_json_object(b'{"Replace": {"PatientName": "x"}}') == {"Replace": {"PatientName": "x"}}
        assert parse_json_object('{"Replace": {"PatientName": "Zoë"}}'.encode()) == {"Replace": {"PatientName": "Zoë"}}

    @BOTH
    def test_an_empty_object_takes_every_default(self, anonymize):
        request = parse_edit_request({}, anonymize, CONFIG)
        assert request.is_anonymization is anonymize
        assert (request.replace, request.remove, request.keep) == ((), (), ())
        assert (request.force, request.keep_labels, request.remove_private_tags, request.keep_private_tags) == \
            (False, False, False, False)
        assert request.transcode is None and request.private_creator == ""
        assert request.dicom_version == "2023b"

    @BOTH
    def test_unknown_members_are_ignored(self, anonymize):
        parse_edit_request({"Foo": 1, "replace": "not the field", "Asynchronous": "?"}, anonymize, CONFIG)


class TestReplace:
    @BOTH
    @pytest.mark.parametrize("value", [[], ["PatientName"], "PatientName", 1, True, None])
    def test_replace_must_be_an_object(self, anonymize, value):
        assert_refused({"Replace": value}, "BadRequest", "Replace", anonymize)

    @BOTH
    def test_an_unknown_tag_names_its_member(self, anonymize):
        error = assert_refused({"Replace": {"PatientName": "x", "PatientNam": "y"}}, "UnknownDicomTag",
                               "Replace.PatientNam", anonymize)
        assert "PatientNam" in error.details

    @pytest.mark.parametrize("path", [
        "DimensionIndexSequence.PatientName", "DimensionIndexSequence[-1].PatientName",
        "DimensionIndexSequence[x].PatientName", "DimensionIndexSequence[*]", "[0].PatientName", "",
    ])
    def test_bad_path_syntax_is_parameter_out_of_range(self, path):
        assert_refused({"Replace": {path: "x"}}, "ParameterOutOfRange", f"Replace.{path}")

    def test_paths_and_values_are_kept_in_order(self):
        request = parse_edit_request({"Replace": {"PatientName": "a", "DimensionIndexSequence[*].PatientID": None}},
                                     False, CONFIG)
        assert [(str(path), value, field) for path, value, field in request.replace] == [
            ("0010,0010", "a", "Replace.PatientName"),
            ("0020,9222[*].0010,0020", None, "Replace.DimensionIndexSequence[*].PatientID"),
        ]


class TestRemoveAndKeep:
    @BOTH
    @pytest.mark.parametrize("name", ["Remove", "Keep"])
    @pytest.mark.parametrize("value", [{}, {"PatientName": 1}, "PatientName", 1, True, None])
    def test_it_must_be_an_array(self, anonymize, name, value):
        assert_refused({name: value}, "BadRequest", name, anonymize)

    @BOTH
    @pytest.mark.parametrize("name", ["Remove", "Keep"])
    @pytest.mark.parametrize("item", [1, None, ["PatientName"], {"PatientName": 1}, True])
    def test_every_element_must_be_a_string(self, anonymize, name, item):
        assert_refused({name: ["PatientName", item]}, "BadRequest", f"{name}[1]", anonymize)

    @pytest.mark.parametrize("name", ["Remove", "Keep"])
    def test_an_unknown_tag_names_its_index(self, name):
        assert_refused({name: ["StudyDate", "NoSuchTag"]}, "UnknownDicomTag", f"{name}[1]")

    @pytest.mark.parametrize("name", ["Remove", "Keep"])
    def test_bad_path_syntax_names_its_index(self, name):
        assert_refused({name: ["ReferencedImageSequence.ReferencedSOPInstanceUID"]}, "ParameterOutOfRange",
                       f"{name}[0]")

    def test_paths_are_parsed(self):
        request = parse_edit_request({"Remove": ["StudyDate"], "Keep": ["ContentSequence[0].TextValue"]},
                                     True, CONFIG)
        assert [(str(p), f) for p, f in request.remove] == [("0008,0020", "Remove[0]")]
        assert [(str(p), f) for p, f in request.keep] == [("0040,a730[0].0040,a160", "Keep[0]")]


class TestBooleans:
    @BOTH
    @pytest.mark.parametrize("name", ["Force", "KeepLabels"])
    @pytest.mark.parametrize("value", ["true", 1, 0, None, [], {}])
    def test_shared_booleans_must_be_booleans(self, anonymize, name, value):
        error = assert_refused({name: value}, "BadFileFormat", name, anonymize)
        assert "Boolean" in error.details

    @pytest.mark.parametrize("value", ["yes", 1, None])
    def test_remove_private_tags_must_be_a_boolean_on_modify(self, value):
        assert_refused({"RemovePrivateTags": value}, "BadFileFormat", "RemovePrivateTags")

    @pytest.mark.parametrize("value", ["yes", 1, None])
    def test_keep_private_tags_must_be_a_boolean_on_anonymize(self, value):
        assert_refused({"KeepPrivateTags": value}, "BadFileFormat", "KeepPrivateTags", anonymize=True)

    def test_each_route_ignores_the_other_routes_flag(self):
        assert not parse_edit_request({"KeepPrivateTags": "?"}, False, CONFIG).keep_private_tags
        assert not parse_edit_request({"RemovePrivateTags": "?"}, True, CONFIG).remove_private_tags

    def test_values_are_read(self):
        request = parse_edit_request({"Force": True, "KeepLabels": True, "RemovePrivateTags": True}, False, CONFIG)
        assert request.force and request.keep_labels and request.remove_private_tags
        assert parse_edit_request({"KeepPrivateTags": True}, True, CONFIG).keep_private_tags


class TestStrings:
    @BOTH
    @pytest.mark.parametrize("value", [1, True, [], {}, None])
    def test_private_creator_must_be_a_string(self, anonymize, value):
        assert_refused({"PrivateCreator": value}, "BadFileFormat", "PrivateCreator", anonymize)

    def test_private_creator_defaults_to_the_configuration(self):
        config = ReshapeConfig(default_private_creator="ACME 1.0")
        assert parse_edit_request({}, False, config).private_creator == "ACME 1.0"
        assert parse_edit_request({"PrivateCreator": "Other"}, False, config).private_creator == "Other"

    @pytest.mark.parametrize("value", [1, True, [], {}, None])
    def test_a_non_string_dicom_version_is_bad_file_format(self, value):
        assert_refused({"DicomVersion": value}, "BadFileFormat", "DicomVersion", anonymize=True)

    @pytest.mark.parametrize("value", ["2099z", "2023", "2023B", "", " 2023b"])
    def test_an_unknown_dicom_version_is_parameter_out_of_range(self, value):
        assert_refused({"DicomVersion": value}, "ParameterOutOfRange", "DicomVersion", anonymize=True)

    @pytest.mark.parametrize("value", ["2008", "2017c", "2021b", "2023b"])
    def test_known_dicom_versions(self, value):
        assert parse_edit_request({"DicomVersion": value}, True, CONFIG).dicom_version == value

    def test_dicom_version_defaults_to_the_configuration(self):
        assert parse_edit_request({}, True, ReshapeConfig(default_dicom_version="2021b")).dicom_version == "2021b"

    def test_modify_ignores_dicom_version(self):
        parse_edit_request({"DicomVersion": 12}, False, CONFIG)

    @BOTH
    @pytest.mark.parametrize("value", [1, True, [], {}, None])
    def test_a_non_string_transcode_is_bad_file_format(self, anonymize, value):
        assert_refused({"Transcode": value}, "BadFileFormat", "Transcode", anonymize)

    @BOTH
    @pytest.mark.parametrize("value", ["1.2.3", "", "JPEG", "1.2.840.10008.1.2.4.50 "])
    def test_an_unknown_transcode_is_parameter_out_of_range(self, anonymize, value):
        error = assert_refused({"Transcode": value}, "ParameterOutOfRange", "Transcode", anonymize)
        assert "transfer syntax" in error.details.lower()

    @pytest.mark.parametrize("value", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50",
                                       "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"])
    def test_known_transfer_syntaxes(self, value):
        assert parse_edit_request({"Transcode": value}, False, CONFIG).transcode == value


class TestPlan:
    """EditRequest.plan(): the checks that need the whole request (the Force rule) come out as 400s too."""

    @BOTH
    @pytest.mark.parametrize("name", ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
    def test_the_force_rule(self, anonymize, name):
        request = parse_edit_request({"Replace": {name: "1.2.3"}}, anonymize, CONFIG)
        with pytest.raises(ReshapeError) as caught:
            request.plan("1.12.4")
        assert (caught.value.kind, caught.value.http_status, caught.value.field) == \
            ("BadRequest", 400, f"Replace.{name}")
        parse_edit_request({"Replace": {name: "1.2.3"}, "Force": True}, anonymize, CONFIG).plan("1.12.4")

    def test_removing_a_main_identifier_is_refused_even_with_force(self):
        request = parse_edit_request({"Remove": ["SeriesInstanceUID"], "Force": True}, False, CONFIG)
        with pytest.raises(ReshapeError) as caught:
            request.plan("1.12.4")
        assert (caught.value.http_status, caught.value.field) == (400, "Remove[0]")

    def test_a_modification_plan_detects_its_level_unless_given_one(self):
        request = parse_edit_request({"Replace": {"StudyInstanceUID": "1.2"}, "Force": True}, False, CONFIG)
        assert request.plan("1.12.4").level == Level.STUDY
        assert request.plan("1.12.4", level=Level.PATIENT).level == Level.PATIENT
        assert parse_edit_request({}, False, CONFIG).plan("1.12.4").level == Level.INSTANCE

    def test_a_modification_plan_carries_the_options(self):
        body = {"RemovePrivateTags": True, "PrivateCreator": "ACME"}
        plan = parse_edit_request(body, False, CONFIG).plan("1.12.4")
        assert not plan.is_anonymization and plan.remove_private and plan.private_creator == "ACME"

    def test_an_anonymization_plan_uses_the_version_and_the_name_counter(self):
        calls = []

        def patient_name():
            calls.append(1)
            return "Anonymized3"

        plan = parse_edit_request({"DicomVersion": "2017c"}, True, CONFIG).plan("1.12.4", patient_name=patient_name)
        assert plan.is_anonymization and plan.level == Level.PATIENT
        assert plan.replace[PATIENT_NAME][0] == "Anonymized3" and calls == [1]
        assert plan.replace[DEIDENTIFICATION_METHOD][0] == "Orthanc 1.12.4 - PS 3.15-2017c Table E.1-1 Basic Profile"

    def test_keep_private_tags_reaches_the_plan(self):
        assert not parse_edit_request({"KeepPrivateTags": True}, True, CONFIG).plan("1").remove_private
        assert parse_edit_request({}, True, CONFIG).plan("1").remove_private

    def test_an_anonymization_ignores_the_routes_level(self):
        assert parse_edit_request({}, True, CONFIG).plan("1", level=Level.SERIES).level == Level.PATIENT
