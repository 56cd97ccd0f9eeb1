"""A modification or anonymization, built once per request as a plan (sets of tags to remove, clear,
replace, keep and remap), then applied to every instance by edit.apply_plan.

The building follows Orthanc's DicomModification: the anonymization profile first, then the request's
Remove, Replace and Keep in that order, each taking its top-level tag out of the earlier sets, so for one
tag Keep beats Replace and Replace beats Remove.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import bad_request
from .paths import Parents, TagPath
from .profiles import Profile, TagRange, in_ranges
from .tags import MAIN_IDENTIFIERS, PATIENT_ID, PATIENT_NAME, SERIES_UID, SOP_CLASS_UID, SOP_UID, STUDY_UID, keyword
from .uids import Level

PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD = 0x00120063

Replacement = Tuple[TagPath, Any, str]  # path, JSON value, request field for error messages
# The "field" of the values the profile itself sets (PatientIdentityRemoved, DeidentificationMethod,
# Anonymized<N>): what the request chose for them is its DicomVersion.
SET_BY_PROFILE = "DicomVersion"


@dataclass
class EditPlan:
    """Everything apply_plan needs; built by modification_plan or anonymization_plan."""

    is_anonymization: bool
    level: Level
    remove: set = field(default_factory=set)
    clear: set = field(default_factory=set)
    uids: set = field(default_factory=set)
    replace: Dict[int, Tuple[Any, str]] = field(default_factory=dict)  # tag -> (JSON value, field)
    keep: set = field(default_factory=set)
    ranges: Tuple[TagRange, ...] = ()
    remove_private: bool = False
    private_creator: str = ""
    path_removes: List[TagPath] = field(default_factory=list)
    path_replaces: List[Replacement] = field(default_factory=list)
    keep_paths: List[TagPath] = field(default_factory=list)
    # (dataset, private tag) -> True to keep that private element although private tags are removed
    # (Annex E Retain Safe Private Option: annex_e.retains_safe_private)
    retain_private: Optional[Callable[[Any, int], bool]] = None

    def removes_private(self, ds: Any, tag: int) -> bool:
        """Whether private element `tag` of `ds` (an item or the root) goes with the private tags."""
        return self.remove_private and not (self.retain_private is not None and self.retain_private(ds, tag))

    def replaced_by_request(self, tag: int) -> bool:
        """True when the request's own Replace sets this tag (not the profile)."""
        return tag in self.replace and self.replace[tag][1] != SET_BY_PROFILE

    def in_removed_range(self, tag: int) -> bool:
        return in_ranges(self.ranges, tag)

    def is_kept_path(self, parents: Parents, tag: int) -> bool:
        return any(path.matches_prefix_of(parents, tag) for path in self.keep_paths)

    # The three operations of the request, in Orthanc's semantics.
    def do_remove(self, tag: int) -> None:
        self.remove.add(tag)
        self.clear.discard(tag)
        self.uids.discard(tag)
        self.replace.pop(tag, None)

    def do_replace(self, tag: int, value: Any, field_name: str) -> None:
        self.clear.discard(tag)
        self.remove.discard(tag)
        self.uids.discard(tag)
        self.replace[tag] = (value, field_name)

    def do_keep(self, tag: int) -> None:
        self.keep.add(tag)
        self.remove.discard(tag)
        self.clear.discard(tag)
        self.uids.discard(tag)
        self.replace.pop(tag, None)


def _check_force(path: TagPath, force: bool, what: str, field_name: str) -> None:
    if path.is_top_level and path.tag in MAIN_IDENTIFIERS and not force:
        raise bad_request(
            f"Marking tag {keyword(path.tag)} as {what} requires the \"Force\" option to be set to true",
            field_name)


def _apply_request(plan: EditPlan, replace: Sequence[Replacement], remove: Sequence[Tuple[TagPath, str]],
                   keep: Sequence[Tuple[TagPath, str]], force: bool) -> None:
    """Remove, then Replace, then Keep (Orthanc's parse order), with the Force rule."""
    for path, field_name in remove:
        _check_force(path, force, "removed", field_name)
        if path.is_top_level:
            if path.tag in MAIN_IDENTIFIERS:
                raise bad_request("It is forbidden to remove one of the main Dicom identifiers", field_name)
            plan.do_remove(path.tag)
        else:
            plan.path_removes.append(path)
    for path, value, field_name in replace:
        _check_force(path, force, "replaced", field_name)
        if path.is_top_level:
            if path.tag in (SOP_UID, SOP_CLASS_UID) and not isinstance(value, str):
                raise bad_request(f"{keyword(path.tag)} must be a string", field_name)
            if path.tag & 0xFFFF:  # group lengths (gggg,0000) are silently skipped
                plan.do_replace(path.tag, value, field_name)
        else:
            plan.path_replaces.append((path, value, field_name))
    for path, field_name in keep:
        _check_force(path, force, "kept", field_name)
        if path.is_top_level:
            plan.do_keep(path.tag)
        plan.keep_paths.append(path)


def detect_level(replace: Sequence[Replacement]) -> Level:
    """Level of a modification with no level of its own: the highest main identifier replaced."""
    replaced = {path.tag for path, _, _ in replace if path.is_top_level}
    for tag, level in ((PATIENT_ID, Level.PATIENT), (STUDY_UID, Level.STUDY), (SERIES_UID, Level.SERIES)):
        if tag in replaced:
            return level
    return Level.INSTANCE


def modification_plan(replace: Sequence[Replacement], remove: Sequence[Tuple[TagPath, str]],
                      keep: Sequence[Tuple[TagPath, str]], *, force: bool = False,
                      remove_private: bool = False, private_creator: str = "",
                      level: Optional[Level] = None) -> EditPlan:
    """The plan of a modify request; `level` None means detected from the replaced identifiers."""
    plan = EditPlan(is_anonymization=False, level=detect_level(replace) if level is None else level,
                    remove_private=remove_private, private_creator=private_creator)
    _apply_request(plan, replace, remove, keep, force)
    return plan


def anonymization_plan(profile: Profile, replace: Sequence[Replacement], remove: Sequence[Tuple[TagPath, str]],
                       keep: Sequence[Tuple[TagPath, str]], *, force: bool = False, keep_private: bool = False,
                       private_creator: str = "", orthanc_version: str = "",
                       patient_name: Callable[[], str] = lambda: "Anonymized") -> EditPlan:
    """The plan of an anonymize request on a profile; `patient_name` is called only when the request
    leaves PatientName to the profile (it gives Orthanc's "Anonymized<N>")."""
    plan = EditPlan(is_anonymization=True, level=Level.PATIENT, remove=set(profile.remove),
                    clear=set(profile.clear), uids=set(profile.uids), ranges=profile.ranges,
                    remove_private=not keep_private, private_creator=private_creator)
    method = profile.deidentification_method.format(version=orthanc_version)
    plan.replace[PATIENT_IDENTITY_REMOVED] = ("YES", SET_BY_PROFILE)
    plan.replace[DEIDENTIFICATION_METHOD] = (method, SET_BY_PROFILE)
    _apply_request(plan, replace, remove, keep, force)
    touched = {p.tag for p, _, _ in replace if p.is_top_level} | {p.tag for p, _ in remove if p.is_top_level} \
        | {p.tag for p, _ in keep if p.is_top_level}
    if (replace or remove or keep or keep_private) and DEIDENTIFICATION_METHOD not in touched:
        # A customised profile no longer claims the Basic Profile; Orthanc >= 1.12.7 says so when
        # Replace is used. A request naming DeidentificationMethod itself has already decided.
        if replace:
            plan.replace[DEIDENTIFICATION_METHOD] = (f"Orthanc {orthanc_version}", SET_BY_PROFILE)
        else:
            plan.replace.pop(DEIDENTIFICATION_METHOD, None)
    if PATIENT_NAME not in touched:
        plan.do_replace(PATIENT_NAME, patient_name(), SET_BY_PROFILE)
    return plan

