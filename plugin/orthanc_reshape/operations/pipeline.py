"""fetch -> edit -> store over many instances, with all-or-nothing commit.

Without Permissive, the first failure removes every instance this request stored (never one that
already existed, nor one that has its source's ID) and the sources stay untouched. With Permissive,
failures are reported and their sources are kept. Sources are deleted only by `delete_sources`,
after every replacement is stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence

from .. import store
from ..errors import ReshapeError


@dataclass(frozen=True)
class SourceInstance:
    """A stored instance to process, with its parents' Orthanc IDs."""

    id: str
    series: str
    study: str
    patient: str


def collect_sources(level: str, resource_id: str, resource: Dict) -> List[SourceInstance]:
    """Every instance below a resource of any level (Orthanc's JSON of it given), in Orthanc's order."""
    if level == "Instance":
        series = store.get_json(f"/series/{resource['ParentSeries']}")
        study = store.get_json(f"/studies/{series['ParentStudy']}")
        return [SourceInstance(resource_id, series["ID"], study["ID"], study["ParentPatient"])]
    if level == "Series":
        study = store.get_json(f"/studies/{resource['ParentStudy']}")
        return [SourceInstance(i, resource_id, study["ID"], study["ParentPatient"]) for i in resource["Instances"]]
    if level == "Study":
        return [SourceInstance(i, series["ID"], resource_id, resource["ParentPatient"])
                for series in store.get_json(f"/studies/{resource_id}/series") for i in series["Instances"]]
    return [source for study in resource["Studies"]
            for source in collect_sources("Study", study, store.get_json(f"/studies/{study}"))]


@dataclass(frozen=True)
class StoredInstance:
    """A replacement stored by this request."""

    source: SourceInstance
    id: str
    series: str
    study: str
    patient: str
    newly_stored: bool  # False when Orthanc answered AlreadyStored

    @property
    def in_place(self) -> bool:
        return self.id == self.source.id


@dataclass
class PipelineResult:
    stored: List[StoredInstance] = field(default_factory=list)
    failures: List[Dict[str, str]] = field(default_factory=list)  # {"ID": source id, "Error": reason}


class PipelineFailure(ReshapeError):
    """A non-permissive run failed on one instance; everything it stored was removed."""


def run(sources: Sequence[SourceInstance], transform: Callable[[bytes, SourceInstance], bytes],
        permissive: bool) -> PipelineResult:
    """Transform and store every source instance, in order."""
    result = PipelineResult()
    for source in sources:
        try:
            answer = store.store_instance(transform(store.instance_dicom(source.id), source))
        except Exception as exc:  # one instance failed: roll back or record
            error = exc if isinstance(exc, ReshapeError) else ReshapeError("InternalError", f"{type(exc).__name__}: {exc}")
            if not permissive:
                rollback(result.stored)
                raise PipelineFailure(error.kind, f"Instance {source.id} failed: {error.details}; nothing was "
                                      f"changed (the {len(result.stored)} instance(s) stored before were removed)",
                                      error.field) from None
            store.log_error(f"Orthanc Reshape: instance {source.id} failed (permissive): {error.details}")
            result.failures.append({"ID": source.id, "Error": error.details})
            continue
        result.stored.append(StoredInstance(source, answer["ID"], answer["ParentSeries"], answer["ParentStudy"],
                                            answer["ParentPatient"], answer.get("Status") != "AlreadyStored"))
    return result


def rollback(stored: Sequence[StoredInstance]) -> None:
    """Remove what this request stored: never an instance that existed before, never a source."""
    for instance in stored:
        if instance.newly_stored and not instance.in_place:
            store.delete("Instance", instance.id)


def delete_sources(stored: Sequence[StoredInstance]) -> None:
    """KeepSource: false, after every replacement is stored: delete each source that has a distinct replacement."""
    for instance in stored:
        if not instance.in_place:
            store.delete("Instance", instance.source.id)
