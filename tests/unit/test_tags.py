"""Tag names in every form Orthanc accepts (spec §0), and the dictionary look-ups behind VRs."""
from __future__ import annotations

import pytest

from orthanc_reshape.dicom import tags
from orthanc_reshape.dicom.tags import (MAIN_IDENTIFIERS, dictionary_vr, format_tag, is_private, keyword,
                                        parse_tag, register_names)
from orthanc_reshape.errors import ReshapeError


@pytest.mark.parametrize("text", [
    "PatientName", "0010,0010", "0010-0010", "00100010", "(0010,0010)", " PatientName ", "( 0010 , 0010 )",
])
def test_every_documented_form_names_the_same_tag(text):
    assert parse_tag(text) == 0x00100010


@pytest.mark.parametrize("text", ["7fe0,0010", "7FE0,0010", "7Fe0-0010", "7fe00010", "(7FE0,0010)"])
def test_hex_forms_accept_any_case(text):
    assert parse_tag(text) == 0x7FE00010


def test_private_tags_are_written_in_hex():
    assert parse_tag("0009,1001") == 0x00091001
    assert parse_tag("2005,140f") == 0x2005140F


def test_group_length_tags_parse_like_any_other():
    assert parse_tag("0010,0000") == 0x00100000


@pytest.mark.parametrize("text", ["NoSuchKeyword", "patientname", "0010,001", "0010,00100", "", "PatientName[0]"])
def test_unknown_name_raises_unknown_dicom_tag_naming_the_field(text):
    with pytest.raises(ReshapeError) as caught:
        parse_tag(text, field="Replace.x")
    assert caught.value.kind == "UnknownDicomTag"
    assert caught.value.field == "Replace.x"
    # Orthanc answers 500 here; the plugin deliberately answers 400 (errors.py).
    assert caught.value.http_status == 400


@pytest.mark.parametrize("value", [None, 16, ["PatientName"]])
def test_a_name_that_is_not_a_string_is_an_unknown_tag(value):
    with pytest.raises(ReshapeError) as caught:
        parse_tag(value, field="Keep[0]")
    assert caught.value.kind == "UnknownDicomTag"
    assert caught.value.field == "Keep[0]"


def test_registered_dictionary_names_resolve(monkeypatch):
    monkeypatch.setattr(tags, "_extra_names", {})
    with pytest.raises(ReshapeError):
        parse_tag("MyPrivateThing")
    register_names({"MyPrivateThing": 0x00411001})
    assert parse_tag("MyPrivateThing") == 0x00411001


def test_format_tag_is_orthancs_lowercase_notation():
    assert format_tag(0x7FE00010) == "7fe0,0010"
    assert format_tag(0x00100010) == "0010,0010"
    assert parse_tag(format_tag(0x2005140F)) == 0x2005140F


@pytest.mark.parametrize("tag,private", [
    (0x00090010, True), (0x00091001, True), (0x20051402, True),
    (0x00100010, False), (0x7FE00010, False), (0x00080018, False),
])
def test_odd_groups_are_private(tag, private):
    assert is_private(tag) is private


def test_keyword_of_a_standard_tag_and_of_a_private_one():
    assert keyword(0x00100020) == "PatientID"
    assert keyword(0x00091001) == "0009,1001"


def test_main_identifiers_are_the_four_of_the_force_rule():
    assert set(MAIN_IDENTIFIERS) == {0x00100020, 0x0020000D, 0x0020000E, 0x00080018}


@pytest.mark.parametrize("tag,vr", [
    (0x00100010, "PN"), (0x00080018, "UI"), (0x00280010, "US"), (0x00081140, "SQ"), (0x7FE00010, "OB"),
    (0x00280106, "US"),  # "US or SS": the first VR
])
def test_dictionary_vr_of_standard_tags(tag, vr):
    assert dictionary_vr(tag) == vr


def test_dictionary_vr_of_private_tags():
    assert dictionary_vr(0x00090010) == "LO"  # a private creator element
    assert dictionary_vr(0x000900FF) == "LO"
    assert dictionary_vr(0x00090005) is None  # (gggg,0001-000F) is not a creator slot
    assert dictionary_vr(0x00091001, "GEMS_IDEN_01") == "LO"  # pydicom's private dictionary
    assert dictionary_vr(0x00091001, "NO SUCH CREATOR") is None
    assert dictionary_vr(0x00091001) is None  # no creator, no way to know


def test_dictionary_vr_of_an_unknown_standard_tag_is_none():
    assert dictionary_vr(0x00081234) is None
