"""The "Reshape" configuration section: defaults and refused values."""
from __future__ import annotations

import pytest

from orthanc_reshape.config import ConfigurationError, ReshapeConfig, parse_config


def test_defaults() -> None:
    config = parse_config({})
    assert config.mount == "" and config.default_dicom_version == "2023b" and config.uid_root == "2.25"
    assert config.store_workers == 4 and config.loopback_http is True


def test_values_are_read() -> None:
    config = parse_config({"Reshape": {"Mount": "/reshape/", "DefaultDicomVersion": "2021b", "UidRoot": "1.2.3",
                                       "StoreWorkers": 1, "LoopbackHttp": False},
                           "DefaultPrivateCreator": "ME"})
    assert config == ReshapeConfig(mount="/reshape", default_dicom_version="2021b", uid_root="1.2.3",
                                   default_private_creator="ME", store_workers=1, loopback_http=False)


@pytest.mark.parametrize("section", [
    [], {"Mount": "reshape"}, {"Mount": 3}, {"DefaultDicomVersion": "1999"}, {"UidRoot": "abc"},
    {"UidRoot": "1." * 20}, {"StoreWorkers": 0}, {"StoreWorkers": 17}, {"StoreWorkers": "4"},
    {"LoopbackHttp": "yes"}, {"JobsWorkers": 0},
])
def test_bad_values_are_refused(section) -> None:
    with pytest.raises(ConfigurationError):
        parse_config({"Reshape": section})


def test_names_of_orthancs_dictionary_are_read() -> None:
    config = parse_config({"Dictionary": {"0009,1001": ["LO", "ReshapeTestName", 1, 1, "RESHAPE TEST"],
                                          "7053,1003": ["ST", "OriginalImageFilename", 1, 1],
                                          "bad": ["LO", "Ignored"]}})
    assert dict(config.dictionary_names) == {"ReshapeTestName": 0x00091001, "OriginalImageFilename": 0x70531003}
