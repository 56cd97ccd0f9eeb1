"""The test harness itself: a real Orthanc starts with the plugin, stores files, survives a restart."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from orthanc_server import OrthancClient, OrthancServer, OrthancStartError


def _ct_small() -> bytes:
    return Path(get_testdata_file("CT_small.dcm")).read_bytes()


def test_server_answers_system(orthanc: OrthancServer) -> None:
    system = orthanc.get_json("/system")
    assert system["HttpPort"] == orthanc.http_port
    assert system["DicomPort"] == orthanc.dicom_port
    assert system["Name"] == orthanc.name


def test_python_plugin_is_loaded(orthanc: OrthancServer) -> None:
    assert "python" in orthanc.get_json("/plugins")


def test_unknown_resource_answers_404_without_raising(orthanc: OrthancServer) -> None:
    status, _headers, _body = orthanc.get("/instances/00000000-00000000-00000000-00000000-00000000")
    assert status == 404


def test_upload_of_a_pydicom_test_file(clean_orthanc: OrthancServer) -> None:
    answer = clean_orthanc.upload(_ct_small())
    assert answer["Status"] == "Success"
    assert clean_orthanc.instances() == [answer["ID"]]
    assert clean_orthanc.tags(answer["ID"])["PatientName"] == "CompressedSamples^CT1"
    assert clean_orthanc.instance_file(answer["ID"]) == _ct_small()


def test_clean_fixture_empties_the_store(orthanc: OrthancServer, clean_orthanc: OrthancServer) -> None:
    assert clean_orthanc is orthanc
    assert orthanc.patients() == []


def test_mounted_server_has_its_own_storage(clean_orthanc: OrthancServer, clean_mounted: OrthancServer) -> None:
    clean_orthanc.upload(_ct_small())
    assert clean_mounted.url != clean_orthanc.url
    assert clean_mounted.instances() == []
    assert clean_mounted.get_json("/system")["Name"] == "reshape-mounted"


def test_restart_keeps_data_and_ports(make_orthanc: Callable[..., OrthancServer]) -> None:
    server = make_orthanc()
    instance = server.upload(_ct_small())["ID"]
    url, pid = server.url, server.pid
    server.restart()
    assert server.pid != pid and server.url == url
    assert server.instances() == [instance]


def test_kill_then_start_keeps_data(make_orthanc: Callable[..., OrthancServer]) -> None:
    server = make_orthanc()
    instance = server.upload(_ct_small())["ID"]
    server.kill()
    assert not server.running
    server.start()
    assert server.instances() == [instance]


def test_extra_config_is_merged(make_orthanc: Callable[..., OrthancServer]) -> None:
    server = make_orthanc({"Name": "custom", "Reshape": {"Mount": "/x"}})
    assert server.get_json("/system")["Name"] == "custom"
    config = server.config()
    assert config["Reshape"] == {"Mount": "/x"} and config["PythonScript"].endswith("plugin/reshape.py")


def test_a_server_that_cannot_start_reports_its_log(make_orthanc: Callable[..., OrthancServer]) -> None:
    with pytest.raises(OrthancStartError, match="PythonScript|exited"):
        make_orthanc({"PythonScript": "/nonexistent/reshape.py"})


def test_client_sends_json_bodies(orthanc: OrthancServer) -> None:
    client = OrthancClient(orthanc.url)
    answer = client.post("/tools/find", {"Level": "Patient", "Query": {}})
    assert answer.status == 200 and isinstance(answer.json(), list)
    assert client.post("/tools/find", "not json").status == 400
