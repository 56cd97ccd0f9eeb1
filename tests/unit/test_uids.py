"""New identifiers and the UID map of a request (spec §2.1)."""
from __future__ import annotations

import threading
import uuid

from pydicom.uid import UID

from orthanc_reshape.dicom.uids import Level, UidMap, new_uid, random_identifier, strip_value


def test_levels_are_ordered_like_orthancs():
    assert Level.PATIENT < Level.STUDY < Level.SERIES < Level.INSTANCE


def test_new_uids_are_valid_and_distinct():
    values = {new_uid() for _ in range(200)}
    assert len(values) == 200
    for value in values:
        assert value.startswith("2.25.") and len(value) <= 64 and UID(value).is_valid


def test_new_uids_take_a_root_and_stay_within_64_characters():
    value = new_uid("1.2.826.0.1.3680043.10.543")
    assert value.startswith("1.2.826.0.1.3680043.10.543.") and len(value) <= 64
    assert UID(value).is_valid


def test_a_patient_gets_a_lowercase_uuid_and_other_levels_a_uid():
    patient = random_identifier(Level.PATIENT, "PAT1")
    assert str(uuid.UUID(patient)) == patient and len(patient) == 36
    for level in (Level.STUDY, Level.SERIES, Level.INSTANCE):
        assert UID(random_identifier(level, "1.2.3", "1.2.3.4")).is_valid


def test_keys_ignore_surrounding_spaces_and_nul_padding():
    assert strip_value(" 1.2.3\x00") == "1.2.3"
    uid_map = UidMap()
    assert uid_map.map(Level.INSTANCE, "1.2.3") == uid_map.map(Level.INSTANCE, " 1.2.3 ") == \
        uid_map.map(Level.INSTANCE, "1.2.3\x00")


def test_the_same_original_always_gets_the_same_value():
    uid_map = UidMap()
    first = uid_map.map(Level.SERIES, "1.2.3")
    assert uid_map.map(Level.SERIES, "1.2.3") == first
    assert uid_map.map(Level.SERIES, "1.2.4") != first


def test_each_level_has_its_own_map():
    uid_map = UidMap()
    assert uid_map.map(Level.STUDY, "1.2.3") != uid_map.map(Level.INSTANCE, "1.2.3")


def test_two_maps_share_nothing():
    assert UidMap().map(Level.STUDY, "1.2.3") != UidMap().map(Level.STUDY, "1.2.3")


def test_register_forces_a_value():
    uid_map = UidMap()
    uid_map.register(Level.STUDY, "1.2.3 ", "5.6")
    assert uid_map.map(Level.STUDY, "1.2.3") == "5.6"
    assert uid_map.items() == {(Level.STUDY, "1.2.3"): "5.6"}


def test_the_generator_is_called_once_per_key_with_the_stripped_original():
    calls = []
    uid_map = UidMap(lambda level, original: calls.append((level, original)) or f"new-{len(calls)}")
    assert uid_map.map(Level.INSTANCE, " 1.2 ") == "new-1"
    assert uid_map.map(Level.INSTANCE, "1.2") == "new-1"
    assert calls == [(Level.INSTANCE, "1.2")]


def test_threads_sharing_a_map_agree():
    uid_map = UidMap()
    results = []

    def work():
        results.append(tuple(uid_map.map(Level.INSTANCE, f"1.2.{n}") for n in range(50)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(set(results[0])) == 50
