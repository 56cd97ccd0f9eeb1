"""Moving instances into another study (split, merge): module tags set or removed, new UIDs derived
deterministically, and nested references that follow the moved instances.

Orthanc's split and merge give every moved instance a random SOPInstanceUID and leave nested references
(an RT-STRUCT's contour images, an SR's evidence) pointing at the old UIDs. Here the new UIDs are a pure
function of the target study and the old UIDs (so a retried request reproduces the same instances), and
every reference inside the moved set to a moved instance is rewritten to its new UID.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Set, Tuple

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .raw_sequences import RawItem, RawSequence, walk_raw_sequence
from .tags import SERIES_UID, SOP_UID, STUDY_UID, format_tag
from .uids import derived_uid, strip_value
from .values import (TEXT_VRS, element_vr, get_element, optional_str, replace_element, set_meta_uid,
                     value_text)

ModuleValue = Tuple[int, str, str]  # tag, string value, request field (for error messages)


def split_study_uid(root: str, source_study_uid: str, instance_ids: Iterable[str],
                    replace: Iterable[Tuple[int, str]], remove: Iterable[int]) -> str:
    """The StudyInstanceUID of a split: a function of the source study, of the set of instances moved
    (Orthanc IDs, order and duplicates ignored) and of the Replace/Remove of the request."""
    parts = ["split", strip_value(source_study_uid), *sorted(set(instance_ids)), "|replace",
             *sorted(f"{tag:08x}={value}" for tag, value in replace), "|remove",
             *sorted(f"{tag:08x}" for tag in set(remove))]
    return derived_uid(root, *parts)


@dataclass(frozen=True)
class UidScheme:
    """The new Series/SOP Instance UIDs of instances moved into the study `target_study_uid`."""

    root: str
    target_study_uid: str

    def series_uid(self, old_study: str, old_series: str) -> str:
        return derived_uid(self.root, "series", self.target_study_uid, strip_value(old_study),
                           strip_value(old_series))

    def instance_uid(self, old_study: str, old_series: str, old_sop: str) -> str:
        return derived_uid(self.root, "instance", self.target_study_uid, strip_value(old_study),
                           strip_value(old_series), strip_value(old_sop))


@dataclass(frozen=True)
class MovedSet:
    """Old UIDs of the moved instances, series and studies, with their new values.

    `whole` holds the old series and study UIDs all of whose instances move.
    """

    instances: Mapping[str, str] = field(default_factory=dict)
    series: Mapping[str, str] = field(default_factory=dict)
    studies: Mapping[str, str] = field(default_factory=dict)
    whole: FrozenSet[str] = frozenset()

    @classmethod
    def of(cls, scheme: UidScheme, members: Iterable[Tuple[str, str, str]],
           whole: Iterable[str] = ()) -> "MovedSet":
        """The moved set of `members`, each (old StudyInstanceUID, old SeriesInstanceUID, old SOPInstanceUID)."""
        instances: Dict[str, str] = {}
        series: Dict[str, str] = {}
        studies: Dict[str, str] = {}
        for study, serie, sop in members:
            study, serie, sop = strip_value(study), strip_value(serie), strip_value(sop)
            instances[sop] = scheme.instance_uid(study, serie, sop)
            series.setdefault(serie, scheme.series_uid(study, serie))
            studies[study] = scheme.target_study_uid
        return cls(instances, series, studies, frozenset(strip_value(uid) for uid in whole))

    def narrowed_uids(self, narrower: "MovedSet") -> FrozenSet[str]:
        """The old UIDs whose references may be rewritten differently with `narrower` (this set less some
        instances): the instances, series and studies that no longer move, those that no longer move whole."""
        return frozenset((self.instances.keys() - narrower.instances.keys()) | (self.series.keys() - narrower.series.keys())
                         | (self.studies.keys() - narrower.studies.keys()) | (self.whole - narrower.whole))


@dataclass(frozen=True)
class Relocation:
    """What happens to each moved instance: `remove` then `replace` (module tags), new UIDs from
    `scheme`, references to `moved` rewritten."""

    scheme: UidScheme
    moved: MovedSet
    replace: Tuple[ModuleValue, ...] = ()
    remove: Tuple[int, ...] = ()


def instance_uids(ds: Dataset) -> Tuple[str, str, str]:
    """(StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID) of a dataset, padding stripped ("" if absent)."""
    return tuple(strip_value(optional_str(ds, tag) or "") for tag in (STUDY_UID, SERIES_UID, SOP_UID))


def relocate(ds: Dataset, relocation: Relocation, mentioned: Optional[Set[str]] = None) -> Tuple[str, str, str]:
    """Move `ds` (in place) into the target study; returns its new (Study, Series, SOP Instance) UIDs. The old
    UIDs of the moved set that its references mention are added to `mentioned`."""
    old_study, old_series, old_sop = instance_uids(ds)
    rewrite_references(ds, relocation.moved, mentioned)
    for tag in relocation.remove:
        if tag in ds:
            del ds[tag]
    for tag, value, field_name in relocation.replace:
        replace_element(ds, tag, value, field_name)
    scheme = relocation.scheme
    new = (scheme.target_study_uid, scheme.series_uid(old_study, old_series),
           scheme.instance_uid(old_study, old_series, old_sop))
    for tag, value in zip((STUDY_UID, SERIES_UID, SOP_UID), new):
        replace_element(ds, tag, value, "")
    set_meta_uid(ds, 0x00020003, new[2])  # MediaStorageSOPInstanceUID
    return new


def rewrite_references(ds: Dataset, moved: MovedSet, mentioned: Optional[Set[str]] = None) -> int:
    """Rewrite, inside every sequence of `ds` (at any depth), the UI values that reference the moved set.

    A moved SOP Instance UID always takes its new value. A moved Series or Study UID takes its new value
    when that whole series or study moves, or when the same sequence item also references, at any depth,
    a moved instance (the item then describes moved instances: an evidence item, an RT referenced
    study/series). Top-level elements are not references and are left alone. Returns the number of
    values rewritten; the old UIDs of the moved set met in references are added to `mentioned`.

    A sequence still as read is rewritten on its bytes (raw_sequences.py) when their walk can vouch for them,
    and left as read when it mentions no moved UID; otherwise it is parsed. Both ways apply the same rules
    (`_rewrite_item`) and write the same bytes.
    """
    count = 0
    mentioned = set() if mentioned is None else mentioned
    for tag in list(ds.keys()):
        element = get_element(ds, tag)
        if (element.VR or element_vr(ds, tag)) != "SQ":
            continue
        on_bytes = walk_raw_sequence(ds, tag, lambda tree: _rewrite_raw(tree, moved, mentioned))
        if on_bytes is None:
            count += sum(_rewrite_item(item, _dataset_entries, moved, mentioned)[1] for item in ds[tag].value or ())
        else:
            count += on_bytes
    return count


def _rewrite_raw(tree: RawSequence, moved: MovedSet, mentioned: Set[str]) -> int:
    """The items of a raw sequence, left alone when it mentions no moved UID."""
    if not any(uid in moved.instances or uid in moved.series or uid in moved.studies for uid in tree.uids()):
        return 0
    return sum(_rewrite_item(item, _raw_entries, moved, mentioned)[1] for item in tree.items)


# What `_rewrite_item` sees of an item: its sub-items (of every sequence), and its UI values with their setter.
Entries = Tuple[List[object], List[Tuple[List[str], Callable[[List[str]], None]]]]


def _dataset_entries(item: Dataset) -> Entries:
    """The entries of a parsed sequence item."""
    sub_items: List[object] = []
    ui: List[Tuple[List[str], Callable[[List[str]], None]]] = []
    for tag in list(item.keys()):
        vr = element_vr(item, tag)
        if vr == "SQ":
            sub_items.extend(item[tag].value or ())
        elif vr == "UI":
            values = _ui_values(item, tag)
            if values:
                ui.append((values, lambda new, tag=tag: _set_ui(item, tag, new)))
    return sub_items, ui


def _raw_entries(item: RawItem) -> Entries:
    """The entries of a raw sequence item."""
    sub_items: List[object] = []
    ui: List[Tuple[List[str], Callable[[List[str]], None]]] = []
    for node in item.elements:
        if node.items is not None:
            sub_items.extend(node.items)
        elif node.values:
            ui.append((node.values, node.set_values))
    return sub_items, ui


def _ui_values(item: Dataset, tag: int) -> Optional[List[str]]:
    value = item[tag].value
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    values = [value] if isinstance(value, str) else [str(v) for v in value]
    return [strip_value(v) for v in values]


def _set_ui(item: Dataset, tag: int, values: List[str]) -> None:
    item[tag] = DataElement(tag, "UI", values[0] if len(values) == 1 else values)


def _rewrite_item(item, entries: Callable[[object], Entries], moved: MovedSet, mentioned: Set[str]) -> Tuple[bool, int]:
    """(whether the item references a moved instance at any depth, number of values rewritten); `entries`
    reads the item (a parsed or a raw one), the old UIDs of the moved set it mentions go to `mentioned`."""
    sub_items, ui = entries(item)
    references_moved = False
    count = 0
    for sub_item in sub_items:
        sub_references, sub_count = _rewrite_item(sub_item, entries, moved, mentioned)
        references_moved |= sub_references
        count += sub_count
    containers = []
    for values, set_values in ui:
        mentioned.update(v for v in values if v in moved.instances or v in moved.series or v in moved.studies)
        if any(v in moved.instances for v in values):
            references_moved = True
            count += sum(v in moved.instances for v in values)
            values = [moved.instances.get(v, v) for v in values]
            set_values(values)
        if any(v in moved.series or v in moved.studies for v in values):
            containers.append((values, set_values))
    for values, set_values in containers:
        new_values = []
        for v in values:
            new = moved.series.get(v) or moved.studies.get(v)
            if new is not None and (references_moved or v in moved.whole):
                count += 1
                new_values.append(new)
            else:
                new_values.append(v)
        if new_values != values:
            set_values(new_values)
    return references_moved, count


MAXIMUM_COPIED_LENGTH = 256  # Orthanc's ORTHANC_MAXIMUM_TAG_LENGTH: longer strings count as absent


def module_values(ds: Dataset, tags: Iterable[int]) -> Tuple[Tuple[ModuleValue, ...], Tuple[int, ...]]:
    """What a merge copies from an instance of the target study: (tags with a plain string value, to set
    in every merged instance; the other tags, to remove from them).

    A tag is copied when `ds` has it at top level as a string (an empty value counts), at most 256 bytes
    in UTF-8; absent tags, sequences, binary values and longer strings are removed (Orthanc's summary).
    """
    replace: List[ModuleValue] = []
    remove: List[int] = []
    for tag in tags:
        text = _plain_string(ds, tag)
        if text is None or len(text.encode("utf-8")) > MAXIMUM_COPIED_LENGTH:
            remove.append(tag)
        else:
            replace.append((tag, text, format_tag(tag)))
    return tuple(replace), tuple(remove)


def _plain_string(ds: Dataset, tag: int) -> Optional[str]:
    if tag not in ds or element_vr(ds, tag) not in TEXT_VRS:
        return None
    value = ds[tag].value
    return None if isinstance(value, bytes) else value_text(value)
