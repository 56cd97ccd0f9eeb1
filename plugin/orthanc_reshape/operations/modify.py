"""Modification and anonymization: of one instance (the file is answered, nothing stored), and of
stored resources (every instance below them edited and stored, all-or-nothing)."""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Sequence

from .. import store
from ..config import ReshapeConfig
from ..dicom.files import read_dataset, write_dataset
from ..dicom.plan import EditPlan, detect_level
from ..dicom.tags import PATIENT_ID, SERIES_UID, SOP_UID, STUDY_UID
from ..dicom.uids import Level, UidMap, random_identifier
from ..errors import ReshapeError, bad_request, bad_type
from ..requests import EditRequest, ResourceEditRequest
from . import dry_run, pipeline, provenance, pseudonym_mapping
from .pipeline import PipelineResult, SourceInstance, StoredInstance, collect_sources


def anonymized_name() -> str:
    """Orthanc's "Anonymized<N>", N from the database-wide counter (incremented once per request)."""
    return f"Anonymized{store.next_anonymization_index()}"


def new_uid_map(config: ReshapeConfig, edit: Optional[EditRequest] = None) -> UidMap:
    """A UID map generating identifiers under the configured root (keyed ones when the request pseudonymizes)."""
    if edit is not None and edit.deidentification.active:
        return edit.deidentification.uid_map(config.uid_root)
    return UidMap(lambda level, original: random_identifier(level, original, config.uid_root))


def dry_run_instance(instance_id: str, request: EditRequest, config: ReshapeConfig) -> Dict[str, Any]:
    """DryRun on /instances/{id}/modify|anonymize: the changes, as JSON, instead of the file."""
    plan = request.plan(store.orthanc_version(), patient_name=dry_run.next_anonymized_name)
    return dry_run.run([instance_id], plan, new_uid_map(config, request), request.deidentification,
                       config.dry_run_values)


def edit_instance(instance_id: str, request: EditRequest, config: ReshapeConfig,
                  patient_name: Callable[[], str] = anonymized_name) -> bytes:
    """The modified or anonymized DICOM file of one stored instance (Transcode applied if asked)."""
    source = store.instance_dicom(instance_id)
    plan = request.plan(store.orthanc_version(), patient_name=patient_name)
    dataset = read_dataset(source)
    request.deidentification.apply(dataset, plan, new_uid_map(config, request))
    result = write_dataset(dataset)
    if request.transcode and not request.is_anonymization:
        # Orthanc ignores Transcode on /instances/{id}/anonymize; so do we (documented).
        result = store.transcode(result, request.transcode)
    return result


# --- stored resources: /{patients,studies,series}/{id}/modify|anonymize and /tools/bulk-* -----------

PATIENT_MAIN_TAGS = {"PatientName": 0x00100010, "PatientID": 0x00100020, "PatientBirthDate": 0x00100030,
                     "PatientSex": 0x00100040, "OtherPatientIDs": 0x00101000}
_KEPT_IN_PLACE = {STUDY_UID, SERIES_UID, SOP_UID}


def prepare_edit(route_level: Optional[str], resource_ids: Sequence[str], request: ResourceEditRequest,
                 config: ReshapeConfig) -> Callable[[], Dict[str, Any]]:
    """Every check that needs no DICOM contents (raised at once, even for an asynchronous request);
    returns the work itself, which answers the job's content (run it again to resubmit: same UID map)."""
    preferred = route_level or "Instance"
    resources = [(rid,) + store.find_resource(rid, preferred) for rid in resource_ids]
    edit = request.edit
    if edit.keep_labels and not store.has_labels():
        raise bad_request(f"KeepLabels needs labels, which Orthanc {store.orthanc_version()} does not have "
                          "(Orthanc >= 1.12.0)", "KeepLabels")
    if edit.is_anonymization:
        level = Level.PATIENT
    elif route_level is not None:
        level = Level[route_level.upper()]
    else:
        level = request.level if request.level is not None else detect_level(edit.replace)
    # Checked on a plan with a placeholder name first: a refused request takes no Anonymized<N> number.
    _sanity_checks(edit.plan(store.orthanc_version(), level=level), request, resources)
    plan = edit.plan(store.orthanc_version(), level=level,
                     patient_name=dry_run.next_anonymized_name if edit.dry_run else anonymized_name)
    sources = list({s.id: s for rid, lvl, res in resources for s in collect_sources(lvl, rid, res)}.values())
    uid_map = new_uid_map(config, edit)
    _register_forced_uids(plan, sources, uid_map)
    if edit.dry_run:
        return lambda: dry_run.run([s.id for s in sources], plan, uid_map, edit.deidentification,
                                   config.dry_run_values)
    return lambda: _edit_sources(route_level, resource_ids, request, plan, sources, uid_map)


def _edit_sources(route_level: Optional[str], resource_ids: Sequence[str], request: ResourceEditRequest,
                  plan: EditPlan, sources: Sequence[SourceInstance], uid_map: UidMap) -> Dict[str, Any]:
    edit = request.edit
    labels = provenance.source_labels(sources) if edit.keep_labels else {}

    pseudonyms: Dict[str, Dict[str, Any]] = {}  # source id -> mapping record (Pseudonymize)

    def transform(data: bytes, source: SourceInstance) -> bytes:
        dataset = read_dataset(data)
        pseudonyms[source.id] = edit.deidentification.apply(dataset, plan, uid_map)
        result = write_dataset(dataset)
        return _transcode_in_job(result, edit.transcode, dataset.get("SOPInstanceUID")) if edit.transcode else result

    if not request.job.permissive and store.overwrite_instances() and (
            _KEPT_IN_PLACE <= plan.keep or edit.deidentification.retain_uids):
        _check_edits(sources, transform)
    result = pipeline.run(sources, transform, request.job.permissive)
    with pipeline.finishing(result.stored):
        _post_process(result.stored, edit.is_anonymization, labels)
        pseudonym_mapping.record(result.stored, pseudonyms)
    if not request.keep_source:
        pipeline.delete_sources(result.stored)
    return _answer(route_level, resource_ids, sources, result, edit)


_FORCED_LEVELS = ((STUDY_UID, "Study", "StudyInstanceUID", Level.STUDY, lambda s: s.study),
                  (SERIES_UID, "Series", "SeriesInstanceUID", Level.SERIES, lambda s: s.series),
                  (SOP_UID, "Instance", "SOPInstanceUID", Level.INSTANCE, lambda s: s.id))


def _register_forced_uids(plan: EditPlan, sources: Sequence[SourceInstance], uid_map: UidMap) -> None:
    """An anonymization that Replaces Study/Series/SOP Instance UIDs (with Force) maps the originals to the
    forced values before any instance runs: the workers then all rewrite references to them the same way
    (apply_plan registers them too, but per instance, possibly after another worker used a random value)."""
    if not plan.is_anonymization:
        return
    for tag, level_name, keyword, level, resource_of in _FORCED_LEVELS:
        value = plan.replace.get(tag, (None,))[0]
        if isinstance(value, str):
            for resource_id in dict.fromkeys(resource_of(source) for source in sources):
                original = store.main_tag(level_name, resource_id, keyword)
                if original is not None:
                    uid_map.register(level, original, value)


def _check_edits(sources: Sequence[SourceInstance], transform: Callable[[bytes, SourceInstance], bytes]) -> None:
    """Before an in-place modification (OverwriteInstances and the UIDs kept), edit every instance once
    without storing: an instance that cannot be edited must fail the request before the first original is
    overwritten, since an overwritten original cannot be rolled back."""
    for source in sources:
        try:
            transform(store.instance_dicom(source.id), source)
        except ReshapeError as error:
            raise ReshapeError(error.kind, f"Instance {source.id} failed: {error.details}; nothing was changed "
                               "(checked before modifying the instances in place)", error.field) from None


def _sanity_checks(plan: EditPlan, request: ResourceEditRequest, resources: list) -> None:
    """Orthanc >= 1.11.3 job pre-checks (PerformSanityChecks), on every Orthanc version."""
    if plan.level in (Level.PATIENT, Level.STUDY) and PATIENT_ID not in plan.replace \
            and _KEPT_IN_PLACE <= plan.keep:
        if not request.keep_source:
            raise bad_request("Keeping StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID modifies the "
                              "instances in place: it requires \"KeepSource\": true", "KeepSource")
        if not store.overwrite_instances():
            raise bad_request("Keeping StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID modifies the "
                              "instances in place: it requires \"OverwriteInstances\": true in Orthanc's "
                              "configuration", "Keep")
    replaced = {name: plan.replace[tag][0] for name, tag in PATIENT_MAIN_TAGS.items() if tag in plan.replace}
    if plan.level != Level.STUDY or not replaced or plan.is_anonymization:
        return
    for name, value in replaced.items():
        if not isinstance(value, str):
            raise bad_type(f"The new value of {name} must be a string", f"Replace.{name}")
    for resource_id, level, resource in resources:
        if level != "Study":
            continue
        target = replaced.get("PatientID", resource.get("PatientMainDicomTags", {}).get("PatientID", ""))
        patient_id = store.lookup_patient(target)
        if patient_id is None:
            continue
        patient = store.get_json(f"/patients/{patient_id}")
        if not [study for study in patient["Studies"] if study != resource_id]:
            continue
        stored = patient.get("MainDicomTags", {})
        if any(replaced.get(name) != value for name, value in stored.items() if name in PATIENT_MAIN_TAGS) \
                or any(name not in stored for name in replaced):
            raise bad_request(f"Trying to change patient tags in a study: the patient with PatientID {target!r} "
                              "has other studies, so every patient tag must be replaced with its stored value "
                              f"({json.dumps(stored)})", "Replace")


def _transcode_in_job(dicom: bytes, transfer_syntax: str, sop_uid: Optional[str]) -> bytes:
    """Transcode after modifying; the SOPInstanceUID (`sop_uid`, the modified file's) is put back after a
    lossy transcoding so references stay valid; a failed transcoding keeps the original syntax (Orthanc's
    job behaviour)."""
    try:
        result = store.transcode(dicom, transfer_syntax)
    except ReshapeError as error:
        store.log_info(f"Orthanc Reshape: {error.details}; keeping the original transfer syntax")
        return dicom
    after = read_dataset(result)
    if after.get("SOPInstanceUID") != sop_uid:
        after.SOPInstanceUID = sop_uid
        after.file_meta.MediaStorageSOPInstanceUID = sop_uid
        result = write_dataset(after)
    return result


def _post_process(stored: Sequence[StoredInstance], anonymization: bool, labels: Dict[tuple, list]) -> None:
    """Provenance metadata (on the instance, and on each parent whose ID changed, as Orthanc), labels, and a
    refresh of the parents' main DICOM tags (one instance per series)."""
    provenance.record(stored, "AnonymizedFrom" if anonymization else "ModifiedFrom", labels, provenance.ALL_LEVELS,
                      lambda level, new_id, old_id: level == "Instance" or new_id != old_id)
    reconstructed = set()
    for instance in stored:
        if instance.series not in reconstructed:
            reconstructed.add(instance.series)
            store.reconstruct("Instance", instance.id)


def _answer(route_level: Optional[str], resource_ids: Sequence[str], sources: Sequence[SourceInstance],
            result: PipelineResult, edit: EditRequest) -> Dict[str, Any]:
    """Orthanc's job content (§6.1): single-resource or bulk form."""
    answer: Dict[str, Any] = {
        "Description": "REST API",
        "InstancesCount": len(sources),
        "FailedInstancesCount": len(result.failures),
        "IsAnonymization": edit.is_anonymization,
        "ParentResources": sorted(resource_ids),
    }
    if edit.transcode:
        answer["Transcode"] = edit.transcode
    if result.failures:
        answer["FailedInstances"] = result.failures
    if route_level is None:
        groups = [("Instance", {s.id for s in result.stored}), ("Series", {s.series for s in result.stored}),
                  ("Study", {s.study for s in result.stored}), ("Patient", {s.patient for s in result.stored})]
        answer["Resources"] = [{"Type": level, "ID": rid, "Path": f"/{store.LEVEL_URIS[level]}/{rid}"}
                               for level, ids in groups for rid in sorted(ids)]
    elif result.stored:
        first = result.stored[0]
        new_id = {"Patient": first.patient, "Study": first.study, "Series": first.series}[route_level]
        answer.update({"Type": route_level, "ID": new_id, "Path": f"/{store.LEVEL_URIS[route_level]}/{new_id}",
                       "PatientID": first.patient})
    return answer
