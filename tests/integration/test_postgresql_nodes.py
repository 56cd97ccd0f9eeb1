"""Two Orthanc nodes sharing one PostgreSQL index (and one storage directory): pseudonyms made on one node
are those made on the other, the mapping written by one is exported by the other.

Needs the Debian packages `postgresql` and `orthanc-postgresql` (scripts/setup.sh installs them when
RESHAPE_POSTGRESQL=1); skipped when they are absent."""
from __future__ import annotations

from pathlib import Path

import pytest

import postgres_server
from dicom_files import make_study, to_bytes
from orthanc_server import OrthancServer, find_python_plugin

pytestmark = pytest.mark.skipif(not postgres_server.available(),
                                reason="needs the Debian packages postgresql and orthanc-postgresql")

KEY = "two-nodes-test-key-0123456789"
MOUNT = "/reshape"


@pytest.fixture
def nodes(tmp_path: Path):
    database = postgres_server.PostgresServer(tmp_path / "postgres").start()
    shared_storage = tmp_path / "storage"
    config = {"Plugins": [find_python_plugin(), postgres_server.INDEX_PLUGIN], "StorageDirectory": str(shared_storage),
              **database.orthanc_config(),
              "Reshape": {"Mount": MOUNT, "Pseudonymization": {"Projects": {"default": {"Key": KEY}},
                                                               "ExportMapping": True}}}
    servers = [OrthancServer(tmp_path / f"node-{name}", config, name=f"reshape-pg-{name}") for name in "ab"]
    try:
        servers[0].start()  # the first creates the schema
        servers[1].start()
        yield servers
    finally:
        for server in servers:
            server.kill()
        database.stop()


def test_pseudonyms_made_on_one_node_equal_those_made_on_the_other(nodes) -> None:
    a, b = nodes
    first = a.upload_many([to_bytes(ds) for ds in make_study(series_count=1, instances_per_series=2, seed=1)])
    second = b.upload_many([to_bytes(ds) for ds in make_study(series_count=1, instances_per_series=2, seed=2)])
    assert set(a.studies()) == set(b.studies())  # one index
    on_a = a.post_json(f"{MOUNT}/studies/{first[0]['ParentStudy']}/anonymize", {"Pseudonymize": True})
    on_b = b.post_json(f"{MOUNT}/studies/{second[0]['ParentStudy']}/anonymize", {"Pseudonymize": True})
    assert on_a["PatientID"] == on_b["PatientID"]  # the same pseudonymous patient, made on two nodes
    again = b.post_json(f"{MOUNT}/studies/{first[0]['ParentStudy']}/anonymize", {"Pseudonymize": True})
    assert again["ID"] == on_a["ID"]              # node B re-derives node A's study
    assert len(a.get_json(f"/patients/{on_a['PatientID']}")["Studies"]) == 2
    rows = b.get_json(f"{MOUNT}/pseudonyms/default/patients.json")
    assert [(r["id_old"], r["orthanc_patient"]) for r in rows] == [("RESHAPE-0001", on_a["PatientID"])]
    assert a.get_json(f"{MOUNT}/pseudonyms/default/uids.json") == b.get_json(f"{MOUNT}/pseudonyms/default/uids.json")
