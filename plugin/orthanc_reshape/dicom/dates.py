"""Date shifting (PS3.15 "Retain Longitudinal Temporal Information with Modified Dates").

Every DA and DT value, at every depth (private elements of a known VR included), moves by a whole
number of days, the same for every date of one patient, so intervals are preserved exactly. TM values
carry no date and move by whole days, so they stay as they are; AS (ages) are durations and stay too.

Partial values stay valid at their precision: a DT "202403" is read as 2024-03-01, shifted, and written
back as YYYYMM; a DT "2024" likewise as YYYY. A value that is not a valid date is emptied rather than
kept (it may still hold the real date). No Orthanc import.
"""
from __future__ import annotations

import datetime
import re
from typing import Callable, Iterable, List, Optional, Tuple

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .paths import Parents
from .raw_sequences import RawItem, RawSequence, walk_raw_sequence
from .scan import Unusual
from .serialize import ascii_value
from .values import element_vr, value_text

DATE_VRS = ("DA", "DT")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(.*)$")


def _shift_ymd(year: int, month: int, day: int, days: int) -> datetime.date:
    return datetime.date(year, month, day) + datetime.timedelta(days=days)


def shift_da(value: str, days: int) -> Optional[str]:
    """A DA value (YYYYMMDD; the old ACR-NEMA YYYY.MM.DD is accepted) shifted; None if it is not a date."""
    text = value.strip().replace(".", "") if len(value.strip()) == 10 else value.strip()
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return _shift_ymd(int(text[:4]), int(text[4:6]), int(text[6:]), days).strftime("%Y%m%d")
    except (ValueError, OverflowError):
        return None


def shift_dt(value: str, days: int) -> Optional[str]:
    """A DT value (YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]) shifted, same precision; None if invalid."""
    text = value.strip()
    match = _DT.match(text)
    if not match:
        return None
    year, month, day, rest = match.groups()
    if rest and (day is None or not re.fullmatch(r"(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?([+-]\d{4})?", rest)):
        return None
    try:
        shifted = _shift_ymd(int(year), int(month or 1), int(day or 1), days)
    except (ValueError, OverflowError):
        return None
    if shifted.year < 1 or shifted.year > 9999:
        return None
    width = 4 + (2 if month else 0) + (2 if day else 0)
    return shifted.strftime("%Y%m%d")[:width] + rest


def shift_value(vr: str, value: str, days: int) -> str:
    """A (possibly multi-valued, backslash-separated) DA or DT string shifted; invalid parts become ""."""
    shift = shift_da if vr == "DA" else shift_dt
    parts = []
    for part in value.split("\\"):
        if not part.strip():
            parts.append("")
            continue
        if vr == "DA" and "-" in part:  # a range (found in query-like attributes)
            bounds = [shift(b, days) if b.strip() else "" for b in part.split("-", 1)]
            parts.append("-".join(b or "" for b in bounds) if all(b is not None for b in bounds) else "")
            continue
        parts.append(shift(part, days) or "")
    return "\\".join(parts)


Skip = Callable[[Parents, int], bool]


def shift_dates(ds: Dataset, days: int, skip: Skip = lambda p, t: False, parents: Parents = ()) -> int:
    """Shift every DA/DT element of `ds` (in place, at every depth) by `days`; returns how many changed.

    `skip(parents, tag)` protects elements (and subtrees) the request keeps or replaced explicitly. A top-level
    sequence still as read is shifted on its bytes (raw_sequences.py) when their walk can vouch for them: the
    same values change, and the same bytes are written, as when it is parsed.
    """
    changed = 0
    for tag in list(ds.keys()):
        vr = element_vr(ds, tag)
        if (vr != "SQ" and vr not in DATE_VRS) or skip(parents, tag):  # the VR first: skip() costs more
            continue
        if vr == "SQ":
            on_bytes = _shift_raw_sequence(ds, tag, days, skip) if not parents else None
            if on_bytes is not None:
                changed += on_bytes
                continue
            for index, item in enumerate(ds[tag].value or []):
                changed += shift_dates(item, days, skip, parents + ((tag, index),))
            continue
        element = ds[tag]
        raw = element.value
        if raw is None or raw == "" or raw == b"":
            continue
        text = _as_text(raw)
        shifted = shift_value(vr, text, days)
        if shifted != text:
            ds[tag] = DataElement(tag, vr, shifted)
            changed += 1
    return changed


def _shift_raw_sequence(ds: Dataset, tag: int, days: int, skip: Skip) -> Optional[int]:
    """shift_dates of top-level sequence `tag` on the bytes it was read from: how many values changed, or None
    when it is not raw or its walk declines (nothing was written then: the parsed way starts again)."""
    return walk_raw_sequence(ds, tag, lambda tree: _shift_raw_items(tree, tree.items, (), tag, days, skip))


def _shift_raw_items(tree: RawSequence, items: List[RawItem], parents: Parents, tag: int, days: int,
                     skip: Skip) -> int:
    """The items of sequence `tag` (below `parents`): the parsed walk's rules, on raw nodes."""
    changed = 0
    for index, item in enumerate(items):
        path = parents + ((tag, index),)
        for node in item.elements:
            if (node.items is None and node.vr not in DATE_VRS) or skip(path, node.tag):
                continue
            if node.items is not None:
                changed += _shift_raw_items(tree, node.items, path, node.tag, days, skip)
                continue
            text = tree.text(node)
            if text is None:
                raise Unusual()  # only pydicom's conversion can read it
            shifted = shift_value(node.vr, text, days) if text else text
            # What the writer writes for the element once the parsed walk has read it (which converts it, and so
            # drops padding it does not need, as in a value of spaces only) or replaced it.
            value = ascii_value(node.vr, shifted)
            if value is None:
                raise Unusual()
            if value != tree.value(node):
                node.set_value(value)
            changed += shifted != text
    return changed


def _as_text(raw) -> str:
    return value_text(raw).rstrip("\x00 ")


def dates_of(ds: Dataset) -> Iterable[Tuple[Tuple[int, ...], str]]:
    """(tag path, value) of every non-empty DA/DT element, depth first (for tests and dry runs)."""
    for tag in ds.keys():
        vr = element_vr(ds, tag)
        if vr == "SQ":
            for index, item in enumerate(ds[tag].value or []):
                for path, value in dates_of(item):
                    yield (tag, index) + path, value
        elif vr in DATE_VRS and ds[tag].value not in (None, "", b""):
            yield (tag,), _as_text(ds[tag].value)
