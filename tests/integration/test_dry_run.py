"""DryRun on a real Orthanc: nothing stored or counted, and the report agrees with the real run."""
from __future__ import annotations

import pytest

from dicom_compare import read
from dicom_files import make_study, make_ct_series, to_bytes
from orthanc_reshape.dicom.dryrun import changes, snapshot
from orthanc_server import OrthancServer

KEY = "dry-run-test-key-0123456789"
MOUNT = "/reshape"


@pytest.fixture
def keyed(make_orthanc) -> OrthancServer:
    return make_orthanc({"Reshape": {"Mount": MOUNT, "Pseudonymization": {"Projects": {"default": {"Key": KEY}}}}})


def _normalized(report):
    """(path, action, new value) with Remapped counted as Replaced (a file-to-file diff cannot tell them apart)."""
    return sorted((c["Path"], "Replaced" if c["Action"] == "Remapped" else c["Action"], repr(c.get("New")))
                  for c in report)


def test_dry_run_and_real_run_agree(keyed: OrthancServer) -> None:
    sources = make_study(series_count=2, instances_per_series=2)
    uploaded = keyed.upload_many([to_bytes(ds) for ds in sources])
    study = uploaded[0]["ParentStudy"]
    body = {"Pseudonymize": True, "ShiftDates": True, "Options": ["RetainDeviceIdentity"]}
    before = keyed.statistics()
    dry = keyed.post_json(f"{MOUNT}/studies/{study}/anonymize", dict(body, DryRun=True))
    assert keyed.statistics() == before
    assert dry["DryRun"] is True and dry["InstancesCount"] == 4
    assert {r["Type"] for r in dry["Resources"]} == {"Patient", "Study", "Series", "Instance"}
    assert not any(r["Exists"] for r in dry["Resources"])

    real = keyed.post_json(f"{MOUNT}/studies/{study}/anonymize", body)
    stored = {i["ID"] for i in keyed.get_json(f"/studies/{real['ID']}/instances")}
    assert stored == {i["ID"] for i in dry["Instances"]}
    assert {r["ID"] for r in dry["Resources"] if r["Type"] == "Study"} == {real["ID"]}
    for entry in dry["Instances"]:
        source = read(keyed.instance_file(entry["Source"]))
        result = read(keyed.instance_file(entry["ID"]))
        assert _normalized(changes(snapshot(source), snapshot(result))) == _normalized(entry["Changes"])
    again = keyed.post_json(f"{MOUNT}/studies/{study}/anonymize", dict(body, DryRun=True))
    assert all(r["Exists"] for r in again["Resources"])


def test_instance_dry_run_predicts_the_name_and_counts_nothing(clean_mounted: OrthancServer) -> None:
    instance = clean_mounted.upload(to_bytes(make_ct_series(1)[0]))["ID"]
    reports = [clean_mounted.post_json(f"{MOUNT}/instances/{instance}/anonymize", {"DryRun": True}) for _ in range(2)]
    names = [{c["Path"]: c for c in r["Instances"][0]["Changes"]}["PatientName"]["New"] for r in reports]
    assert names[0] == names[1] and names[0].startswith("Anonymized")
    real = read(clean_mounted.post(f"{MOUNT}/instances/{instance}/anonymize", {}).body)
    assert str(real.PatientName) == names[0]
    assert clean_mounted.statistics()["CountInstances"] == 1


def test_modify_dry_run_stores_and_deletes_nothing(clean_orthanc: OrthancServer) -> None:
    study = clean_orthanc.upload(to_bytes(make_ct_series(1)[0]))["ParentStudy"]
    report = clean_orthanc.post_json(f"/studies/{study}/modify",
                                     {"Replace": {"StudyDescription": "new"}, "KeepSource": False, "DryRun": True})
    by_path = {c["Path"]: c for c in report["Instances"][0]["Changes"]}
    assert by_path["StudyDescription"]["New"] == "new" and by_path["StudyInstanceUID"]["Action"] == "Remapped"
    assert clean_orthanc.studies() == [study]
    assert clean_orthanc.post(f"/studies/{study}/modify", {"DryRun": "yes"}).status == 400


def _agrees(server: OrthancServer, dry: dict, stored_ids: set) -> None:
    assert stored_ids == {i["ID"] for i in dry["Instances"]}
    for entry in dry["Instances"]:
        source = read(server.instance_file(entry["Source"]))
        result = read(server.instance_file(entry["ID"]))
        assert _normalized(changes(snapshot(source), snapshot(result))) == _normalized(entry["Changes"])


def test_split_and_merge_dry_runs_agree_with_the_real_runs(clean_mounted: OrthancServer) -> None:
    uploaded = clean_mounted.upload_many([to_bytes(ds) for ds in make_study(series_count=2, instances_per_series=2)])
    study = uploaded[0]["ParentStudy"]
    series = clean_mounted.get_json(f"/studies/{study}")["Series"][0]
    body = {"Series": [series], "Replace": {"StudyDescription": "split"}, "KeepSource": True}
    before = clean_mounted.statistics()
    dry = clean_mounted.post_json(f"{MOUNT}/studies/{study}/split", dict(body, DryRun=True))
    assert clean_mounted.statistics() == before and dry["InstancesCount"] == 2
    real = clean_mounted.post_json(f"{MOUNT}/studies/{study}/split", body)
    assert dry["TargetStudyUID"] == real["TargetStudyUID"]
    _agrees(clean_mounted, dry, {i["ID"] for i in clean_mounted.get_json(f"/studies/{real['TargetStudy']}/instances")})

    other = clean_mounted.upload_many([to_bytes(ds) for ds in make_study(series_count=1, instances_per_series=2,
                                                                          seed=5, patient_id="OTHER")])
    merge = {"Resources": [other[0]["ParentStudy"]], "KeepSource": True}
    dry = clean_mounted.post_json(f"{MOUNT}/studies/{study}/merge", dict(merge, DryRun=True))
    assert clean_mounted.get_json(f"/studies/{study}/instances") and dry["TargetStudy"] == study
    count = len(clean_mounted.get_json(f"/studies/{study}/instances"))
    clean_mounted.post_json(f"{MOUNT}/studies/{study}/merge", merge)
    now = {i["ID"] for i in clean_mounted.get_json(f"/studies/{study}/instances")}
    assert len(now) == count + 2
    _agrees(clean_mounted, dry, {i["ID"] for i in dry["Instances"]} & now)
    assert {i["ID"] for i in dry["Instances"]} <= now
