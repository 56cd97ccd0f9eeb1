"""What the anonymization of Orthanc Reshape adds to Orthanc's: keyed pseudonyms, per-patient date
shifting, Retain UIDs. `Deidentification.apply` wraps edit.apply_plan for one instance and returns the
record of what it mapped (the pseudonym -> original mapping that operations store in Orthanc's database).

No Orthanc import.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .dates import shift_dates
from .edit import apply_plan
from .plan import EditPlan
from .pseudonyms import Pseudonymizer
from .raw_sequences import RawSequence
from .tags import PATIENT_ID, PATIENT_NAME, SERIES_UID, SOP_UID, STUDY_UID
from .uids import Level, UidMap, random_identifier, strip_value
from .values import element_vr, get_element, optional_str, replace_element

ACCESSION_NUMBER = 0x00080050
DEFAULT_MAX_DAYS = 365


class RecordingUidMap:
    """A view of a request's UidMap that records the pairs one instance used."""

    def __init__(self, inner: UidMap) -> None:
        self.inner = inner
        self.pairs: Dict[Tuple[Level, str], str] = {}

    def map(self, level: Level, original: str) -> str:
        value = self.inner.map(level, original)
        self.pairs[(level, strip_value(original))] = value
        return value

    def register(self, level: Level, original: str, replacement: str) -> None:
        self.inner.register(level, original, replacement)
        self.pairs[(level, strip_value(original))] = replacement


@dataclass(frozen=True)
class Deidentification:
    """The additions of one anonymize request (all off: exactly Orthanc's anonymization)."""

    keyed: Optional[Pseudonymizer] = None  # the project's keyed functions (Pseudonymize or ShiftDates)
    pseudonymize: bool = False
    shift_max_days: Optional[int] = None   # None: no date shifting
    retain_uids: bool = False

    @property
    def active(self) -> bool:
        return self.pseudonymize or self.shift_max_days is not None or self.retain_uids

    def uid_map(self, uid_root: str) -> UidMap:
        """The UID map of the request: keyed (deterministic), identity for Retain UIDs, else random."""
        random_patient = (lambda level, original: random_identifier(level, original, uid_root))
        patient = self.keyed.identifier if self.pseudonymize else random_patient

        def generate(level: Level, original: str) -> str:
            if level == Level.PATIENT:
                return patient(level, original)
            if self.retain_uids:
                return original
            return patient(level, original) if self.pseudonymize else random_patient(level, original)
        return UidMap(generate)

    def patient_name_placeholder(self):
        """The plan's PatientName value when pseudonymizing (set per patient after apply_plan): no counter."""
        return lambda: "PSEUDONYM"

    def apply(self, ds: Dataset, plan: EditPlan, uid_map: UidMap) -> Dict[str, Any]:
        """apply_plan plus the additions; returns the record of this instance's mapping."""
        if not self.pseudonymize and self.shift_max_days is None:
            apply_plan(ds, plan, uid_map)  # nothing to record: no original value is read
            return {}
        original_pid = strip_value(optional_str(ds, PATIENT_ID) or "")
        original_name = strip_value(optional_str(ds, PATIENT_NAME) or "")
        original_accession = strip_value(optional_str(ds, ACCESSION_NUMBER) or "")
        recorder = RecordingUidMap(uid_map)
        apply_plan(ds, plan, recorder)  # type: ignore[arg-type]  (duck-typed UidMap)
        record: Dict[str, Any] = {}
        if self.pseudonymize:
            record["Project"] = self.keyed.project
            record["PatientID"] = [original_pid, optional_str(ds, PATIENT_ID) or ""]
            if PATIENT_NAME in plan.replace and not plan.replaced_by_request(PATIENT_NAME):  # Anonymized<N>
                pseudonym = self.keyed.patient_name(original_pid)
                replace_element(ds, PATIENT_NAME, pseudonym, "PatientName", plan.private_creator)
                record["PatientName"] = [original_name, pseudonym]
                _nested_names(ds, (), plan, original_name, pseudonym)
            if original_accession and ACCESSION_NUMBER in plan.clear:
                pseudonym = self.keyed.accession_number(original_accession)
                replace_element(ds, ACCESSION_NUMBER, pseudonym, "AccessionNumber", plan.private_creator)
                record["AccessionNumber"] = [original_accession, pseudonym]
            for name, tag in (("StudyInstanceUID", STUDY_UID), ("SeriesInstanceUID", SERIES_UID),
                              ("SOPInstanceUID", SOP_UID)):
                record[name] = [_original_of(recorder, tag, ds), optional_str(ds, tag) or ""]
            record["UIDs"] = sorted({(original, new) for (level, original), new in recorder.pairs.items()
                                     if level != Level.PATIENT and original})
            record["UIDs"] = [list(pair) for pair in record["UIDs"]]
        if self.shift_max_days is not None:
            days = self.keyed.date_offset(original_pid, self.shift_max_days)
            shift_dates(ds, days, skip=lambda parents, tag: _protected(plan, parents, tag))
            record["DateOffsetDays"] = days
        return record


def _nested_names(ds: Dataset, parents, plan: EditPlan, original: str, pseudonym: str) -> None:
    """Nested PatientNames (which Orthanc's visitor leaves as they are): the patient's own name becomes its
    pseudonym, any other name is emptied. Kept paths stay untouched. A top-level sequence still as read that holds
    no PatientName is left as read (not parsed)."""
    for tag in list(ds.keys()):
        if plan.keep_paths and plan.is_kept_path(parents, tag):
            continue
        if parents and tag == PATIENT_NAME:
            value = strip_value(optional_str(ds, tag) or "")
            if value:
                replace_element(ds, tag, pseudonym if value == original else "", "PatientName", plan.private_creator)
        elif element_vr(ds, tag) == "SQ":
            if not parents and _holds_no_name(get_element(ds, tag)):
                continue
            for index, item in enumerate(ds[tag].value or []):
                _nested_names(item, parents + ((tag, index),), plan, original, pseudonym)


def _holds_no_name(element) -> bool:
    """Whether a raw sequence holds no PatientName at any depth, its walk vouching for its bytes."""
    tree = RawSequence.parse(element) if isinstance(element, RawDataElement) else None
    return tree is not None and all(node.tag != PATIENT_NAME for node in tree.nodes())


def _original_of(recorder: RecordingUidMap, tag: int, ds: Dataset) -> str:
    new = strip_value(optional_str(ds, tag) or "")
    level = {STUDY_UID: Level.STUDY, SERIES_UID: Level.SERIES, SOP_UID: Level.INSTANCE}[tag]
    for (pair_level, original), value in recorder.pairs.items():
        if pair_level == level and value == new:
            return original
    return ""


def _protected(plan: EditPlan, parents, tag: int) -> bool:
    """Elements the date shift leaves alone: kept paths, the request's own replacements."""
    if not parents and (tag in plan.keep or plan.replaced_by_request(tag)):
        return True
    if plan.keep_paths and plan.is_kept_path(parents, tag):
        return True
    return any(path.matches_prefix_of(parents, tag) for path, _, _ in plan.path_replaces)
