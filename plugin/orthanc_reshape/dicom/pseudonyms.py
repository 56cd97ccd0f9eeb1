"""Keyed pseudonyms: the same original value, project and key always give the same pseudonym.

Every pseudonym is cut from HMAC-SHA256(key, project NUL kind NUL original), so
- the same input gives the same output in every request, after a restart and on every node that has the key;
- two projects never share a pseudonym (the project name is part of the message, and each project has its own key);
- without the key, a pseudonym reveals nothing about the original (no dictionary attack on PatientIDs).

No Orthanc import: pure functions, unit-tested in tests/unit/test_pseudonyms.py.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from .uids import Level

# Kinds of value: each has its own derivation, so a PatientID and a UID equal as strings never collide.
PATIENT_ID_KIND = "PatientID"
PATIENT_NAME_KIND = "PatientName"
ACCESSION_NUMBER_KIND = "AccessionNumber"
UID_KIND = "UID"
DATE_OFFSET_KIND = "DateOffset"

PATIENT_ID_LENGTH = 20       # LO (<= 64): 20 base32 characters = 100 bits
PATIENT_NAME_LENGTH = 16     # PN family-name component (<= 64): "PSEUDO" + 16 base32 characters
ACCESSION_NUMBER_LENGTH = 16  # SH (<= 16): 16 base32 characters = 80 bits
MAX_UID_LENGTH = 64


@dataclass(frozen=True)
class Pseudonymizer:
    """The keyed functions of one project."""

    project: str
    key: bytes = field(repr=False)  # never in a log line or a traceback
    uid_root: str = "2.25"

    def digest(self, kind: str, original: str) -> bytes:
        """HMAC-SHA256 of (project, kind, original) under the project's key."""
        mac = self._keyed().copy()
        mac.update("\x00".join((self.project, kind, original)).encode("utf-8"))
        return mac.digest()

    def _keyed(self) -> "hmac.HMAC":
        """The HMAC state after the key (computed once; copying it is cheaper than re-keying)."""
        state = self.__dict__.get("_state")
        if state is None:
            state = hmac.new(self.key, None, hashlib.sha256)
            object.__setattr__(self, "_state", state)
        return state

    def _base32(self, kind: str, original: str, length: int) -> str:
        return base64.b32encode(self.digest(kind, original)).decode("ascii")[:length]

    def patient_id(self, original: str) -> str:
        """A PatientID (LO): 20 characters of [A-Z2-7]."""
        return self._base32(PATIENT_ID_KIND, original, PATIENT_ID_LENGTH)

    def patient_name(self, original_patient_id: str) -> str:
        """A PatientName (PN, one component) derived from the original **PatientID**, so that every study
        of one patient carries the same pseudonymous name, whatever spelling of the name each study had."""
        return "PSEUDO" + self._base32(PATIENT_NAME_KIND, original_patient_id, PATIENT_NAME_LENGTH)

    def accession_number(self, original: str) -> str:
        """An AccessionNumber (SH, 16 characters)."""
        return self._base32(ACCESSION_NUMBER_KIND, original, ACCESSION_NUMBER_LENGTH)

    def uid(self, original: str) -> str:
        """A valid UID (<= 64 characters) under the root.

        Under "2.25" the 128 bits are made an RFC 9562 version-8 UUID (122 bits of the HMAC), so the UID
        has the UUID-derived form of PS3.5 B.2; under another root the decimal integer of 128 bits of
        the HMAC is appended, truncated to 64 characters.
        """
        value = int.from_bytes(self.digest(UID_KIND, original)[:16], "big")
        if self.uid_root == "2.25":
            value = (value & ~(0xF << 76)) | (0x8 << 76)    # version 8
            value = (value & ~(0x3 << 62)) | (0x2 << 62)    # variant RFC 4122/9562
        return f"{self.uid_root}.{value}"[:MAX_UID_LENGTH].rstrip(".")

    def identifier(self, level: Level, original: str) -> str:
        """The UidMap generator: a PatientID at Patient level, a UID at the other levels.

        The UID does not depend on the level: a UID names one thing, so the study map, the series map and
        the instance map agree (an RT-STRUCT's study reference and the study's own UID map alike)."""
        if level == Level.PATIENT:
            return self.patient_id(original)
        return self.uid(original)

    def date_offset(self, original_patient_id: str, max_days: int) -> int:
        """Days to add to every date of this patient: in [-max_days, -1] U [1, max_days], never 0."""
        value = int.from_bytes(self.digest(DATE_OFFSET_KIND, original_patient_id)[:8], "big")
        magnitude = 1 + value % max_days
        return -magnitude if (value >> 63) & 1 else magnitude
