"""A fast reader of Part-10 files into the same pydicom FileDataset that `pydicom.dcmread` builds.

pydicom reads element by element through a file object (and parses every sequence of undefined length
at once); this reader walks the bytes with `struct` and keeps every top-level element raw, sequences of
undefined length included (pydicom parses one when something asks for its value). It takes the common
case only: a preamble and "DICM", a file meta group, then a dataset in an uncompressed byte order or an
encapsulated syntax. Anything else (no preamble, a deflated or private syntax, a dataset whose encoding
does not match its transfer syntax, a truncated or malformed element) answers None, and the caller falls
back to pydicom's own reader, which knows every quirk.
"""
from __future__ import annotations

import struct
from typing import Dict, Optional, Tuple

from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

# VRs whose explicit-VR header has a 4-byte length (PS3.5 7.1.2), as pydicom reads them; the length of an
# undefined-length value
LONG_LENGTH_VRS = frozenset(str(vr.value) for vr in EXPLICIT_VR_LENGTH_32)  # plain str: fast lookups
UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_CHARSET = 0x00080005
# Pixel data (and its float variants) of at least this size is not copied out of the file's bytes: its value is
# a memoryview of them. A copy of a fresh 500 KB buffer costs more than the rest of reading the file.
_PIXEL_DATA_TAGS = frozenset((0x7FE00008, 0x7FE00009, 0x7FE00010))
_VIEW_MIN_LENGTH = 64 * 1024

# transfer syntax -> (implicit VR, little endian); other syntaxes are encapsulated, explicit little endian
_BYTE_ORDERS = {"1.2.840.10008.1.2": (True, True), "1.2.840.10008.1.2.1": (False, True),
                "1.2.840.10008.1.2.2": (False, False)}
_NOT_HANDLED = frozenset(("1.2.840.10008.1.2.1.99",  # deflated
                          "1.2.840.10008.1.2.4.100.1", "1.2.840.10008.1.2.4.101.1"))  # fragmented MPEG-2


class Unusual(Exception):
    """The file needs pydicom's own reader."""


def _vr_of(vr_bytes: bytes) -> Tuple[str, bool]:
    """(VR, whether its explicit header has a 4-byte length) of two VR bytes, which must be upper-case letters."""
    if not (0x40 < vr_bytes[0] < 0x5B and 0x40 < vr_bytes[1] < 0x5B):
        raise Unusual()
    vr = vr_bytes.decode("ascii")
    return vr, vr in LONG_LENGTH_VRS


# Every two upper-case letters: (VR, long length), looked up once per explicit element
_VRS = {bytes((a, b)): _vr_of(bytes((a, b))) for a in range(0x41, 0x5B) for b in range(0x41, 0x5B)}


class Walker:
    """Element headers of one byte order and VR explicitness, over a whole file's bytes."""

    def __init__(self, data: bytes, implicit: bool, little: bool) -> None:
        self.data, self.implicit, self.little = data, implicit, little
        self.size = len(data)
        self.view = memoryview(data)
        order = "<" if little else ">"
        self.tag_length = struct.Struct(order + "HHL")      # implicit header, and every item header
        self.explicit = struct.Struct(order + "HH2sH")      # explicit header, 2-byte length
        self.long_length = struct.Struct(order + "L")

    def header(self, pos: int) -> Tuple[int, Optional[str], int, int]:
        """(tag, VR or None, length, position of the value) of the element at `pos`."""
        if pos + 8 > self.size:
            raise Unusual()
        if self.implicit:
            group, element, length = self.tag_length.unpack_from(self.data, pos)
            return group << 16 | element, None, length, pos + 8
        group, element, vr_bytes, length = self.explicit.unpack_from(self.data, pos)
        if group == 0xFFFE:  # items and delimiters have no VR
            return group << 16 | element, None, self.tag_length.unpack_from(self.data, pos)[2], pos + 8
        vr, long_length = _VRS.get(vr_bytes) or _vr_of(vr_bytes)
        if long_length:
            if pos + 12 > self.size:
                raise Unusual()
            return group << 16 | element, vr, self.long_length.unpack_from(self.data, pos + 8)[0], pos + 12
        return group << 16 | element, vr, length, pos + 8

    def end_of_items(self, pos: int) -> int:
        """Position of the sequence delimitation item that ends the undefined-length value starting at `pos`
        (the items of a sequence, or the fragments of encapsulated pixel data)."""
        while True:
            tag, _, length, value = self.header(pos)
            if tag == SEQUENCE_END:
                return pos
            if tag != ITEM:
                raise Unusual()
            pos = self.end_of_dataset(value) + 8 if length == UNDEFINED_LENGTH else value + length

    def end_of_dataset(self, pos: int) -> int:
        """Position of the item delimitation item that ends the undefined-length item starting at `pos`."""
        while True:
            tag, _, length, value = self.header(pos)
            if tag == ITEM_END:
                return pos
            pos = self.end_of_items(value) + 8 if length == UNDEFINED_LENGTH else value + length


def _undefined_length_vr(walker: Walker, tag: int, vr: Optional[str], value_tell: int) -> Optional[str]:
    """The VR of an undefined-length element as pydicom reads it: SQ (in implicit VR: a sequence of the
    dictionary, or a private tag whose value starts with an item), OB/OW (encapsulated pixel data)."""
    if vr is not None:
        if vr in ("SQ", "OB", "OW"):
            return vr
        raise Unusual()  # UN of undefined length is parsed as a sequence by pydicom
    try:
        known = dictionary_VR(tag)
    except KeyError:
        known = None
    if known == "SQ" or (known is None and walker.header(value_tell)[0] == ITEM):
        return "SQ"
    if known in ("OB", "OW", "OB or OW"):
        return None  # implicit VR: the raw element has no VR, as pydicom reads it
    raise Unusual()


def _value(walker: Walker, tag: int, start: int, stop: int):
    """The bytes of a value: a view of the file's bytes for large pixel data, a copy otherwise."""
    if tag in _PIXEL_DATA_TAGS and stop - start >= _VIEW_MIN_LENGTH:
        return walker.view[start:stop]
    return walker.data[start:stop]


def _elements(walker: Walker, pos: int, end: int, meta: bool, last: Optional[int] = None,
              ordered: bool = False) -> Tuple[Dict[int, RawDataElement], int]:
    """The raw elements from `pos` (the file meta group only, if `meta`; only those up to tag `last` if given, the
    tags of the whole dataset then in ascending order, unless the caller knows they are: `ordered`) and where
    they stop."""
    data, implicit, little = walker.data, walker.implicit, walker.little
    elements: Dict[int, RawDataElement] = {}
    previous = -1
    while pos < end:
        if meta and data[pos:pos + 2] != b"\x02\x00":
            break  # the end of the file meta group (little endian group 0x0002)
        tag, vr, length, value_tell = walker.header(pos)
        if tag >> 16 in (0x0000, 0xFFFE) or (not meta and tag >> 16 == 0x0002):
            raise Unusual()  # a command set, a stray delimiter or file meta in the dataset
        if last is not None:
            if tag <= previous:
                raise Unusual()  # out of order: an element up to `last` may come later
            previous = tag
        if length == UNDEFINED_LENGTH:
            vr = _undefined_length_vr(walker, tag, vr, value_tell)
            stop = walker.end_of_items(value_tell)
            pos = stop + 8
        else:
            stop = pos = value_tell + length
            if pos > end:
                raise Unusual()
        if last is not None and tag > last:
            if ordered:
                break
            continue  # walked over, only to check the order
        value = _value(walker, tag, value_tell, stop) if length else empty_value_for_VR(vr, raw=True)
        key = BaseTag(tag)
        elements[key] = RawDataElement(key, vr, length, value, value_tell, implicit, little)
    return elements, pos


def _dataset_start(data: bytes) -> Optional[Tuple[Dict[int, RawDataElement], Walker, int]]:
    """(file meta elements, a walker of the dataset's encoding, where the dataset starts); None when the file is
    not one this reader takes. Raises Unusual or struct.error on a malformed file meta group."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    meta_elements, start = _elements(Walker(data, False, True), 132, len(data), meta=True)
    syntax_element = meta_elements.get(0x00020010)
    if syntax_element is None:
        return None
    syntax = syntax_element.value.rstrip(b"\x00 ").decode("ascii", "replace")
    if syntax in _NOT_HANDLED:
        return None
    implicit, little = _BYTE_ORDERS.get(syntax, (False, True))
    if start < len(data):
        vr = data[start + 4:start + 6]
        if len(vr) == 2 and (0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B) == implicit:
            return None  # the dataset is not encoded as its transfer syntax says
    return meta_elements, Walker(data, implicit, little), start


def leading_elements(data: bytes, last: int, ordered: bool = False) -> Optional[Dict[int, RawDataElement]]:
    """The raw top-level elements of a file up to tag `last`, as fast_read reads them but without building a
    dataset (a few identifiers at the start of a file; the elements after them are only walked over, to check
    their order, unless the caller knows the tags ascend: `ordered`); None when fast_read would decline the file,
    or when its top-level tags are not in ascending order."""
    try:
        start = _dataset_start(data)
        if start is None:
            return None
        _, walker, pos = start
        return _elements(walker, pos, len(data), meta=False, last=last, ordered=ordered)[0]
    except (Unusual, struct.error):
        return None


def fast_read(data: bytes) -> Optional[FileDataset]:
    """The FileDataset pydicom's dcmread(force=True) reads from `data`, every top-level element raw; None when
    the file is not one this reader takes (the caller then uses dcmread)."""
    try:
        start = _dataset_start(data)
        if start is None:
            return None
        meta_elements, walker, pos = start
        implicit, little = walker.implicit, walker.little
        elements, _ = _elements(walker, pos, len(data), meta=False)
    except (Unusual, struct.error):
        return None
    dataset = Dataset(elements)
    encoding = (convert_encodings(convert_raw_data_element(elements[BaseTag(_CHARSET)]).value)
                if _CHARSET in elements else "iso8859")
    dataset.set_original_encoding(implicit, little, encoding)
    ds = FileDataset("", dataset, data[:128], FileMetaDataset(meta_elements), implicit, little)
    # `encoding` is what dataset._character_set gives, but that property converts the element in place
    ds.set_original_encoding(implicit, little, encoding)
    return ds
