"""Tag names: keywords, "gggg,eeee", "gggg-eeee", "ggggeeee", "(gggg,eeee)" -> int tags, and VR look-ups."""
from __future__ import annotations

import re
from typing import Dict, Optional

from pydicom import datadict

from ..errors import unknown_tag

_HEX_FORMS = (
    re.compile(r"^\(?\s*([0-9A-Fa-f]{4})\s*[,-]\s*([0-9A-Fa-f]{4})\s*\)?$"),
    re.compile(r"^([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})$"),
)

# Names declared in Orthanc's "Dictionary" configuration: keyword -> tag.
_extra_names: Dict[str, int] = {}

PATIENT_ID = 0x00100020
PATIENT_NAME = 0x00100010
STUDY_UID = 0x0020000D
SERIES_UID = 0x0020000E
SOP_UID = 0x00080018
SOP_CLASS_UID = 0x00080016
MAIN_IDENTIFIERS = (PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID)


def register_names(names: Dict[str, int]) -> None:
    """Make extra keywords (Orthanc's configured dictionary) resolvable by parse_tag."""
    _extra_names.update(names)


def parse_tag(text: str, field: Optional[str] = None) -> int:
    """A tag name in any form Orthanc accepts -> the tag as an int; unknown names raise UnknownDicomTag."""
    if not isinstance(text, str):
        raise unknown_tag(repr(text), field)
    name = text.strip()
    for pattern in _HEX_FORMS:
        match = pattern.match(name)
        if match:
            return (int(match.group(1), 16) << 16) | int(match.group(2), 16)
    tag = _extra_names.get(name)
    if tag is None and name:  # pydicom files blank-keyword retired tags under "": never a name
        tag = datadict.tag_for_keyword(name)
    if tag is None:
        raise unknown_tag(text, field)
    return tag


def format_tag(tag: int) -> str:
    """0x00100010 -> "0010,0010" (Orthanc's notation)."""
    return f"{tag >> 16:04x},{tag & 0xFFFF:04x}"


def is_private(tag: int) -> bool:
    return bool((tag >> 16) & 1)


def keyword(tag: int) -> str:
    """The keyword of a standard tag, else its "gggg,eeee" form."""
    return datadict.keyword_for_tag(tag) or format_tag(tag)


def dictionary_vr(tag: int, private_creator: str = "") -> Optional[str]:
    """The VR the dictionary gives a tag (first of multi-VRs), or None when unknown."""
    try:
        if is_private(tag):
            if not private_creator or (tag & 0xFFFF) < 0x1000:
                return "LO" if 0x0010 <= (tag & 0xFFFF) <= 0x00FF else None
            vr = datadict.private_dictionary_VR(tag, private_creator)
        else:
            vr = datadict.dictionary_VR(tag)
    except KeyError:
        return None
    return vr.split(" or ")[0] if vr else None
