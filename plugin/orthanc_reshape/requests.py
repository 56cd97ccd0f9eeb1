"""Request bodies parsed and validated into frozen dataclasses: the only module that knows JSON field names."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Optional, Tuple

from pydicom.uid import AllTransferSyntaxes

from .config import ReshapeConfig
from .dicom import profiles
from .dicom.paths import TagPath, parse_path
from .dicom.plan import EditPlan, Replacement, anonymization_plan, modification_plan
from .dicom import annex_e
from .dicom.deidentify import DEFAULT_MAX_DAYS, Deidentification
from .dicom.profiles import load_profile
from .dicom.pseudonyms import Pseudonymizer
from .dicom.tags import dictionary_vr, format_tag, keyword, parse_tag
from .dicom.uids import Level
from .dicom.values import check_value
from .errors import bad_format, bad_request, bad_type, out_of_range

_TRANSFER_SYNTAXES = frozenset(str(uid) for uid in AllTransferSyntaxes)
PathField = Tuple[TagPath, str]


def parse_json_object(body: bytes) -> Dict[str, Any]:
    """The body as a JSON object (an empty body is not one, as in Orthanc)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_format(f"The request body is not valid JSON: {exc}", "body") from None
    if not isinstance(value, dict):
        raise bad_format("The request body must be a JSON object", "body")
    return value


def _bool(body: Dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise bad_format(f"Member \"{name}\" should be a Boolean value", name)
    return value


def _string(body: Dict[str, Any], name: str, default: Optional[str]) -> Optional[str]:
    """The member as a string, `default` when absent; any other JSON (null included) is refused, as in Orthanc."""
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, str):
        raise bad_format(f"Member \"{name}\" should be a string", name)
    return value


def _paths(body: Dict[str, Any], name: str) -> Tuple[PathField, ...]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise bad_request(f"Member \"{name}\" should be an array of strings", name)
    result = []
    for index, item in enumerate(value):
        field = f"{name}[{index}]"
        if not isinstance(item, str):
            raise bad_request(f"Member \"{name}\" should be an array of strings", field)
        result.append((parse_path(item, field), field))
    return tuple(result)


def _replacements(body: Dict[str, Any]) -> Tuple[Replacement, ...]:
    value = body.get("Replace", {})
    if not isinstance(value, dict):
        raise bad_request("Member \"Replace\" should be a JSON object mapping paths to values", "Replace")
    replacements = tuple((parse_path(name, f"Replace.{name}"), item, f"Replace.{name}") for name, item in value.items())
    for path, item, field in replacements:
        check_value(path.tag, item, field)
    return replacements


@dataclass(frozen=True)
class EditRequest:
    """A modify or anonymize body (the fields shared by every route of both families)."""

    is_anonymization: bool
    replace: Tuple[Replacement, ...]
    remove: Tuple[PathField, ...]
    keep: Tuple[PathField, ...]
    force: bool
    private_creator: str
    transcode: Optional[str]
    keep_labels: bool
    remove_private_tags: bool  # modify only
    keep_private_tags: bool    # anonymize only
    dicom_version: str         # anonymize only
    # Orthanc Reshape's additions to anonymize (docs/deidentification.md); the defaults are Orthanc's behaviour.
    deidentification: Deidentification = Deidentification()  # Pseudonymize, ShiftDates, RetainUIDs
    options: Tuple[str, ...] = ()                            # Annex E option names ("Options")
    dry_run: bool = False                                    # "DryRun": report the changes, store nothing

    def plan(self, orthanc_version: str, patient_name=lambda: "Anonymized", level=None) -> EditPlan:
        """The EditPlan of this request (`patient_name` gives Anonymized<N> when the profile needs it)."""
        if self.is_anonymization:
            profile = annex_e.with_options(load_profile(self.dicom_version), self.options)
            if self.deidentification.pseudonymize:  # a keyed name per patient replaces Anonymized<N>
                patient_name = self.deidentification.patient_name_placeholder()
            plan = anonymization_plan(
                profile, self.replace, self.remove, self.keep, force=self.force,
                keep_private=self.keep_private_tags, private_creator=self.private_creator,
                orthanc_version=orthanc_version, patient_name=patient_name)
            if annex_e.RETAIN_SAFE_PRIVATE in self.options:
                plan.retain_private = annex_e.retains_safe_private
            if self.options or self.deidentification.active:
                annex_e.record_method(plan, self.options)
            return plan
        return modification_plan(self.replace, self.remove, self.keep, force=self.force,
                                 remove_private=self.remove_private_tags,
                                 private_creator=self.private_creator, level=level)


def parse_edit_request(body: Dict[str, Any], anonymize: bool, config: ReshapeConfig) -> EditRequest:
    """Validate a modify (anonymize=False) or anonymize body; every error is a 400 naming the field."""
    # Orthanc's parse order: the private-tag flag, KeepLabels, Remove, Replace, Keep, PrivateCreator.
    remove_private = False if anonymize else _bool(body, "RemovePrivateTags", False)
    keep_private = _bool(body, "KeepPrivateTags", False) if anonymize else False
    keep_labels = _bool(body, "KeepLabels", False)
    remove, replace, keep = _paths(body, "Remove"), _replacements(body), _paths(body, "Keep")
    force = _bool(body, "Force", False)
    private_creator = _string(body, "PrivateCreator", config.default_private_creator)
    transcode = _string(body, "Transcode", None)
    if transcode is not None and transcode not in _TRANSFER_SYNTAXES:
        raise out_of_range(f"Unknown transfer syntax: {transcode}", "Transcode")
    version = config.default_dicom_version
    if anonymize:
        version = _string(body, "DicomVersion", version)
        if version not in profiles.versions():
            raise out_of_range(f"Unknown DICOM version: {version!r} (expected one of "
                               f"{', '.join(profiles.versions())})", "DicomVersion")
    deidentification, names = _deidentification(body, config) if anonymize else (Deidentification(), ())
    return EditRequest(anonymize, replace, remove, keep, force, private_creator, transcode, keep_labels,
                       remove_private, keep_private, version, deidentification=deidentification, options=names,
                       dry_run=_bool(body, "DryRun", False))


def _pseudonymize_project(body: Dict[str, Any]) -> Optional[str]:
    value = body.get("Pseudonymize", False)
    if value is True:
        return "default"
    if value is False:
        return None
    if isinstance(value, dict) and isinstance(value.get("Project"), str) and value["Project"]:
        return value["Project"]
    raise bad_format("Member \"Pseudonymize\" should be true, false or {\"Project\": \"<name>\"}", "Pseudonymize")


def _shift_max_days(body: Dict[str, Any]) -> Optional[int]:
    value = body.get("ShiftDates", False)
    if value is True:
        return DEFAULT_MAX_DAYS
    if value is False:
        return None
    days = value.get("MaxDays", DEFAULT_MAX_DAYS) if isinstance(value, dict) else None
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 36500:
        raise bad_format("Member \"ShiftDates\" should be true, false or {\"MaxDays\": <1 to 36500>}", "ShiftDates")
    return days


def _options(body: Dict[str, Any]) -> Tuple[str, ...]:
    value = body.get("Options", [])
    allowed = annex_e.selectable_options()
    if not isinstance(value, list):
        raise bad_format("Member \"Options\" should be an array of option names", "Options")
    for index, name in enumerate(value):
        if name not in allowed:
            raise out_of_range(f"Unknown or unsupported Annex E option {name!r} (expected some of "
                               f"{', '.join(allowed)})", f"Options[{index}]")
    return tuple(dict.fromkeys(value))


def _deidentification(body: Dict[str, Any], config: ReshapeConfig) -> Tuple[Deidentification, Tuple[str, ...]]:
    """Pseudonymize, ShiftDates and Options of an anonymize body (validated, with the project's key)."""
    project = _pseudonymize_project(body)
    max_days = _shift_max_days(body)
    names = _options(body)
    if annex_e.MODIFIED_DATES in names and max_days is None:
        max_days = DEFAULT_MAX_DAYS
    if max_days is not None and annex_e.MODIFIED_DATES not in names:
        names += (annex_e.MODIFIED_DATES,)
    if annex_e.MODIFIED_DATES in names and annex_e.FULL_DATES in names:
        raise bad_request("RetainLongitudinalFullDates keeps the dates, ShiftDates (RetainLongitudinalModifiedDates) "
                          "shifts them: choose one", "Options")
    keyed = None
    if project is not None or max_days is not None:
        name = project or "default"
        settings = config.pseudonymization
        key = settings.key(name)
        if key is None:
            raise bad_request(
                f"No pseudonymization key is configured for project {name!r}: add "
                f"\"Reshape\": {{\"Pseudonymization\": {{\"Projects\": {{\"{name}\": {{\"Key\": \"<secret>\"}}}}}}}} to "
                "Orthanc's configuration (a secret of at least 16 characters, e.g. from \"openssl rand -hex 32\"; "
                "keep it: the same key gives the same pseudonyms)", "Pseudonymize" if project else "ShiftDates")
        keyed = Pseudonymizer(name, key.encode("utf-8"), settings.uid_root)
    return Deidentification(keyed, project is not None, max_days, annex_e.RETAIN_UIDS in names), names


@dataclass(frozen=True)
class JobOptions:
    """Orthanc's job submission fields (§0.1), shared by every stored-result route."""

    synchronous: bool
    priority: int
    permissive: bool
    user_data: Any = None  # any JSON, shown as "UserData" by GET /jobs/{id}


def parse_job_options(body: Dict[str, Any]) -> JobOptions:
    if "Synchronous" in body:
        synchronous = _bool(body, "Synchronous", True)
    else:
        synchronous = not _bool(body, "Asynchronous", False)
    priority = body.get("Priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise bad_format("Member \"Priority\" should be an integer", "Priority")
    return JobOptions(synchronous, priority, _bool(body, "Permissive", False), body.get("UserData"))


_LEVEL_NAMES = {"patient": Level.PATIENT, "patients": Level.PATIENT, "study": Level.STUDY, "studies": Level.STUDY,
                "series": Level.SERIES, "instance": Level.INSTANCE, "instances": Level.INSTANCE,
                "image": Level.INSTANCE, "images": Level.INSTANCE}


@dataclass(frozen=True)
class ResourceEditRequest:
    """A modify/anonymize of stored resources: /{level}/{id}/... or /tools/bulk-..."""

    edit: EditRequest
    job: JobOptions
    keep_source: bool
    resources: Tuple[str, ...]  # bulk only; () for the single-resource routes
    level: Optional[Level]      # bulk-modify "Level"; None = detected


def parse_resource_edit_request(body: Dict[str, Any], anonymize: bool, config: ReshapeConfig,
                                bulk: bool = False) -> ResourceEditRequest:
    """Validate the body of a resource-level or bulk modify/anonymize."""
    edit = parse_edit_request(body, anonymize, config)
    keep_source = _bool(body, "KeepSource", True)
    job = parse_job_options(body)
    resources: Tuple[str, ...] = ()
    level = None
    if bulk:
        value = body.get("Resources")
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise bad_format("List of strings expected in field: Resources", "Resources")
        resources = tuple(dict.fromkeys(value))
        if not anonymize and "Level" in body:
            name = body["Level"]
            if not isinstance(name, str) or name.lower() not in _LEVEL_NAMES:
                raise out_of_range(f"Unknown resource level: {name!r}", "Level")
            level = _LEVEL_NAMES[name.lower()]
    return ResourceEditRequest(edit, job, keep_source, resources, level)


# --- split and merge ----------------------------------------------------------------------------

# Checks the operation performs while a body is parsed, so that errors come in Orthanc's order:
# called with (Orthanc ID, request field), they raise a 404 naming the field.
MemberCheck = Callable[[str, str], None]


def _id_list(body: Dict[str, Any], name: str, required: bool = False) -> Tuple[str, ...]:
    value = body.get(name, [] if not required else None)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_format(f"List of strings expected in field: {name}", name)
    return tuple(value)


def _module_tag(name: Any, field: str, allowed: FrozenSet[int]) -> int:
    tag = parse_tag(name, field)
    if tag not in allowed:
        raise out_of_range(f"Cannot modify the following tag while splitting a study (not in the patient/study "
                           f"modules, or StudyInstanceUID): {keyword(tag)} ({format_tag(tag)})", field)
    return tag


@dataclass(frozen=True)
class SplitRequest:
    """POST /studies/{id}/split."""

    series: Tuple[str, ...]
    instances: Tuple[str, ...]
    replace: Tuple[Tuple[int, str, str], ...]  # (tag, value, field)
    remove: Tuple[Tuple[int, str], ...]        # (tag, field)
    keep_source: bool
    job: JobOptions
    dry_run: bool = False  # "DryRun": report the changes, store and delete nothing


def parse_split_request(body: Dict[str, Any], check_series: MemberCheck, check_instance: MemberCheck) -> SplitRequest:
    """Validate a split body in Orthanc's order (spec §7): Series, Instances, none given, KeepSource,
    Remove, Replace (only tags of the Patient/General Study modules), then the job fields."""
    lists = {}
    for name, check in (("Series", check_series), ("Instances", check_instance)):
        lists[name] = _id_list(body, name)
        for index, resource_id in enumerate(lists[name]):
            check(resource_id, f"{name}[{index}]")
    if not lists["Series"] and not lists["Instances"]:
        raise bad_request("No series nor instance to split: give \"Series\" and/or \"Instances\"", "Series")
    keep_source = _bool(body, "KeepSource", False)
    allowed = profiles.split_allowed_tags()
    remove_value = body.get("Remove", [])
    if not isinstance(remove_value, list):
        raise bad_format("Member \"Remove\" should be an array of tag names", "Remove")
    remove = []
    for index, name in enumerate(remove_value):
        field = f"Remove[{index}]"
        if not isinstance(name, str):
            raise bad_format("Member \"Remove\" should be an array of tag names", field)
        remove.append((_module_tag(name, field, allowed), field))
    replace_value = body.get("Replace", {})
    if not isinstance(replace_value, dict):
        raise bad_format("Member \"Replace\" should be a JSON object mapping tag names to strings", "Replace")
    replace = []
    for name, value in replace_value.items():
        field = f"Replace.{name}"
        if not isinstance(value, str):
            raise bad_format(f"The value of \"{name}\" in \"Replace\" should be a string", field)
        tag = _module_tag(name, field, allowed)
        if dictionary_vr(tag) == "SQ":
            raise bad_type(f"{keyword(tag)} is a sequence: a split can only remove it, not give it a string", field)
        replace.append((tag, value, field))
    return SplitRequest(lists["Series"], lists["Instances"], tuple(replace), tuple(remove), keep_source,
                        parse_job_options(body), dry_run=_bool(body, "DryRun", False))


@dataclass(frozen=True)
class MergeRequest:
    """POST /studies/{id}/merge."""

    resources: Tuple[str, ...]
    keep_source: bool
    job: JobOptions
    dry_run: bool = False  # "DryRun": report the changes, store and delete nothing


def parse_merge_request(body: Dict[str, Any], check_resource: MemberCheck) -> MergeRequest:
    """Validate a merge body in Orthanc's order (spec §8): Resources (each checked as it is read),
    KeepSource, then the job fields."""
    resources = _id_list(body, "Resources", required=True)
    for index, resource_id in enumerate(resources):
        check_resource(resource_id, f"Resources[{index}]")
    return MergeRequest(resources, _bool(body, "KeepSource", False), parse_job_options(body),
                        dry_run=_bool(body, "DryRun", False))
