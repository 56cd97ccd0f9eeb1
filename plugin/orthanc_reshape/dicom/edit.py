"""Apply an EditPlan to a pydicom Dataset (Orthanc's DicomModification::Apply, steps 1 to 8).

Elements the plan does not touch stay as pydicom read them: raw bytes, never decoded nor re-encoded,
so pixel data and untouched values are copied verbatim.
"""
from __future__ import annotations

from enum import Enum
from typing import Callable, Iterator, List, Optional, Tuple, Union

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .paths import ANY_ITEM, Parents, TagPath
from .plan import EditPlan
from .raw_sequences import RawItem, RawSequence, walk_raw_sequence
from .scan import Unusual
from .serialize import ascii_value
from .tags import PATIENT_ID, PATIENT_NAME, SERIES_UID, SOP_CLASS_UID, SOP_UID, STUDY_UID, is_private, keyword
from .uids import Level, UidMap
from .values import (TEXT_VRS, dataset_encodings, element_vr, empty_value, optional_str,
                     replace_element, set_meta_uid)

REFERENCED_SOP_INSTANCE_UID = 0x00081155
REFERENCED_FRAME_OF_REFERENCE_SEQUENCE = 0x30060010
RT_REFERENCED_STUDY_SEQUENCE = 0x30060012
_MAIN_UID_LEVELS = {STUDY_UID: Level.STUDY, SERIES_UID: Level.SERIES, SOP_UID: Level.INSTANCE}
_META_OF = {SOP_UID: 0x00020003, SOP_CLASS_UID: 0x00020002}  # MediaStorageSOPInstanceUID, MediaStorageSOPClassUID


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


class _Rule(Enum):
    """What the anonymization's visitor does with an element besides remapping its value."""

    DELETE = "delete"
    EMPTY = "empty"    # a text value emptied
    ENTER = "enter"    # a sequence: its items are visited


def _rule(plan: EditPlan, parents: Parents, tag: int, vr_of: Callable[[], str],
          removes_private: Callable[[], bool]) -> Tuple[Union[_Rule, Level, None], Optional[str]]:
    """(what to do with element `tag`, its VR): a _Rule, a Level (its text value is remapped through the UID map
    at that level) or None (left alone). Nested rules apply in sequence items (`parents` not empty); a kept path
    protects the element and its whole subtree. The VR is read (`vr_of`) only past the kept paths."""
    if plan.keep_paths and plan.is_kept_path(parents, tag):
        return None, None
    vr = vr_of()
    if parents:
        if is_private(tag) and removes_private():
            return _Rule.DELETE, vr
        if tag in plan.remove or plan.in_removed_range(tag):
            return _Rule.DELETE, vr
        if tag in plan.clear:
            return (_Rule.EMPTY if vr in TEXT_VRS else _Rule.DELETE), vr
    if vr == "SQ":
        return _Rule.ENTER, vr
    level = _remap_level(parents, tag, plan) if parents else _top_level_remap(tag, plan)
    return (level if level is not None and vr in TEXT_VRS else None), vr


def _visit(ds: Dataset, parents: Parents, plan: EditPlan, uid_map: UidMap) -> None:
    """The relationship visitor of anonymization: nested rules, and UID remapping at every depth. A top-level
    sequence still as read is visited on its bytes (_visit_raw) when their walk can vouch for them."""
    for tag in list(ds.keys()):
        rule, vr = _rule(plan, parents, tag, lambda: element_vr(ds, tag), lambda: plan.removes_private(ds, tag))
        if rule is _Rule.DELETE:
            del ds[tag]
        elif rule is _Rule.EMPTY:
            ds[tag] = DataElement(tag, vr, None)
        elif rule is _Rule.ENTER:
            if parents or not _visit_raw_sequence(ds, tag, plan, uid_map):
                for index, item in enumerate(ds[tag].value or []):
                    _visit(item, parents + ((tag, index),), plan, uid_map)
        elif rule is not None:
            original = optional_str(ds, tag)
            if original is not None:
                replace_element(ds, tag, uid_map.map(rule, original), "", plan.private_creator)


def _visit_raw_sequence(ds: Dataset, tag: int, plan: EditPlan, uid_map: UidMap) -> bool:
    """_visit of the items of top-level sequence `tag` on the bytes it was read from (raw_sequences.py), its
    element replaced by the bytes they become; False when the parsed path must do it (the sequence is no longer
    as read, its walk declines it, a value needs pydicom's conversion, private elements must be told apart
    by their creator, or a path of the plan enters it). Both ways write the same bytes
    (tests/unit/test_edit_raw.py)."""
    if plan.retain_private is not None or tag in _path_starts(plan):
        return False

    def visit(tree: RawSequence) -> bool:
        for index, item in enumerate(tree.items):
            _visit_raw(tree, item, ((tag, index),), plan, uid_map)
        return True
    # declined halfway, nothing was written: the parsed path starts again (the UID map gives the same values)
    return walk_raw_sequence(ds, tag, visit) is not None


def _path_starts(plan: EditPlan) -> set:
    """The top-level sequences the plan's path removals and replacements enter (step 8 parses them anyway)."""
    return {path.prefix[0][0] for path in (*plan.path_removes, *(path for path, _, _ in plan.path_replaces))}


def _visit_raw(tree: RawSequence, item: RawItem, parents: Parents, plan: EditPlan, uid_map: UidMap) -> None:
    """_visit of one raw sequence item, with the same rules (_rule); raises Unusual for a value it cannot
    encode as the parsed path would (only ASCII text of the string VRs the writer encodes itself)."""
    for node in item.elements:
        # retain_private is None here (_visit_raw_sequence): whether a private element goes needs no creator
        rule, vr = _rule(plan, parents, node.tag, lambda: node.vr, lambda: plan.remove_private)
        if rule is _Rule.DELETE:
            node.delete()
        elif rule is _Rule.EMPTY:
            node.set_value(b"")
        elif rule is _Rule.ENTER:
            for index, sub_item in enumerate(node.items or ()):
                _visit_raw(tree, sub_item, parents + ((node.tag, index),), plan, uid_map)
        elif rule is not None:
            original = tree.text(node)
            value = None if original is None else ascii_value(vr, uid_map.map(rule, original))
            if value is None:  # not ASCII, or a VR pydicom encodes (PN, DS, IS): ascii_value declines it
                raise Unusual()
            node.set_value(value)


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
