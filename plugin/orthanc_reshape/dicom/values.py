"""JSON values of a request -> DICOM elements of the right VR (strings, numbers, AT, null, sequences, data URIs)."""
from __future__ import annotations

import base64
import math
import re
from functools import lru_cache
from typing import Any, List, Optional, Tuple, Union

from pydicom import datadict
from pydicom.charset import convert_encodings, encode_string
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import PersonName

from ..errors import bad_format, bad_type
from .tags import dictionary_vr, format_tag, parse_tag

TEXT_VRS = frozenset("AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())
_INTEGER_RANGES = {
    "US": (0, 2**16 - 1), "SS": (-(2**15), 2**15 - 1), "UL": (0, 2**32 - 1),
    "SL": (-(2**31), 2**31 - 1), "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1),
}
_FLOAT_VRS = frozenset(("FL", "FD"))
_BYTES_VRS = frozenset("OB OW OF OD OL OV UN".split())
_DATA_URI = re.compile(r"^data:[^;,]*(;[^,]*)?;base64,(?P<data>.*)$", re.DOTALL)

Element = Union[DataElement, RawDataElement]
_CHARSET = 0x00080005


def get_element(ds: Dataset, tag: int) -> Optional[Element]:
    """`ds.get_item(tag)` for an int tag, or None when absent, without pydicom's conversion of the tag on each
    call (the hot paths ask for every element): a raw element whose value was not read is read, as get_item
    does."""
    element = ds._dict.get(tag)
    if element is not None and element.value is None and isinstance(element, RawDataElement):
        return ds.get_item(tag)
    return element


def put_raw(ds: Dataset, element: RawDataElement) -> None:
    """Put a raw element in `ds` in place of the one of its tag, as pydicom's reader does: not with
    `ds[tag] = element`, whose __setitem__ parses a raw private element (to find its creator)."""
    ds._dict[element.tag] = element


def element_vr(ds: Dataset, tag: int, private_creator: str = "") -> str:
    """The VR a new value of `tag` takes in `ds`: the existing element's, else the dictionary's, else UN."""
    element = get_element(ds, tag)
    if element is not None and element.VR:
        return element.VR
    if (tag >> 16) & 1 and private_creator == "":
        private_creator = _creator_of(ds, tag)
    return dictionary_vr(tag, private_creator) or "UN"


def _creator_of(ds: Dataset, tag: int) -> str:
    """The private creator that reserved the block of a private tag in `ds`, if any."""
    block = (tag & 0xFF00) >> 8
    creator_tag = (tag & 0xFFFF0000) | block
    if block >= 0x10 and creator_tag in ds:
        value = ds[creator_tag].value
        return value if isinstance(value, str) else ""
    return ""


def _text_bytes(text: str, vr: str, encodings: List[str]) -> bytes:
    data = PersonName(text).encode(encodings) if vr == "PN" else encode_string(text, encodings)
    if len(data) % 2:
        data += b"\x00" if vr == "UI" else b" "
    return data


def _binary(text: str, vr: str, field: str) -> bytes:
    match = _DATA_URI.match(text)
    if match:
        try:
            data = base64.b64decode(match.group("data"), validate=False)
        except ValueError as exc:
            raise bad_format(f"Bad base64 data URI: {exc}", field) from None
    else:
        data = text.encode("utf-8")
    if vr == "OW" and len(data) % 2:
        raise bad_format("A value of VR OW must have an even number of bytes", field)
    return data


def _numbers(text: str, vr: str, field: str) -> list:
    values = []
    for part in text.split("\\"):
        try:
            if vr in _FLOAT_VRS:
                number = float(part)
                if vr == "FL" and math.isfinite(number) and abs(number) > 3.4028235e38:
                    raise ValueError
            else:
                number = int(part.strip())
                low, high = _INTEGER_RANGES[vr]
                if not low <= number <= high:
                    raise ValueError
        except ValueError:
            raise bad_format(f"Out-of-range value {part!r} for VR {vr}", field) from None
        values.append(number)
    return values


def make_element(tag: int, value: Any, vr: str, encodings: List[str], field: str,
                 private_creator: str = "") -> Element:
    """One element built from a JSON value (Orthanc's §5 rules); bad values raise 400 naming `field`."""
    if value is None:
        return DataElement(tag, vr, Sequence([]) if vr == "SQ" else None)
    if isinstance(value, list):
        if vr not in ("SQ", "UN"):
            raise bad_type(f"Tag {format_tag(tag)} is not a sequence: an array cannot be its value", field)
        items = [make_item(item, encodings, f"{field}[{i}]", private_creator) for i, item in enumerate(value)]
        return DataElement(tag, "SQ", Sequence(items))
    if isinstance(value, bool) or isinstance(value, dict):
        raise bad_type(f"Bad type of value for tag {format_tag(tag)}: expected a string, null or an array", field)
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise bad_type(f"Bad type of value for tag {format_tag(tag)}", field)
    if vr == "SQ":
        raise bad_type(f"Tag {format_tag(tag)} is a sequence: its value must be an array of objects", field)
    if vr in TEXT_VRS:
        data = _text_bytes(value, vr, encodings)
        return RawDataElement(tag, vr, len(data), data, 0, False, True)
    if vr == "AT":
        return DataElement(tag, vr, [parse_tag(part, field) for part in value.split("\\")] if value else None)
    if vr in _INTEGER_RANGES or vr in _FLOAT_VRS:
        numbers = _numbers(value, vr, field) if value.strip() else None
        return DataElement(tag, vr, numbers[0] if numbers and len(numbers) == 1 else numbers)
    return DataElement(tag, vr if vr in _BYTES_VRS else "UN", _binary(value, vr, field))


def make_item(item: Any, encodings: List[str], field: str, private_creator: str = "") -> Dataset:
    """A sequence item from a JSON object (tag name -> value); `[]` or `{}` is an empty item."""
    dataset = Dataset()
    if isinstance(item, list) and not item:
        return dataset
    if not isinstance(item, dict):
        raise bad_type("A sequence item must be a JSON object mapping tag names to values", field)
    for name, value in item.items():
        tag = parse_tag(name, f"{field}.{name}")
        vr = element_vr(dataset, tag, private_creator)
        dataset[tag] = make_element(tag, value, vr, encodings, f"{field}.{name}", private_creator)
    return dataset


def dataset_encodings(ds: Dataset) -> List[str]:
    """The Python codecs of the dataset's (or item's) SpecificCharacterSet, ISO_IR 6 when absent or empty. A raw
    one is read from its bytes: pydicom's conversion would replace it, and the writer could not copy it."""
    element = get_element(ds, _CHARSET)
    text = None
    if isinstance(element, RawDataElement):
        text = raw_text(element) if element.value else ""  # an empty value (b"") is the default repertoire
    if text is not None:
        charset: Any = tuple(text.split("\\")) if "\\" in text else text
    else:
        charset = ds[_CHARSET].value if element is not None else None
    if isinstance(charset, (list, MultiValue)):
        charset = tuple(charset)
    return list(_encodings(charset or "ISO_IR 6"))


@lru_cache(maxsize=64)
def _encodings(charset: Union[str, Tuple[str, ...]]) -> Tuple[str, ...]:
    """pydicom's convert_encodings, once per character set (every replaced value asks)."""
    return tuple(convert_encodings(list(charset) if isinstance(charset, tuple) else charset))


def replace_element(ds: Dataset, tag: int, value: Any, field: str, private_creator: str = "",
                    inherited: Optional[List[str]] = None) -> None:
    """Set `tag` in `ds` to a JSON value, inserting it if absent. Strings take the charset of `ds`; a
    sequence item without a SpecificCharacterSet of its own takes `inherited`, its root dataset's."""
    vr = element_vr(ds, tag, private_creator)
    encodings = inherited if inherited is not None and _CHARSET not in ds._dict else dataset_encodings(ds)
    ds[tag] = make_element(tag, value, vr, encodings, field, private_creator)


def set_meta_uid(ds: Dataset, tag: int, value: Any) -> None:
    """Set a UI element of the file meta header of `ds`, if it has one: `setattr(ds.file_meta, keyword, value)`,
    without pydicom's keyword lookup and conversion of the element replaced."""
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None:
        file_meta[tag] = DataElement(tag, "UI", value)


def empty_value(ds: Dataset, tag: int) -> None:
    """Clear an existing element: zero-length value, or an empty sequence."""
    vr = element_vr(ds, tag)
    ds[tag] = DataElement(tag, vr, Sequence([]) if vr == "SQ" else None)


# How pydicom's converters (pydicom.values) turn an ASCII text value into strings, per VR: the characters
# stripped from the whole value, then the function applied to each of its backslash-separated values.
_RAW_TEXT_RULES = {
    "UI": ("\0 ", str.strip),                               # convert_UI, then UID()
    "AE": ("", str.strip),                                   # convert_AE_string
    **{vr: (" \0", None) for vr in ("AS", "CS", "DA", "DT", "TM")},  # convert_string (multi_string)
    **{vr: ("", lambda part: part.rstrip("\0 ")) for vr in ("SH", "LO", "UC")},  # convert_text
}


def raw_text(element: RawDataElement) -> Optional[str]:
    """What `optional_str` returns for a raw element, without pydicom's conversion (which also replaces the
    element in its dataset, so that the writer can no longer copy it as read); None when it cannot tell."""
    return decode_text(element.value, element.VR or dictionary_vr(element.tag))


def decode_text(data: Any, vr: Optional[str]) -> Optional[str]:
    """The string pydicom's conversion gives the bytes of a text value of this VR (several values joined by
    backslashes); None when it cannot tell. Only ASCII values without escape sequences are handled: they decode
    the same in every character set."""
    rule = _RAW_TEXT_RULES.get(vr)
    if rule is None or not isinstance(data, bytes) or not data.isascii() or b"\x1b" in data:
        return None
    text = data.decode("ascii").rstrip(rule[0])
    strip_each = rule[1]
    return "\\".join(strip_each(part) for part in text.split("\\")) if strip_each else text


def optional_str(ds: Dataset, tag: int) -> Optional[str]:
    """The string value of a top-level element, or None when absent."""
    element = get_element(ds, tag)
    if element is None:
        return None
    if isinstance(element, RawDataElement):
        text = raw_text(element)
        if text is not None:
            return text
    return value_text(ds[tag].value)


def value_text(value: Any) -> str:
    """A decoded element value as DICOM text: "" for no value, several values joined by backslashes (the DICOM
    string "a\\b", not Python's "['a', 'b']"), bytes (a value of unknown VR) decoded as ASCII."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(part) for part in value)
    return str(value)


def check_value(tag: int, value: Any, field: str) -> None:
    """Refuse (400) a JSON value that cannot become a `tag` element whatever the file: checked once per
    request, before any instance is touched. Tags whose VR depends on the file (private tags, tags with
    several possible VRs) are checked on each file instead."""
    if (tag >> 16) & 1:
        return
    try:
        vr = datadict.dictionary_VR(tag)
    except KeyError:
        return
    if vr and " or " not in vr:
        make_element(tag, value, vr, ["utf_8"], field)
