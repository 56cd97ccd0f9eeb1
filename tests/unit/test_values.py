"""JSON values of Replace -> DICOM elements (spec §5)."""
from __future__ import annotations

import base64

from io import BytesIO

import pydicom
import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.multival import MultiValue
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from orthanc_reshape.dicom.files import read_dataset
from orthanc_reshape.dicom.values import (dataset_encodings, element_vr, empty_value, get_element, make_element,
                                          make_item, optional_str, raw_text, replace_element)
from dicom_files import PYDICOM_FILE_DIRS, make_ct_series, make_sr_with_evidence, to_bytes
from orthanc_reshape.errors import ReshapeError
from support import read_sample, reread

ALL_FILES = sorted(p for folder in PYDICOM_FILE_DIRS for p in folder.glob("*.dcm"))
LATIN1 = dataset_encodings(read_sample("CT_small.dcm"))  # ISO_IR 100
ROWS, PATIENT_NAME, PATIENT_ID, SOP_UID = 0x00280010, 0x00100010, 0x00100020, 0x00080018


def value_of(element):
    """The decoded value of an element as a client would read it back."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds[element.tag] = element
    return ds[element.tag].value


def raises(kind, call, *args, field="Replace.x", **kwargs):
    with pytest.raises(ReshapeError) as caught:
        call(*args, **kwargs)
    assert caught.value.kind == kind
    assert caught.value.field is not None and caught.value.field.startswith(field)
    return caught.value


class TestStrings:
    def test_text_is_encoded_in_the_dataset_charset(self):
        element = make_element(PATIENT_NAME, "Zoë^Ann", "PN", LATIN1, "Replace.PatientName")
        assert element.value == b"Zo\xeb^Ann "  # latin-1, padded to an even length

    def test_odd_uids_are_padded_with_a_nul_and_other_text_with_a_space(self):
        assert make_element(SOP_UID, "1.2.3", "UI", LATIN1, "f").value == b"1.2.3\x00"
        assert make_element(PATIENT_ID, "abc", "LO", LATIN1, "f").value == b"abc "
        assert make_element(PATIENT_ID, "ab", "LO", LATIN1, "f").value == b"ab"

    def test_backslashes_make_several_values(self):
        assert list(value_of(make_element(0x00080008, "ORIGINAL\\PRIMARY", "CS", LATIN1, "f"))) == \
            ["ORIGINAL", "PRIMARY"]

    def test_japanese_person_name_uses_iso_2022_escapes(self):
        ds = read_sample("chrH31.dcm")
        replace_element(ds, PATIENT_NAME, "Yamada^Tarou=山田^太郎=やまだ^たろう", "Replace.PatientName")
        raw = ds.get_item(PATIENT_NAME).value
        assert b"\x1b$B" in raw  # ISO 2022 IR 87 escape
        assert reread(ds).PatientName == "Yamada^Tarou=山田^太郎=やまだ^たろう"

    def test_null_gives_a_zero_length_value(self):
        element = make_element(PATIENT_NAME, None, "PN", LATIN1, "f")
        assert element.value in (None, b"", "")
        assert make_element(ROWS, None, "US", LATIN1, "f").value is None

    def test_null_for_a_sequence_gives_an_empty_sequence(self):
        element = make_element(0x00081140, None, "SQ", LATIN1, "f")
        assert element.VR == "SQ" and len(element.value) == 0


class TestNumbers:
    @pytest.mark.parametrize("vr,text,expected", [
        ("US", "512", 512), ("US", " 7 ", 7), ("SS", "-5", -5), ("UL", "4294967295", 4294967295),
        ("SL", "-2147483648", -2147483648), ("FD", "1.5", 1.5), ("FL", "-0.25", -0.25),
    ])
    def test_numeric_vrs_are_parsed_from_the_string(self, vr, text, expected):
        assert make_element(ROWS, text, vr, LATIN1, "f").value == expected

    def test_backslashes_make_several_numbers(self):
        assert list(make_element(0x00181063, "1.5\\2", "FD", LATIN1, "f").value) == [1.5, 2.0]

    def test_an_empty_string_is_an_empty_value(self):
        assert make_element(ROWS, "", "US", LATIN1, "f").value is None

    @pytest.mark.parametrize("vr,text", [
        ("US", "65536"), ("US", "-1"), ("SS", "32768"), ("UL", "4294967296"), ("SL", "2147483648"),
        ("US", "abc"), ("US", "1.5"), ("US", "1\\x"), ("FD", "one"), ("FL", "1e39"),
    ])
    def test_out_of_range_or_unparsable_is_bad_file_format_400(self, vr, text):
        error = raises("BadFileFormat", make_element, ROWS, text, vr, LATIN1, "Replace.Rows", field="Replace.Rows")
        assert error.http_status == 400


class TestBadTypes:
    @pytest.mark.parametrize("value", [True, False, {"a": 1}])
    def test_booleans_and_objects_are_bad_parameter_type_400(self, value):
        error = raises("BadParameterType", make_element, ROWS, value, "US", LATIN1, "Replace.Rows", field="Replace.Rows")
        assert error.http_status == 400

    def test_json_numbers_are_accepted_as_their_text(self):
        # A deliberate difference (README): Orthanc answers 400 (BadParameterType) to a JSON number.
        assert make_element(ROWS, 512, "US", LATIN1, "f").value == 512
        assert make_element(0x00181063, 1.5, "FD", LATIN1, "f").value == 1.5
        assert make_element(PATIENT_ID, 42, "LO", LATIN1, "f").value == b"42"

    def test_a_json_number_out_of_range_is_still_refused(self):
        raises("BadFileFormat", make_element, ROWS, 70000, "US", LATIN1, "Replace.Rows", field="Replace.Rows")

    def test_an_array_for_a_tag_that_is_not_a_sequence_is_bad_parameter_type(self):
        raises("BadParameterType", make_element, PATIENT_NAME, [{"CodeValue": "1"}], "PN", LATIN1,
               "Replace.PatientName", field="Replace.PatientName")

    def test_a_string_for_a_sequence_is_bad_parameter_type(self):
        raises("BadParameterType", make_element, 0x00081140, "x", "SQ", LATIN1, "Replace.Seq", field="Replace.Seq")


class TestSequences:
    def test_an_array_of_objects_builds_a_sequence(self):
        element = make_element(0x00081140, [
            {"ReferencedSOPClassUID": "1.2.840.10008.5.1.4.1.1.2", "ReferencedSOPInstanceUID": "1.2.3"},
            {"0008,1155": "1.2.4"},
        ], "SQ", LATIN1, "Replace.ReferencedImageSequence")
        assert element.VR == "SQ"
        items = element.value
        assert len(items) == 2
        assert items[0].ReferencedSOPInstanceUID == "1.2.3"
        assert items[0]["ReferencedSOPInstanceUID"].VR == "UI"
        assert items[1].ReferencedSOPInstanceUID == "1.2.4"

    def test_items_nest_recursively(self):
        element = make_element(0x0040A730, [{"ConceptNameCodeSequence": [{"CodeValue": "121", "CodeMeaning": "x"}],
                                             "TextValue": "hello"}], "SQ", LATIN1, "f")
        nested = element.value[0].ConceptNameCodeSequence[0]
        assert nested.CodeValue == "121"
        assert element.value[0].TextValue == "hello"

    def test_an_empty_array_inside_means_an_empty_item(self):
        element = make_element(0x00081140, [[], {}], "SQ", LATIN1, "f")
        assert [len(item) for item in element.value] == [0, 0]

    def test_an_empty_array_is_an_empty_sequence(self):
        assert len(make_element(0x00081140, [], "SQ", LATIN1, "f").value) == 0

    def test_item_strings_use_the_dataset_charset(self):
        element = make_element(0x00081140, [{"PatientName": "Zoë"}], "SQ", LATIN1, "f")
        assert element.value[0].get_item(PATIENT_NAME).value == b"Zo\xeb "

    def test_an_item_that_is_not_an_object_is_bad_parameter_type_naming_the_item(self):
        error = raises("BadParameterType", make_element, 0x00081140, ["x"], "SQ", LATIN1, "Replace.Seq",
                       field="Replace.Seq[0]")
        assert error.field == "Replace.Seq[0]"

    def test_an_unknown_tag_inside_an_item_names_it(self):
        error = raises("UnknownDicomTag", make_item, {"NoSuchTag": "1"}, LATIN1, "Replace.Seq[0]",
                       field="Replace.Seq[0]")
        assert error.field == "Replace.Seq[0].NoSuchTag"

    def test_an_empty_tag_name_inside_an_item_is_unknown(self):
        raises("UnknownDicomTag", make_item, {"": "1"}, LATIN1, "Replace.Seq[0]", field="Replace.Seq[0]")


class TestOtherVrs:
    def test_at_values_are_tag_names(self):
        element = make_element(0x00209165, "PatientName\\0010,0020", "AT", LATIN1, "f")
        assert list(element.value) == [0x00100010, 0x00100020]

    def test_an_unknown_tag_in_an_at_value_is_refused(self):
        raises("UnknownDicomTag", make_element, 0x00209165, "NoSuchTag", "AT", LATIN1, "Replace.AT", field="Replace.AT")

    def test_a_data_uri_gives_its_decoded_bytes(self):
        data = bytes(range(6))
        uri = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
        element = make_element(0x00091001, uri, "OB", LATIN1, "f")
        assert element.VR == "OB" and element.value == data

    def test_a_plain_string_gives_its_own_bytes(self):
        assert make_element(0x00091001, "abc", "OB", LATIN1, "f").value == b"abc"

    def test_an_unknown_vr_stores_raw_bytes_as_un(self):
        element = make_element(0x00091001, "abc", "UN", LATIN1, "f")
        assert element.VR == "UN" and element.value == b"abc"

    def test_ow_needs_an_even_number_of_bytes(self):
        assert make_element(0x00091001, "ab", "OW", LATIN1, "f").value == b"ab"
        # Orthanc answers 500 here (spec §5); the plugin refuses the value as a client error naming the field.
        raises("BadFileFormat", make_element, 0x00091001, "abc", "OW", LATIN1, "Replace.x")


class TestElementVr:
    def test_the_existing_element_wins(self):
        ds = Dataset()
        ds.add_new(0x00091001, "SH", "x")
        assert element_vr(ds, 0x00091001) == "SH"

    def test_then_the_dictionary(self):
        assert element_vr(Dataset(), PATIENT_NAME) == "PN"

    def test_a_private_tag_takes_the_vr_its_creator_declares(self):
        ds = read_sample("CT_small.dcm")  # (0009,0010) = GEMS_IDEN_01
        del ds[0x00091002]
        assert element_vr(ds, 0x00091002) == "SH"
        assert element_vr(ds, 0x00091002, "GEMS_IDEN_01") == "SH"

    def test_an_unknown_tag_is_un(self):
        assert element_vr(Dataset(), 0x00091001) == "UN"
        assert element_vr(Dataset(), 0x00411001, "NO SUCH CREATOR") == "UN"

    def test_raw_implicit_elements_fall_back_to_the_dictionary(self):
        ds = read_sample("rtplan.dcm")  # implicit VR little endian: raw elements have no VR
        assert ds.get_item(PATIENT_NAME).VR is None
        assert element_vr(ds, PATIENT_NAME) == "PN"


class TestDatasetHelpers:
    def test_replace_inserts_a_missing_tag_and_overwrites_an_existing_one(self):
        ds = read_sample("CT_small.dcm")
        assert 0x00080081 not in ds
        replace_element(ds, 0x00080081, "Rue de la Paix", "Replace.InstitutionAddress")
        replace_element(ds, PATIENT_NAME, "Doe^Jane", "Replace.PatientName")
        ds = reread(ds)
        assert ds.InstitutionAddress == "Rue de la Paix"
        assert ds.PatientName == "Doe^Jane"

    def test_replace_keeps_the_vr_of_the_existing_element(self):
        ds = Dataset()
        ds.add_new(0x00091001, "SH", "x")
        replace_element(ds, 0x00091001, "y", "f")
        assert ds[0x00091001].VR == "SH"

    def test_empty_value_clears_text_and_empties_sequences(self):
        ds = read_sample("CT_small.dcm")
        empty_value(ds, 0x00100010)
        empty_value(ds, 0x00101002)
        ds = reread(ds)
        assert ds.PatientName == ""
        assert len(ds.OtherPatientIDsSequence) == 0

    def test_dataset_encodings_default_to_the_default_repertoire(self):
        assert dataset_encodings(Dataset()) == ["iso8859"]

    def test_dataset_encodings_follow_a_multi_valued_charset(self):
        assert dataset_encodings(read_sample("chrH31.dcm")) == ["iso8859", "iso2022_jp"]

    def test_optional_str(self):
        ds = Dataset()
        ds.PatientID = "abc"
        ds.add_new(PATIENT_NAME, "PN", None)
        assert optional_str(ds, 0x00100020) == "abc"
        assert optional_str(ds, PATIENT_NAME) == ""
        assert optional_str(ds, SOP_UID) is None

    def test_optional_str_of_a_multi_valued_uid_is_the_dicom_string(self):
        # "A multi-valued UI string is mapped as one whole string" (spec §2.1): the map key is "a\b".
        ds = Dataset()
        ds.add_new(0x00080058, "UI", ["1.2.3", "1.2.4"])  # FailedSOPInstanceUIDList
        assert optional_str(ds, 0x00080058) == "1.2.3\\1.2.4"


def test_make_element_gives_elements_pydicom_can_write():
    ds = read_sample("CT_small.dcm")
    ds[ROWS] = make_element(ROWS, "128", "US", LATIN1, "f")
    ds[0x00209165] = make_element(0x00209165, "PatientName", "AT", LATIN1, "f")
    ds[0x00081140] = make_element(0x00081140, [{"ReferencedSOPInstanceUID": "1.2"}], "SQ", LATIN1, "f")
    ds = reread(ds)
    assert ds.Rows == 128
    assert ds[0x00209165].value == 0x00100010
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2"
    assert isinstance(ds[0x00081140].value, Sequence)
    assert isinstance(ds[ROWS], DataElement)


def _converted_str(ds, tag):
    """optional_str through pydicom's own conversion of the element (the reference of raw_text)."""
    value = ds[tag].value
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(part) for part in value)
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _raw_text_cases(ds, depth=0):
    """(fast, reference) for every raw element that raw_text reads, at any depth of `ds`."""
    for tag in list(ds.keys()):
        element = ds.get_item(tag)
        if isinstance(element, RawDataElement) and (fast := raw_text(element)) is not None:
            yield fast, _converted_str(ds, tag)
        elif ds[tag].VR == "SQ":
            for item in ds[tag].value or ():
                yield from _raw_text_cases(item, depth + 1)


GENERATED = [to_bytes(make_ct_series(1, seed=3)[0]), to_bytes(make_sr_with_evidence(make_ct_series(2, seed=4)))]


@pytest.mark.parametrize("data", [p.read_bytes() for p in ALL_FILES] + GENERATED,
                         ids=[p.name for p in ALL_FILES] + ["ct", "sr"])
def test_raw_text_reads_what_pydicom_converts(data):
    """Every value raw_text reads (top level or nested, explicit or implicit VR, any charset) is the string
    pydicom's conversion gives; the values it declines go through that conversion."""
    cases = list(_raw_text_cases(pydicom.dcmread(BytesIO(data), force=True)))
    assert all(fast == reference for fast, reference in cases), [c for c in cases if c[0] != c[1]][:5]


def test_raw_text_padding_and_multiple_values():
    def raw(vr, data):
        return RawDataElement(0x00100020, vr, len(data), data, 0, False, True)
    assert raw_text(raw("UI", b"1.2.3\x00")) == "1.2.3"
    assert raw_text(raw("UI", b"1.2 \\ 3.4\x00")) == "1.2\\3.4"
    assert raw_text(raw("LO", b"a \\b ")) == "a\\b"
    assert raw_text(raw("CS", b"A \\B ")) == "A \\B"
    assert raw_text(raw("AE", b" AET ")) == "AET"
    assert raw_text(raw("LO", b"Zo\xeb")) is None         # not ASCII: left to pydicom and the charset
    assert raw_text(raw("LO", b"\x1b$B")) is None         # an ISO 2022 escape sequence
    assert raw_text(raw("PN", b"Doe^Jane")) is None       # PersonName: left to pydicom


@pytest.mark.parametrize("path", ALL_FILES[::3], ids=lambda p: p.name)
def test_get_element_is_get_item_for_every_top_level_tag(path):
    """get_element reads the dataset's dict directly; what it gives (and what it leaves converted) is what
    pydicom's get_item gives, empty raw values (read by get_item) included."""
    fast, reference = read_dataset(path.read_bytes()), read_dataset(path.read_bytes())
    for tag in list(reference.keys()) + [0x00091001, 0x7FE00010]:
        expected, got = reference.get_item(tag), get_element(fast, tag)
        assert type(got) is type(expected) and got == expected
    assert [type(e) for e in fast._dict.values()] == [type(e) for e in reference._dict.values()]


def test_dataset_encodings_of_multi_valued_and_empty_character_sets():
    ds = Dataset()
    assert dataset_encodings(ds) == ["iso8859"]
    ds.SpecificCharacterSet = ""
    assert dataset_encodings(ds) == ["iso8859"]
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    assert dataset_encodings(ds) == pydicom.charset.convert_encodings(["", "ISO 2022 IR 87"])
    encodings = dataset_encodings(ds)
    encodings.append("changed")  # a caller's list is its own, not the cache's
    assert dataset_encodings(ds) == pydicom.charset.convert_encodings(["", "ISO 2022 IR 87"])


def _has_character_set(path) -> bool:
    try:
        return 0x00080005 in read_dataset(path.read_bytes())
    except ReshapeError:
        return False


CHARSET_FILES = [p for p in ALL_FILES if _has_character_set(p)]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", CHARSET_FILES, ids=lambda p: p.name)
def test_dataset_encodings_of_a_raw_character_set_are_pydicom_s_and_leave_it_raw(path):
    """Read from its bytes, a raw SpecificCharacterSet gives the codecs pydicom's conversion gives, and stays raw
    (the writer copies it as read). An empty one is converted, as get_item converts any raw element without a
    value."""
    fast, reference = read_dataset(path.read_bytes()), read_dataset(path.read_bytes())
    element = fast._dict[0x00080005]
    was_raw = isinstance(element, RawDataElement) and element.length != 0
    reference[0x00080005]  # converted in place
    assert dataset_encodings(fast) == dataset_encodings(reference)
    assert isinstance(fast._dict[0x00080005], RawDataElement) == was_raw
