"""docker/ cannot be built here; at least its configuration file is checked against the plugin."""
from __future__ import annotations

import json
from collections.abc import Callable

from orthanc_server import REPO_ROOT, OrthancServer

DOCKER = REPO_ROOT / "docker"


def test_docker_configuration_starts_the_plugin(make_orthanc: Callable[..., OrthancServer]) -> None:
    config = json.loads((DOCKER / "orthanc-reshape.json").read_text())
    assert isinstance(config["Reshape"], dict)
    server = make_orthanc(config)
    assert "python" in server.get_json("/plugins")
    server.wait_for_log("Orthanc Reshape ")  # the plugin's start-up line: its configuration was accepted


def test_dockerfile_installs_the_plugin_where_the_script_path_points() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "FROM orthancteam/orthanc:" in dockerfile and ":latest" not in dockerfile
    assert "COPY plugin/ /usr/share/orthanc-reshape/plugin/" in dockerfile
    assert "ORTHANC__PYTHON_SCRIPT=/usr/share/orthanc-reshape/plugin/reshape.py" in dockerfile
    assert "--break-system-packages -r /usr/share/orthanc-reshape/requirements.txt" in dockerfile


def test_docker_configuration_names_the_metadata_like_orthanc_json() -> None:
    docker = json.loads((DOCKER / "orthanc-reshape.json").read_text())
    default = json.loads((REPO_ROOT / "orthanc.json").read_text())
    assert docker["UserMetadata"] == default["UserMetadata"]
