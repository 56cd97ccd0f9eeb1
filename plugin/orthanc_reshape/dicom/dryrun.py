"""Dry runs: what an edit changed in one dataset, element by element, and the Orthanc IDs it would get.

The dry run applies the very same plan with the very same code as the real run, to a copy that is never
stored, and compares the dataset before and after: so the dry run and the real run cannot disagree.
Old values are redacted to their VR and length (unless values are allowed); new values are shown.
No Orthanc import.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple

from pydicom.dataset import Dataset

from .tags import format_tag, keyword
from .uids import strip_value
from .values import element_vr, value_text

# path -> (parent path, VR, length, value); value is a str (text VRs), bytes, or the item count (SQ)
Snapshot = Dict[str, Tuple[str, str, int, Any]]


def _name(tag: int) -> str:
    name = keyword(tag)
    return name if name and not name.startswith("(") and "," not in name else format_tag(tag)


def _value(ds: Dataset, tag: int, vr: str) -> Tuple[int, Any]:
    value = ds[tag].value
    if value is None:
        return 0, ""
    if isinstance(value, (bytes, bytearray, memoryview)):  # memoryview: large pixel data (dicom/scan.py)
        return len(value), bytes(value)
    text = value_text(value)
    return len(text), text


def snapshot(ds: Dataset, prefix: str = "", parent: str = "") -> Snapshot:
    """Every element of `ds` at every depth, by path ("Seq[0].Tag")."""
    result: Snapshot = {}
    for tag in ds.keys():
        vr = element_vr(ds, tag)
        path = f"{prefix}{_name(tag)}"
        if vr == "SQ":
            items = ds[tag].value or []
            result[path] = (parent, vr, len(items), len(items))
            for index, item in enumerate(items):
                result.update(snapshot(item, f"{path}[{index}].", path))
        else:
            length, value = _value(ds, tag, vr)
            result[path] = (parent, vr, length, value)
    return result


def _shown(vr: str, length: int, value: Any, values_allowed: bool) -> Any:
    if vr == "SQ":
        return {"VR": vr, "Items": value}
    if values_allowed and isinstance(value, str):
        return value
    return {"VR": vr, "Length": length}


def _new(vr: str, length: int, value: Any) -> Any:
    if vr == "SQ":
        return {"VR": vr, "Items": value}
    if isinstance(value, str):
        return value
    return {"VR": vr, "Length": length}


def changes(before: Snapshot, after: Snapshot, remapped: Iterable[Tuple[str, str]] = (),
            values_allowed: bool = False) -> List[Dict[str, Any]]:
    """The changes from `before` to `after`: Removed, Emptied, Replaced, Remapped (through the UID map)
    or Added; a removed or added sequence is listed once, not its contents."""
    pairs = {(strip_value(old), strip_value(new)) for old, new in remapped}
    result = []
    for path, (parent, vr, length, value) in before.items():
        if path not in after:
            if not parent or parent in after:
                result.append({"Path": path, "Action": "Removed", "Old": _shown(vr, length, value, values_allowed)})
            continue
        _, new_vr, new_length, new_value = after[path]
        if new_value == value and new_vr == vr:
            continue
        if vr == "SQ" and new_vr == "SQ":
            if new_value == 0 and value:
                action = "Emptied"
            else:
                continue  # items changed: their elements are listed
        elif new_length == 0 and length:
            action = "Emptied"
        elif isinstance(value, str) and isinstance(new_value, str) and \
                (strip_value(value), strip_value(new_value)) in pairs:
            action = "Remapped"
        else:
            action = "Replaced"
        result.append({"Path": path, "Action": action, "Old": _shown(vr, length, value, values_allowed),
                       "New": _new(new_vr, new_length, new_value)})
    for path, (parent, vr, length, value) in after.items():
        if path not in before and (not parent or parent in before):
            result.append({"Path": path, "Action": "Added", "New": _new(vr, length, value)})
    return result
