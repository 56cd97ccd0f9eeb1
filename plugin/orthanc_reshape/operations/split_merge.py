"""Study split and merge (spec §7, §8): instances moved into a new study (split) or into an existing one
(merge), with new Series/SOP Instance UIDs, through the all-or-nothing pipeline.

Beyond Orthanc: the new UIDs are derived from the request (a retried request stores the same instances
again, which Orthanc answers AlreadyStored: no duplicates), nested references inside the moved set follow
the move (dicom/relocation.py), new instances/series/study carry ModifiedFrom metadata, labels follow where
the running Orthanc has labels, and a failure removes everything the request stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import AbstractSet, Any, Callable, Dict, Iterable, List, Sequence, Set, Tuple

from .. import store
from ..config import ReshapeConfig
from ..dicom.files import read_dataset, write_dataset
from ..dicom.profiles import merge_copied_tags
from ..dicom.relocation import (ModuleValue, MovedSet, Relocation, UidScheme, instance_uids, module_values, relocate,
                                split_study_uid)
from ..dicom.uids import strip_value
from ..errors import ReshapeError, unknown_resource
from ..requests import MergeRequest, SplitRequest
from . import dry_run, pipeline, provenance
from .pipeline import PipelineResult, SourceInstance, StoredInstance

PROVENANCE = "ModifiedFrom"
_LEVELS = ("Instance", "Series", "Study")  # a split or merge keeps the patient


@dataclass
class StudyIndex:
    """What Orthanc's index knows of one study: its UID, its series and instances with their UIDs."""

    id: str
    uid: str
    patient: str
    series_uids: Dict[str, str]             # series ID -> SeriesInstanceUID
    series_instances: Dict[str, List[str]]  # series ID -> instance IDs
    instances: Dict[str, Tuple[str, str]]   # instance ID -> (series ID, SOPInstanceUID)

    @classmethod
    def load(cls, study_id: str, study: Dict[str, Any]) -> "StudyIndex":
        series = store.get_json(f"/studies/{study_id}/series")
        instances = store.get_json(f"/studies/{study_id}/instances")
        return cls(study_id, study.get("MainDicomTags", {}).get("StudyInstanceUID", ""), study["ParentPatient"],
                   {s["ID"]: s.get("MainDicomTags", {}).get("SeriesInstanceUID", "") for s in series},
                   {s["ID"]: list(s.get("Instances", [])) for s in series},
                   {i["ID"]: (i["ParentSeries"], i.get("MainDicomTags", {}).get("SOPInstanceUID", ""))
                    for i in instances})

    def source(self, instance_id: str) -> SourceInstance:
        return SourceInstance(instance_id, self.instances[instance_id][0], self.id, self.patient)

    def member(self, instance_id: str) -> Tuple[str, str, str]:
        """(StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID) of one of its instances."""
        series_id, sop_uid = self.instances[instance_id]
        return strip_value(self.uid), strip_value(self.series_uids[series_id]), strip_value(sop_uid)

    def whole(self, moved: Iterable[str]) -> List[str]:
        """UIDs of this study and of its series all of whose instances are in `moved`."""
        moved = set(moved)
        result = [self.series_uids[s] for s, ids in self.series_instances.items() if ids and set(ids) <= moved]
        if self.instances and set(self.instances) <= moved:
            result.append(self.uid)
        return result


@dataclass(frozen=True)
class MovePlan:
    """What a split or merge does: the instances it moves (ID -> their UIDs, from the index), their new UIDs,
    the module tags it sets and removes."""

    scheme: UidScheme
    expected: Dict[str, Tuple[str, str, str]]
    indexes: Tuple[StudyIndex, ...]
    replace: Tuple[ModuleValue, ...]
    remove: Tuple[int, ...]

    def relocation(self, failed: AbstractSet[str] = frozenset()) -> Relocation:
        """The relocation of the instances, less the `failed` ones (which stay where they are): the moved set
        with the series and studies that move whole."""
        moved = {i: uids for i, uids in self.expected.items() if i not in failed}
        whole = [uid for index in self.indexes for uid in index.whole(moved)]
        return Relocation(self.scheme, MovedSet.of(self.scheme, moved.values(), whole), self.replace, self.remove)


# --- split -------------------------------------------------------------------------------------------------

@dataclass
class SplitSource:
    """The study being split; checks the Series/Instances of the request while it is parsed."""

    index: StudyIndex

    @classmethod
    def load(cls, study_id: str) -> "SplitSource":
        study = store.resource("Study", study_id)
        if study is None:
            raise unknown_resource(f"Cannot split unknown study: {study_id}")
        return cls(StudyIndex.load(study_id, study))

    def check_series(self, series_id: str, field_name: str) -> None:
        if series_id not in self.index.series_uids:
            raise unknown_resource(f"This series does not belong to the study to be split: {series_id}", field_name)

    def check_instance(self, instance_id: str, field_name: str) -> None:
        if instance_id not in self.index.instances:
            raise unknown_resource(f"This instance does not belong to the study to be split: {instance_id}",
                                   field_name)


def prepare_split(source: SplitSource, request: SplitRequest, config: ReshapeConfig) -> Callable[[], Dict[str, Any]]:
    """Everything decided before any instance is read (the new StudyInstanceUID included); returns the work,
    which can be run again (a resubmission) with the same result."""
    index = source.index
    ids = [i for s in request.series for i in index.series_instances[s]] + list(request.instances)
    sources = [index.source(i) for i in dict.fromkeys(ids)]
    study_uid = split_study_uid(config.uid_root, index.uid, (s.id for s in sources),
                                ((tag, value) for tag, value, _ in request.replace),
                                (tag for tag, _ in request.remove))
    plan = MovePlan(UidScheme(config.uid_root, study_uid), {s.id: index.member(s.id) for s in sources}, (index,),
                    tuple(request.replace), tuple(tag for tag, _ in request.remove))
    if request.dry_run:
        return lambda: dict(_dry_run(sources, plan.relocation(), config), TargetStudyUID=study_uid)

    def work() -> Dict[str, Any]:
        result = _move(sources, plan, request.job.permissive, request.keep_source, new_study=True)
        answer = _answer(sources, result)
        answer["TargetStudyUID"] = study_uid
        if result.stored:
            answer["TargetStudy"] = result.stored[0].study
        return answer
    return work


# --- merge -------------------------------------------------------------------------------------------------

_MERGEABLE = ("Study", "Series", "Instance")


@dataclass
class MergeTarget:
    """The study merged into; checks the Resources of the request while it is parsed."""

    index: StudyIndex
    resolved: Dict[str, Tuple[str, Dict[str, Any]]] = field(default_factory=dict)  # ID -> (level, JSON)

    @classmethod
    def load(cls, study_id: str) -> "MergeTarget":
        study = store.resource("Study", study_id)
        if study is None:
            raise unknown_resource(f"Cannot merge into an unknown study: {study_id}")
        index = StudyIndex.load(study_id, study)
        if not index.instances:
            raise unknown_resource(f"Cannot merge into an empty study: {study_id}")
        return cls(index)

    def check_resource(self, resource_id: str, field_name: str) -> None:
        for level in _MERGEABLE + ("Patient",):
            found = store.resource(level, resource_id)
            if found is not None:
                break
        else:
            raise unknown_resource(f"Unknown resource: {resource_id}", field_name)
        if level == "Patient":
            raise unknown_resource(f"This resource is neither a study, nor a series, nor an instance: "
                                   f"{resource_id}", field_name)
        inside = {"Study": lambda: resource_id == self.index.id,
                  "Series": lambda: resource_id in self.index.series_uids,
                  "Instance": lambda: resource_id in self.index.instances}[level]()
        if inside:
            raise unknown_resource(f"Cannot merge a {level.lower()} of the target study into itself: "
                                   f"{resource_id}", field_name)
        self.resolved[resource_id] = (level, found)


def prepare_merge(target: MergeTarget, request: MergeRequest, config: ReshapeConfig) -> Callable[[], Dict[str, Any]]:
    """The sources, and the module values read from one instance of the target (as Orthanc does when the
    job is created); returns the work, which can be run again with the same result."""
    indexes: Dict[str, StudyIndex] = {}
    sources: Dict[str, SourceInstance] = {}
    for resource_id in request.resources:
        level, resource = target.resolved[resource_id]
        if level == "Study":
            study_id = resource_id
        elif level == "Series":
            study_id = resource["ParentStudy"]
        else:
            study_id = store.get_json(f"/series/{resource['ParentSeries']}")["ParentStudy"]
        if study_id not in indexes:
            indexes[study_id] = StudyIndex.load(study_id, store.get_json(f"/studies/{study_id}"))
        index = indexes[study_id]
        ids = {"Study": list(index.instances), "Series": index.series_instances.get(resource_id, []),
               "Instance": [resource_id]}[level]
        for instance_id in ids:
            sources.setdefault(instance_id, index.source(instance_id))
    ordered = list(sources.values())
    first = read_dataset(store.instance_dicom(next(iter(target.index.instances))))
    replace, remove = module_values(first, merge_copied_tags())
    plan = MovePlan(UidScheme(config.uid_root, target.index.uid), {s.id: indexes[s.study].member(s.id) for s in ordered},
                    tuple(indexes.values()), replace, remove)
    if request.dry_run:
        return lambda: dict(_dry_run(ordered, plan.relocation(), config), TargetStudy=target.index.id)

    def work() -> Dict[str, Any]:
        result = _move(ordered, plan, request.job.permissive, request.keep_source, new_study=False)
        answer = _answer(ordered, result)
        answer["TargetStudy"] = target.index.id
        return answer
    return work


# --- both ----------------------------------------------------------------------------------------------------

def _dry_run(sources: Sequence[SourceInstance], relocation: Relocation, config: ReshapeConfig) -> Dict[str, Any]:
    """DryRun: what the move would change in each instance (operations/dry_run.py); nothing stored or deleted."""
    moved = relocation.moved
    pairs = list(moved.instances.items()) + list(moved.series.items()) + list(moved.studies.items())

    def edit(dataset) -> list:
        relocate(dataset, relocation)
        return pairs
    return dry_run.run_edit([s.id for s in sources], edit, False, config.dry_run_values)


def _move(sources: Sequence[SourceInstance], plan: MovePlan, permissive: bool, keep_source: bool,
          new_study: bool) -> PipelineResult:
    """Relocate and store every source; provenance and labels; then (KeepSource false) delete the sources."""
    labels = provenance.source_labels(sources, _LEVELS) if store.has_labels() else {}
    mentioned: Dict[str, Set[str]] = {}  # source ID -> the old UIDs of the moved set its references mention

    def transform_with(relocation: Relocation) -> Callable[[bytes, SourceInstance], bytes]:
        def transform(data: bytes, source: SourceInstance) -> bytes:
            dataset = read_dataset(data)
            found, expected = instance_uids(dataset), plan.expected[source.id]
            if found != expected:  # never move a file that is not the instance the index describes
                raise ReshapeError("InternalError", f"The stored file of instance {source.id} does not match "
                                   f"Orthanc's index (Study/Series/SOP Instance UIDs {list(found)} instead of "
                                   f"{list(expected)}): is the storage corrupted?")
            mentioned[source.id] = set()
            relocate(dataset, relocation, mentioned[source.id])
            return write_dataset(dataset)
        return transform

    relocation = plan.relocation()
    result = pipeline.run(sources, transform_with(relocation), permissive)
    with pipeline.finishing(result.stored):  # instances stored again keep their IDs: a rollback removes them too
        if result.failures:
            result = _without_failed(sources, result, plan, relocation, mentioned, transform_with)
        _post_process(result.stored, labels, new_study)
    if not keep_source:
        pipeline.delete_sources(result.stored)
    return result


def _without_failed(sources: Sequence[SourceInstance], result: PipelineResult, plan: MovePlan,
                    relocation: Relocation, mentioned: Dict[str, Set[str]],
                    transform_with: Callable[[Relocation], Callable[[bytes, SourceInstance], bytes]]) -> PipelineResult:
    """Permissive: an instance that failed stays where it was, so the references of the moved instances to it
    (or to its series or study, which no longer move whole) must keep their old UIDs. The stored instances
    whose references mention such a UID are stored again, relocated without the failed instances (their first
    version removed first: same SOP Instance UID); until no more instance fails."""
    order = {source.id: position for position, source in enumerate(sources)}
    while result.failures:
        narrower = plan.relocation({failure["ID"] for failure in result.failures})
        lost = relocation.moved.narrowed_uids(narrower.moved)
        redo = [s for s in result.stored if mentioned.get(s.source.id, set()) & lost]
        for instance in redo:
            if not instance.newly_stored:  # it existed before this request: never delete it
                store.log_error(f"Orthanc Reshape: instance {instance.id} references an instance that failed "
                                "to move, but existed before this request: it is left as it was")
        redo = [s for s in redo if s.newly_stored]
        if not redo:
            break
        for instance in redo:
            store.delete("Instance", instance.id)
        again = pipeline.run([s.source for s in redo], transform_with(narrower), True)  # a job's progress never goes back
        redone = {s.source.id for s in redo}
        stored = [s for s in result.stored if s.source.id not in redone] + again.stored
        result = PipelineResult(sorted(stored, key=lambda s: order[s.source.id]), result.failures + again.failures)
        relocation = narrower
    return result


def _post_process(stored: Sequence[StoredInstance], labels: Dict[Tuple[str, str], list], new_study: bool) -> None:
    """ModifiedFrom on each new instance and series (and on the new study of a split); labels of the
    sources added to the new instance, series and study."""
    provenance.record(stored, PROVENANCE, labels, _LEVELS, lambda level, new_id, old_id: level != "Study" or new_study)


def _answer(sources: Sequence[SourceInstance], result: PipelineResult) -> Dict[str, Any]:
    answer: Dict[str, Any] = {
        "Description": "REST API",
        "InstancesCount": len(sources),
        "FailedInstancesCount": len(result.failures),
    }
    if result.failures:
        answer["FailedInstances"] = result.failures
    return answer
