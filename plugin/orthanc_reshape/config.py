"""The "Reshape" section of Orthanc's configuration, with defaults (and the few global options we honour)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict

from .dicom import profiles
from .dicom.uids import DEFAULT_UID_ROOT

_UID_ROOT = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class ConfigurationError(ValueError):
    """The "Reshape" configuration section is invalid (reported in Orthanc's log at start-up)."""


@dataclass(frozen=True)
class ReshapeConfig:
    """Options of the "Reshape" section (documented in the README)."""

    mount: str = ""                      # "" = Orthanc's own URIs; "/reshape" = every route under that prefix
    default_dicom_version: str = "2023b"  # DicomVersion of anonymize requests that give none
    uid_root: str = DEFAULT_UID_ROOT     # root of generated UIDs ("2.25" = UUID-derived UIDs)
    default_private_creator: str = ""    # Orthanc's global "DefaultPrivateCreator"
    jobs_workers: int = 1                # asynchronous jobs run at most this many at a time
    jobs_history_size: int = 100         # finished jobs kept (in Orthanc's database) for GET /jobs


def parse_config(orthanc_config: Dict[str, Any]) -> ReshapeConfig:
    """Build the configuration from Orthanc's whole configuration (a dict); bad values raise ConfigurationError."""
    section = orthanc_config.get("Reshape", {}) or {}
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
    return ReshapeConfig(mount=mount.rstrip("/"), default_dicom_version=version, uid_root=uid_root,
                         default_private_creator=creator if isinstance(creator, str) else "",
                         jobs_workers=workers, jobs_history_size=history)


def _positive_int(section: Dict[str, Any], name: str, default: int, maximum: int) -> int:
    value = section.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ConfigurationError(f'"Reshape.{name}" must be an integer from 1 to {maximum}')
    return value
