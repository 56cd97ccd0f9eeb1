"""Moving instances into another study (split, merge): module tags set or removed, new UIDs derived
deterministically, and nested references that follow the moved instances.

Orthanc's split and merge give every moved instance a random SOPInstanceUID and leave nested references
(an RT-STRUCT's contour images, an SR's evidence) pointing at the old UIDs. Here the new UIDs are a pure
function of the target study and the old UIDs (so a retried request reproduces the same instances), and
every reference inside the moved set to a moved instance is rewritten to its new UID.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from .scan import sequence_uids
from .tags import SERIES_UID, SOP_UID, STUDY_UID, format_tag
from .uids import derived_uid, strip_value
from .values import TEXT_VRS, element_vr, optional_str, replace_element

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


def relocate(ds: Dataset, relocation: Relocation) -> Tuple[str, str, str]:
    """Move `ds` (in place) into the target study; returns its new (Study, Series, SOP Instance) UIDs."""
    old_study, old_series, old_sop = instance_uids(ds)
    rewrite_references(ds, relocation.moved)
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
    if getattr(ds, "file_meta", None) is not None:
        ds.file_meta.MediaStorageSOPInstanceUID = new[2]
    return new


def rewrite_references(ds: Dataset, moved: MovedSet) -> int:
    """Rewrite, inside every sequence of `ds` (at any depth), the UI values that reference the moved set.

    A moved SOP Instance UID always takes its new value. A moved Series or Study UID takes its new value
    when that whole series or study moves, or when the same sequence item also references, at any depth,
    a moved instance (the item then describes moved instances: an evidence item, an RT referenced
    study/series). Top-level elements are not references and are left alone. Returns the number of
    values rewritten.
    """
    count = 0
    for tag in list(ds.keys()):
        if element_vr(ds, tag) == "SQ" and _may_reference(ds.get_item(tag), moved):
            for item in ds[tag].value or ():
                count += _rewrite_item(item, moved)[1]
    return count


def _may_reference(element, moved: MovedSet) -> bool:
    """False when a sequence still raw mentions no moved UID (found without parsing it): it stays raw and
    is written back as read."""
    if not isinstance(element, RawDataElement):
        return True
    uids = sequence_uids(element)
    return uids is None or any(uid in moved.instances or uid in moved.series or uid in moved.studies
                               for uid in uids)


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


def _rewrite_item(item: Dataset, moved: MovedSet) -> Tuple[bool, int]:
    """(whether the item references a moved instance at any depth, number of values rewritten)."""
    references_moved = False
    count = 0
    containers: List[Tuple[int, List[str]]] = []
    for tag in list(item.keys()):
        vr = element_vr(item, tag)
        if vr == "SQ":
            for sub_item in item[tag].value or ():
                sub_references, sub_count = _rewrite_item(sub_item, moved)
                references_moved |= sub_references
                count += sub_count
        elif vr == "UI":
            values = _ui_values(item, tag)
            if not values:
                continue
            if any(v in moved.instances for v in values):
                references_moved = True
                count += sum(v in moved.instances for v in values)
                values = [moved.instances.get(v, v) for v in values]
                _set_ui(item, tag, values)
            if any(v in moved.series or v in moved.studies for v in values):
                containers.append((tag, values))
    for tag, values in containers:
        new_values = []
        for v in values:
            new = moved.series.get(v) or moved.studies.get(v)
            if new is not None and (references_moved or v in moved.whole):
                count += 1
                new_values.append(new)
            else:
                new_values.append(v)
        if new_values != values:
            _set_ui(item, tag, new_values)
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
    if value is None:
        return ""
    if isinstance(value, bytes):
        return None
    if isinstance(value, (list, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)
