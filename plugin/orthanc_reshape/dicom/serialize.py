"""A fast Part-10 writer for datasets read by pydicom: untouched (raw) elements are copied as the bytes
they were read from, only changed elements go through pydicom's encoders.

pydicom's own dcmwrite re-walks and re-buffers every element (about 7 ms for a 512 KB CT image); this
writer costs a header and a copy per untouched element. A dataset read by `files.read_dataset` remembers
its source bytes (`remember_source`): an element still as it was read is then copied with its header as
one slice of the source, with no encoding at all. It is byte-for-byte what dcmwrite produces for
the same dataset (tests/unit/test_serialize.py checks it on every test file), except that it never
writes group length elements (gggg,0000) of the dataset, as dcmwrite does not either.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.uid import UID

from .scan import ITEM, ITEM_END, LONG_LENGTH_VRS, SEQUENCE_END, UNDEFINED_LENGTH
from .values import dataset_encodings, optional_str, set_meta_uid



class Encoding:
    """Byte order and VR explicitness of the dataset being written, and its element headers."""

    def __init__(self, implicit: bool, little: bool) -> None:
        self.implicit = implicit
        self.little = little
        self.order = "<" if little else ">"

    def tag(self, tag: int) -> bytes:
        return struct.pack(self.order + "HH", tag >> 16, tag & 0xFFFF)

    def item(self, length: int) -> bytes:
        """The header of a sequence item of this length (UNDEFINED_LENGTH: ended by an item delimiter)."""
        return self.tag(ITEM) + struct.pack(self.order + "L", length)

    def delimiter(self, tag: int) -> bytes:
        """An item (ITEM_END) or sequence (SEQUENCE_END) delimitation item."""
        return self.tag(tag) + b"\x00\x00\x00\x00"

    def header(self, tag: int, vr: str, length: int) -> bytes:
        if self.implicit:
            return self.tag(tag) + struct.pack(self.order + "L", length)
        if vr in LONG_LENGTH_VRS:
            return self.tag(tag) + vr.encode("ascii") + b"\x00\x00" + struct.pack(self.order + "L", length)
        return self.tag(tag) + vr.encode("ascii") + struct.pack(self.order + "H", length)


_SOURCE_ATTRIBUTE = "_reshape_source"


@dataclass(frozen=True)
class _Source:
    """The bytes a dataset was read from, and its top-level elements (and file meta elements) as read."""

    view: memoryview
    dataset: Dict[int, object]
    meta: Dict[int, object]


def remember_source(ds: Dataset, data: bytes) -> None:
    """Let the writer copy the elements of `ds` that stay as read straight from `data` (the bytes `ds` was
    parsed from). Elements are recognised by identity, so a changed or replaced element is encoded anew."""
    file_meta = getattr(ds, "file_meta", None)
    source = _Source(memoryview(data), dict(ds._dict), dict(file_meta._dict) if file_meta is not None else {})
    object.__setattr__(ds, _SOURCE_ATTRIBUTE, source)


def _is_as_read(element: RawDataElement, encoding: Encoding) -> bool:
    """Whether a raw element's bytes are valid as they are in the file being written: same byte order and VR
    explicitness, a known VR when explicit, a value that was read."""
    return (element.is_implicit_VR == encoding.implicit and element.is_little_endian == encoding.little
            and (encoding.implicit or element.VR is not None) and element.value is not None
            and not element.is_buffered)


def _span(element: RawDataElement, encoding: Encoding) -> slice:
    """Where an element still as read lies in its source: header, value, and the delimiter that ends an
    undefined-length value."""
    header = 8 if encoding.implicit or element.VR not in LONG_LENGTH_VRS else 12
    end = element.value_tell + (len(element.value) + 8 if element.length == UNDEFINED_LENGTH else element.length)
    return slice(element.value_tell - header, end)


def _write_items(out: List[bytes], ds: Dataset, encoding: Encoding, encodings: List[str],
                 meta: bool = False, source: Optional[_Source] = None) -> None:
    """Append the encoded elements of `ds` (a dataset or a sequence item; the file meta if `meta`) to `out`;
    elements of `source` still as read are copied from it."""
    originals = (source.meta if meta else source.dataset) if source is not None else {}
    if 0x00080005 in ds._dict:  # an item may declare its own character set
        encodings = dataset_encodings(ds)
    for tag in sorted(ds._dict, key=int):  # plain ints: BaseTag compares in Python
        if (tag >> 16 == 0x0002) != meta or tag & 0xFFFF == 0:
            continue  # file meta is written apart; group lengths are not written
        element = ds._dict[tag]
        if isinstance(element, RawDataElement):
            if not _is_as_read(element, encoding):
                element = ds[tag]
            elif originals.get(tag) is element:  # the source's own: copied with its header
                out.append(source.view[_span(element, encoding)])
                continue
            else:  # another raw element: a new header
                out.append(encoding.header(tag, element.VR or "", element.length))
                out.append(element.value)
                if element.length == UNDEFINED_LENGTH:  # the value stops before its delimiter
                    out.append(encoding.delimiter(SEQUENCE_END))
                continue
        if element.VR == "SQ":
            _write_sequence(out, element, encoding, encodings)
        elif element.value is None or element.value == "":
            out.append(encoding.header(tag, element.VR, 0))  # an emptied element: no value to encode
        elif (text := _ascii_text(element)) is not None:
            out.append(encoding.header(tag, element.VR, len(text)))
            out.append(text)
        else:
            fp = DicomBytesIO()
            fp.is_little_endian, fp.is_implicit_VR = encoding.little, encoding.implicit
            write_data_element(fp, element, encodings)
            out.append(fp.getvalue())


# String VRs and their padding (PS3.5 6.2): an ASCII value is encoded the same in every character set.
# PN (PersonName values), DS and IS (number objects) are left to pydicom.
_STRING_PADDING = {"UI": b"\x00", "AE": b" ", "AS": b" ", "CS": b" ", "DA": b" ", "DT": b" ", "TM": b" ",
                   "LO": b" ", "SH": b" ", "ST": b" ", "LT": b" ", "UC": b" ", "UT": b" ", "UR": b" "}


def _ascii_text(element: DataElement) -> Optional[bytes]:
    """The encoded value of a string element whose value is ASCII text (one string or several), as pydicom
    encodes it but without its per-element file object; None for anything else."""
    return ascii_value(element.VR, element.value)


def ascii_value(vr: str, value) -> Optional[bytes]:
    """The encoded value of a string VR from ASCII text (a string, or a list of strings joined by backslashes),
    padded to an even length; None when it is not ASCII text of a string VR."""
    padding = _STRING_PADDING.get(vr)
    if padding is None:
        return None
    if not isinstance(value, str):
        if not isinstance(value, (list, MultiValue)) or not all(isinstance(v, str) for v in value):
            return None
        value = "\\".join(value)
    if not value.isascii():
        return None
    data = value.encode("ascii")
    if len(data) % 2:
        data += padding
    return data if len(data) <= 0xFFFF or vr in LONG_LENGTH_VRS else None


def _write_sequence(out: List[bytes], element: DataElement, encoding: Encoding, encodings: List[str]) -> None:
    """A sequence, keeping the defined or undefined lengths it was read with (as dcmwrite does)."""
    items: List[bytes] = []
    for item in element.value or ():
        body: List[bytes] = []
        _write_items(body, item, encoding, encodings)
        content = b"".join(body)
        if getattr(item, "is_undefined_length_sequence_item", False):
            items.append(encoding.item(UNDEFINED_LENGTH) + content + encoding.delimiter(ITEM_END))
        else:
            items.append(encoding.item(len(content)) + content)
    value = b"".join(items)
    if element.is_undefined_length:
        out.append(encoding.header(element.tag, "SQ", UNDEFINED_LENGTH))
        out.append(value + encoding.delimiter(SEQUENCE_END))
    else:
        out.append(encoding.header(element.tag, "SQ", len(value)))
        out.append(value)


_REQUIRED_META = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013)
_META_ENCODING = Encoding(implicit=False, little=True)


def _encode_meta(file_meta: Dataset, source: Optional[_Source]) -> bytes:
    """The File Meta Information group, with its group length (what write_file_meta_info writes when
    nothing is missing; it completes an incomplete group, so it still writes those)."""
    if not all(tag in file_meta._dict for tag in _REQUIRED_META):
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
        write_file_meta_info(buffer, file_meta, enforce_standard=True)
        return buffer.getvalue()
    elements: List[bytes] = []
    _write_items(elements, file_meta, _META_ENCODING, ["iso8859"], meta=True, source=source)
    group = b"".join(elements)
    return _META_ENCODING.header(0x00020000, "UL", 4) + struct.pack("<L", len(group)) + group


def transfer_syntax(ds: Dataset) -> UID:
    """The transfer syntax of a dataset read from a file (its file meta's), read from the bytes when still raw:
    pydicom's attribute access would convert the element, which the writer then encodes instead of copying."""
    return UID(optional_str(ds.file_meta, 0x00020010) or "")


def encode_file(ds: Dataset) -> bytes:
    """The Part-10 file of `ds` (preamble, DICM, file meta, dataset) in its own transfer syntax; the
    meta header's MediaStorageSOPClassUID/InstanceUID are set to the dataset's (as dcmwrite does).

    Deflated syntaxes are not handled here (ValueError): use pydicom's dcmwrite for them."""
    syntax = transfer_syntax(ds)
    if syntax.is_deflated or not syntax.is_transfer_syntax:
        raise ValueError(f"encode_file does not write {syntax}")
    encoding = Encoding(syntax.is_implicit_VR, syntax.is_little_endian)
    file_meta = ds.file_meta
    source = getattr(ds, _SOURCE_ATTRIBUTE, None)
    if "SOPInstanceUID" in ds and "SOPClassUID" in ds:  # the meta header follows the dataset, as in DCMTK
        for tag, meta_tag in _META_COPIES:
            if not _same_as_read(ds, tag, file_meta, meta_tag, source):
                set_meta_uid(ds, meta_tag, ds[tag].value)
    out: List[bytes] = [getattr(ds, "preamble", None) or b"\x00" * 128, b"DICM", _encode_meta(file_meta, source)]
    _write_items(out, ds, encoding, dataset_encodings(ds), source=source)
    return b"".join(out)


_META_COPIES = ((0x00080016, 0x00020002), (0x00080018, 0x00020003))  # SOP Class/Instance UID, their MediaStorage copy


def _same_as_read(ds: Dataset, tag: int, file_meta: Dataset, meta_tag: int, source: Optional[_Source]) -> bool:
    """Whether a dataset element and its file meta copy are both still as read, as UI, with the same bytes:
    there is no copy to make (dcmwrite does not make one either; it reads the element as UI, which rewrites
    the header of one read with another VR, such as UN)."""
    if source is None:
        return False
    element, meta_element = ds._dict.get(tag), file_meta._dict.get(meta_tag)
    return (element is not None and source.dataset.get(tag) is element and isinstance(element, RawDataElement)
            and meta_element is not None and source.meta.get(meta_tag) is meta_element
            and isinstance(meta_element, RawDataElement) and element.VR == meta_element.VR == "UI"
            and element.value == meta_element.value)
