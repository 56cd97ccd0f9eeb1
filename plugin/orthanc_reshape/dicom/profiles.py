"""De-identification profiles (PS3.15 Table E.1-1 as Orthanc implements it), loaded from data/profiles.json."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import FrozenSet, Tuple

from .tags import PATIENT_ID, PATIENT_NAME, STUDY_UID, parse_tag

_DATA = os.path.join(os.path.dirname(__file__), "data", "profiles.json")

# (first group, last group, first element, last element)
TagRange = Tuple[int, int, int, int]


def in_ranges(ranges: Tuple[TagRange, ...], tag: int) -> bool:
    """True when `tag` lies in one of the (group, element) ranges (curve and overlay data)."""
    group, element = tag >> 16, tag & 0xFFFF
    return any(g0 <= group <= g1 and e0 <= element <= e1 for g0, g1, e0, e1 in ranges)


@dataclass(frozen=True)
class Profile:
    """The tag sets of one DicomVersion: removed, cleared, and remapped through the UID map."""

    version: str
    remove: FrozenSet[int]
    clear: FrozenSet[int]
    uids: FrozenSet[int]
    ranges: Tuple[TagRange, ...]
    deidentification_method: str  # with a "{version}" placeholder for the Orthanc version



@lru_cache(maxsize=1)
def _table() -> dict:
    with open(_DATA, encoding="utf-8") as f:
        return json.load(f)


def versions() -> Tuple[str, ...]:
    """Every DicomVersion name a request may give: Orthanc's, and "2026a" (annex_e.py, Reshape only)."""
    return tuple(_table()["profiles"]) + ("2026a",)


@lru_cache(maxsize=None)
def load_profile(version: str) -> Profile:
    """The profile of a DicomVersion (KeyError if unknown: validate with versions() first)."""
    if version == "2026a":
        from .annex_e import profile_2026a  # built from the Annex E table, which imports this module
        return profile_2026a()
    data = _table()["profiles"][version]
    by_action = {}
    for row in data["tags"]:
        by_action.setdefault(row["action"], set()).add(parse_tag(row["tag"]))
    ranges = tuple(
        (int(r["groups"][0], 16), int(r["groups"][1], 16), int(r["elements"][0], 16), int(r["elements"][1], 16))
        for r in data["ranges"]
    )
    return Profile(
        version=version,
        remove=frozenset(by_action.get("remove", ())),
        clear=frozenset(by_action.get("clear", ())),
        # SetupAnonymization adds PatientID and PatientName to the UID set after the table.
        uids=frozenset(by_action.get("replace-uid", set()) | {PATIENT_ID, PATIENT_NAME}),
        ranges=ranges,
        deidentification_method=data["deidentification_method"],
    )



def _module_tags(module: str) -> Tuple[int, ...]:
    return tuple(parse_tag(row["tag"]) for row in _table()["split_merge_modules"][module])


@lru_cache(maxsize=1)
def split_allowed_tags() -> FrozenSet[int]:
    """Tags a split may Replace or Remove: the Patient and General Study modules, minus StudyInstanceUID."""
    return frozenset(_module_tags("patient_module") + _module_tags("study_module")) - {STUDY_UID}


@lru_cache(maxsize=1)
def merge_copied_tags() -> Tuple[int, ...]:
    """Tags a merge copies from the target study (or removes): both modules, StudyInstanceUID included."""
    return tuple(dict.fromkeys(_module_tags("patient_module") + _module_tags("study_module")))
