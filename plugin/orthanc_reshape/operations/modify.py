"""Instance-level modification and anonymization (the answer is the DICOM file, nothing is stored)."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from .. import store
from ..config import ReshapeConfig
from ..dicom.edit import apply_plan
from ..dicom.files import read_dataset, write_dataset
from ..dicom.uids import UidMap, random_identifier
from ..requests import EditRequest


@lru_cache(maxsize=1)
def orthanc_version() -> str:
    """The running Orthanc's version (asked once)."""
    return store.orthanc_version()


def anonymized_name() -> str:
    """Orthanc's "Anonymized<N>", N from the database-wide counter (incremented once per request)."""
    return f"Anonymized{store.next_anonymization_index()}"


def new_uid_map(config: ReshapeConfig) -> UidMap:
    """A UID map generating identifiers under the configured root."""
    return UidMap(lambda level, original: random_identifier(level, original, config.uid_root))


def edit_instance(instance_id: str, request: EditRequest, config: ReshapeConfig,
                  patient_name: Callable[[], str] = anonymized_name) -> bytes:
    """The modified or anonymized DICOM file of one stored instance (Transcode applied if asked)."""
    source = store.instance_dicom(instance_id)
    plan = request.plan(orthanc_version(), patient_name=patient_name)
    dataset = read_dataset(source)
    apply_plan(dataset, plan, new_uid_map(config))
    result = write_dataset(dataset)
    if request.transcode and not request.is_anonymization:
        # Orthanc ignores Transcode on /instances/{id}/anonymize; so do we (documented).
        result = store.transcode(result, request.transcode)
    return result
