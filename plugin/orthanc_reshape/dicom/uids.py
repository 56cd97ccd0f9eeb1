"""New identifiers and the old->new map that keeps references consistent across one request."""
from __future__ import annotations

import threading
import uuid
from enum import IntEnum
from typing import Callable, Dict, Tuple


class Level(IntEnum):
    """Resource levels, ordered like Orthanc's (Patient < Study < Series < Instance)."""

    PATIENT = 0
    STUDY = 1
    SERIES = 2
    INSTANCE = 3


DEFAULT_UID_ROOT = "2.25"


def new_uid(root: str = DEFAULT_UID_ROOT) -> str:
    """A fresh random DICOM UID (<= 64 characters) under `root`; "2.25" gives the UUID-derived form."""
    digits = str(uuid.uuid4().int)
    return f"{root}.{digits}"[:64].rstrip(".")


def random_identifier(level: Level, original: str, uid_root: str = DEFAULT_UID_ROOT) -> str:
    """Orthanc's generators: a UUID for a PatientID, a new UID for the other levels."""
    if level == Level.PATIENT:
        return str(uuid.uuid4())
    return new_uid(uid_root)


def strip_value(value: str) -> str:
    """The key of a value in the map: surrounding spaces and NUL padding removed."""
    return value.strip(" \x00")


class UidMap:
    """Original value -> new value, per level; shared by every instance of one request (thread-safe)."""

    def __init__(self, generator: Callable[[Level, str], str] = random_identifier) -> None:
        self._generator = generator
        self._values: Dict[Tuple[Level, str], str] = {}
        self._lock = threading.Lock()

    def map(self, level: Level, original: str) -> str:
        key = (level, strip_value(original))
        with self._lock:
            value = self._values.get(key)
            if value is None:
                value = self._generator(level, key[1])
                self._values[key] = value
            return value

    def register(self, level: Level, original: str, replacement: str) -> None:
        """Force `original` to map to `replacement` (a UID the user set explicitly)."""
        with self._lock:
            self._values[(level, strip_value(original))] = replacement

    def items(self) -> Dict[Tuple[Level, str], str]:
        with self._lock:
            return dict(self._values)


# Namespace of the name-based UUIDs behind derived_uid (uuid5(NAMESPACE_URL, "urn:orthanc-reshape:derived-uid")).
DERIVED_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:orthanc-reshape:derived-uid")


def derived_uid(root: str, *parts: str) -> str:
    """A UID under `root` that depends only on `parts`: the same parts give the same UID, on any server.

    The digits are the integer of a name-based UUID (RFC 4122 version 5), so under "2.25" the UID has
    the form PS3.5 B.2 describes for UUID-derived UIDs.
    """
    digits = str(uuid.uuid5(DERIVED_UID_NAMESPACE, "\x1f".join(parts)).int)
    return f"{root}.{digits}"[:64].rstrip(".")
