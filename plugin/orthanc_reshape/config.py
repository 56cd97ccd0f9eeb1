"""The "Reshape" section of Orthanc's configuration, with defaults (and the few global options we honour)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .dicom import profiles
from .dicom.uids import DEFAULT_UID_ROOT

_UID_ROOT = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class ConfigurationError(ValueError):
    """The "Reshape" configuration section is invalid (reported in Orthanc's log at start-up)."""


MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class PseudonymizationConfig:
    """"Reshape.Pseudonymization": one secret key per project, the UID root of keyed UIDs, the export switch."""

    projects: Tuple[Tuple[str, str], ...] = field(default=(), repr=False)  # (project name, key); keys never logged
    uid_root: str = DEFAULT_UID_ROOT
    export_mapping: bool = False               # GET .../pseudonyms/{project}/... routes enabled

    def key(self, project: str) -> Optional[str]:
        return dict(self.projects).get(project)


def _parse_pseudonymization(section: Dict[str, Any]) -> PseudonymizationConfig:
    value = section.get("Pseudonymization", {}) or {}
    name = '"Reshape.Pseudonymization'
    if not isinstance(value, dict):
        raise ConfigurationError(f'{name}" must be a JSON object')
    projects = value.get("Projects", {})
    projects = {} if projects is None else projects
    if not isinstance(projects, dict):
        raise ConfigurationError(f'{name}.Projects" must be a JSON object: project name -> {{"Key": "..."}}')
    parsed = []
    for project, entry in projects.items():
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", project):
            raise ConfigurationError(f'{name}.Projects": project names use letters, digits, ".", "_", "-" '
                                     f'(got {project!r})')
        key = entry.get("Key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
            raise ConfigurationError(f'{name}.Projects.{project}.Key" must be a secret string of at least '
                                     f'{MIN_KEY_LENGTH} characters (e.g. the output of "openssl rand -hex 32")')
        parsed.append((project, key))
    uid_root = value.get("UidRoot", DEFAULT_UID_ROOT)
    if not isinstance(uid_root, str) or not _UID_ROOT.match(uid_root) or len(uid_root) > 24:
        raise ConfigurationError(f'{name}.UidRoot" must be a UID root of at most 24 characters, e.g. "2.25"')
    export = value.get("ExportMapping", False)
    if not isinstance(export, bool):
        raise ConfigurationError(f'{name}.ExportMapping" must be true or false')
    return PseudonymizationConfig(tuple(parsed), uid_root, export)


@dataclass(frozen=True)
class ReshapeConfig:
    """Options of the "Reshape" section (documented in the README)."""

    mount: str = ""                      # "" = Orthanc's own URIs; "/reshape" = every route under that prefix
    default_dicom_version: str = "2023b"  # DicomVersion of anonymize requests that give none
    uid_root: str = DEFAULT_UID_ROOT     # root of generated UIDs ("2.25" = UUID-derived UIDs)
    default_private_creator: str = ""    # Orthanc's global "DefaultPrivateCreator"
    pseudonymization: PseudonymizationConfig = field(default_factory=PseudonymizationConfig)
    dry_run_values: bool = False         # "DryRun" answers show the old values (else only VR and length)
    jobs_workers: int = 1                # asynchronous jobs run at most this many at a time
    jobs_history_size: int = 100         # finished jobs kept (in Orthanc's database) for GET /jobs
    dictionary_names: Tuple[Tuple[str, int], ...] = ()  # names of Orthanc's "Dictionary" section -> tags
    store_workers: int = 4               # instances one request processes at the same time
    loopback_http: bool = True           # read and store them through Orthanc's HTTP port on loopback


def parse_config(orthanc_config: Dict[str, Any]) -> ReshapeConfig:
    """Build the configuration from Orthanc's whole configuration (a dict); bad values raise ConfigurationError."""
    section = orthanc_config.get("Reshape")
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise ConfigurationError('"Reshape" must be a JSON object')
    mount = section.get("Mount", "")
    if not isinstance(mount, str) or (mount and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", mount.rstrip("/"))):
        raise ConfigurationError('"Reshape.Mount" must be "" or a URI prefix such as "/reshape"')
    version = section.get("DefaultDicomVersion", ReshapeConfig.default_dicom_version)
    if version not in profiles.versions():
        raise ConfigurationError(f'"Reshape.DefaultDicomVersion" must be one of {", ".join(profiles.versions())}')
    uid_root = section.get("UidRoot", DEFAULT_UID_ROOT)
    if not isinstance(uid_root, str) or not _UID_ROOT.match(uid_root) or len(uid_root) > 24:
        raise ConfigurationError('"Reshape.UidRoot" must be a UID root of at most 24 characters, e.g. "2.25"')
    creator = orthanc_config.get("DefaultPrivateCreator", "")
    workers = _positive_int(section, "JobsWorkers", ReshapeConfig.jobs_workers, 64)
    history = _positive_int(section, "JobsHistorySize", ReshapeConfig.jobs_history_size, 1000)
    store_workers = _positive_int(section, "StoreWorkers", ReshapeConfig.store_workers, 16)
    loopback_http = section.get("LoopbackHttp", ReshapeConfig.loopback_http)
    if not isinstance(loopback_http, bool):
        raise ConfigurationError('"Reshape.LoopbackHttp" must be true or false')
    pseudonymization = _parse_pseudonymization(section)
    dry_run_values = section.get("DryRunShowsValues", False)
    if not isinstance(dry_run_values, bool):
        raise ConfigurationError('"Reshape.DryRunShowsValues" must be true or false')
    return ReshapeConfig(pseudonymization=pseudonymization, dry_run_values=dry_run_values, mount=mount.rstrip("/"), default_dicom_version=version, uid_root=uid_root,
                         default_private_creator=creator if isinstance(creator, str) else "",
                         jobs_workers=workers, jobs_history_size=history,
                         store_workers=store_workers, loopback_http=loopback_http,
                         dictionary_names=_dictionary_names(orthanc_config.get("Dictionary")))


def _dictionary_names(dictionary: Any) -> Tuple[Tuple[str, int], ...]:
    """(name, tag) of the tags declared in Orthanc's "Dictionary" configuration ("gggg,eeee": [VR, name, ...]),
    so that requests may name them as Orthanc lets them; malformed entries are Orthanc's to report."""
    names = []
    for key, entry in (dictionary or {}).items() if isinstance(dictionary, dict) else ():
        match = re.fullmatch(r"\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*", str(key))
        if match and isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[1], str) and entry[1]:
            names.append((entry[1], int(match.group(1) + match.group(2), 16)))
    return tuple(names)


def _positive_int(section: Dict[str, Any], name: str, default: int, maximum: int) -> int:
    value = section.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ConfigurationError(f'"Reshape.{name}" must be an integer from 1 to {maximum}')
    return value
