"""Apply an EditPlan to a pydicom Dataset (Orthanc's DicomModification::Apply, steps 1 to 8).

Elements the plan does not touch stay as pydicom read them: raw bytes, never decoded nor re-encoded,
so pixel data and untouched values are copied verbatim.
"""
from __future__ import annotations

from typing import Iterator, List, Tuple

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .paths import ANY_ITEM, TagPath
from .plan import EditPlan
from .tags import PATIENT_ID, PATIENT_NAME, SERIES_UID, SOP_CLASS_UID, SOP_UID, STUDY_UID, is_private, keyword
from .uids import Level, UidMap
from .values import (TEXT_VRS, dataset_encodings, element_vr, empty_value, optional_str, replace_element,
                     set_meta_uid)

REFERENCED_SOP_INSTANCE_UID = 0x00081155
REFERENCED_FRAME_OF_REFERENCE_SEQUENCE = 0x30060010
RT_REFERENCED_STUDY_SEQUENCE = 0x30060012
_MAIN_UID_LEVELS = {STUDY_UID: Level.STUDY, SERIES_UID: Level.SERIES, SOP_UID: Level.INSTANCE}
_META_OF = {SOP_UID: 0x00020003, SOP_CLASS_UID: 0x00020002}  # MediaStorageSOPInstanceUID, MediaStorageSOPClassUID

Parents = Tuple[Tuple[int, int], ...]


def apply_plan(ds: Dataset, plan: EditPlan, uid_map: UidMap) -> None:
    """Modify `ds` in place according to `plan`, generating new identifiers through `uid_map`."""
    if plan.is_anonymization:  # (1) user-forced UIDs also rewrite the references to the old ones
        for tag, level in _MAIN_UID_LEVELS.items():
            if tag in plan.replace and isinstance(plan.replace[tag][0], str):
                uid_map.register(level, optional_str(ds, tag) or "", plan.replace[tag][0])
    if plan.remove_private:  # (2)
        for tag in [t for t in ds.keys() if is_private(t) and t not in plan.keep and plan.removes_private(ds, t)]:
            del ds[tag]
    present = set(ds.keys())  # set intersections: the profile has hundreds of tags, a file a few dozen
    for tag in plan.clear & present:  # (3)
        empty_value(ds, tag)
    for tag in plan.remove & present:  # (4)
        del ds[tag]
    for tag, (value, field) in plan.replace.items():  # (5)
        _replace(ds, tag, value, field, plan.private_creator)
    for tag, level in _MAIN_UID_LEVELS.items():  # (6)
        if plan.level <= level and tag not in plan.replace and tag not in plan.keep:
            _replace(ds, tag, uid_map.map(level, optional_str(ds, tag) or ""), keyword(tag), plan.private_creator)
    if plan.is_anonymization:  # (7)
        _visit(ds, (), plan, uid_map)
    for path in plan.path_removes:  # (8)
        for item in _items(ds, path):
            if path.tag in item:
                del item[path.tag]
    encodings = dataset_encodings(ds)  # items carry no SpecificCharacterSet: they inherit the root's
    for path, value, field in plan.path_replaces:
        for item in _items(ds, path):
            replace_element(item, path.tag, value, field, plan.private_creator, encodings)


def _replace(ds: Dataset, tag: int, value, field: str, private_creator: str) -> None:
    replace_element(ds, tag, value, field, private_creator)
    meta_tag = _META_OF.get(tag)
    if meta_tag and isinstance(value, str):
        set_meta_uid(ds, meta_tag, value)


def _items(ds: Dataset, path: TagPath) -> Iterator[Dataset]:
    """The sequence items a path's prefix designates (none when a step does not exist)."""
    current: List[Dataset] = [ds]
    for seq_tag, index in path.prefix:
        following: List[Dataset] = []
        for item in current:
            if seq_tag not in item or element_vr(item, seq_tag) != "SQ":
                continue
            sequence = item[seq_tag].value or []
            if index == ANY_ITEM:
                following.extend(sequence)
            elif index < len(sequence):
                following.append(sequence[index])
        current = following
    return iter(current)


def _visit(ds: Dataset, parents: Parents, plan: EditPlan, uid_map: UidMap) -> None:
    """The relationship visitor of anonymization: nested rules, and UID remapping at every depth."""
    nested = bool(parents)
    for tag in list(ds.keys()):
        if plan.keep_paths and plan.is_kept_path(parents, tag):
            continue  # a kept path protects the element and its whole subtree
        vr = element_vr(ds, tag)
        if nested:
            if is_private(tag) and plan.removes_private(ds, tag):
                del ds[tag]
                continue
            if tag in plan.remove or plan.in_removed_range(tag):
                del ds[tag]
                continue
            if tag in plan.clear:
                if vr in TEXT_VRS:
                    ds[tag] = DataElement(tag, vr, None)
                else:
                    del ds[tag]
                continue
        if vr == "SQ":
            for index, item in enumerate(ds[tag].value or []):
                _visit(item, parents + ((tag, index),), plan, uid_map)
            continue
        level = _remap_level(parents, tag, plan) if nested else _top_level_remap(tag, plan)
        if level is not None and vr in TEXT_VRS:
            original = optional_str(ds, tag)
            if original is not None:
                replace_element(ds, tag, uid_map.map(level, original), "", plan.private_creator)


def _top_level_remap(tag: int, plan: EditPlan):
    if tag not in plan.uids:
        return None
    return Level.PATIENT if tag in (PATIENT_ID, PATIENT_NAME) else Level.INSTANCE


def _remap_level(parents: Parents, tag: int, plan: EditPlan):
    if tag in _MAIN_UID_LEVELS:
        return _MAIN_UID_LEVELS[tag]
    if tag not in plan.uids:
        return None
    if tag in (PATIENT_ID, PATIENT_NAME):
        return Level.PATIENT
    if (tag == REFERENCED_SOP_INSTANCE_UID and len(parents) == 2
            and parents[0][0] == REFERENCED_FRAME_OF_REFERENCE_SEQUENCE
            and parents[1][0] == RT_REFERENCED_STUDY_SEQUENCE):
        return Level.STUDY
    return Level.INSTANCE
