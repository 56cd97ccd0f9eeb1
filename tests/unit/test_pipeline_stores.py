"""The pipeline's stores, with a stand-in `orthanc` module (Orthanc's index is a dict):

- a store whose answer is lost (the loopback connection breaks after the file was sent): the pipeline finds out
  whether Orthanc has the instance, rolls it back only when it is known to be this request's, and names it
  otherwise;
- the write-ahead journal of jobs: a journaling monitor hears of every instance before it is stored (which of
  them Orthanc had already is the monitor's question: tests/unit/test_jobs_engine.py), and a failed journal
  write stops the run and rolls it back."""
from __future__ import annotations

import threading

import pytest

from support import import_glue

from dicom_files import make_ct_series, to_bytes
from orthanc_reshape.dicom.files import orthanc_instance_id

FILES = [to_bytes(ds) for ds in make_ct_series(5, rows=8, columns=8)]
IDS = [orthanc_instance_id(data) for data in FILES]
LOST = 2  # the store of this file loses its answer (Orthanc stored it)


class FakeOrthanc:
    """The index: instance ID -> series; what was deleted."""

    def __init__(self, existing=()) -> None:
        self.instances = {instance: "series" for instance in existing}
        self.deleted: list = []
        self.events: list = []  # ("store", ID) and, from a journaling monitor, ("journal", ID)

    def save(self, dicom: bytes, client) -> dict:
        instance = orthanc_instance_id(dicom)
        self.events.append(("store", instance))
        already = instance in self.instances
        self.instances[instance] = "series"
        if dicom == FILES[LOST]:
            raise ConnectionResetError("connection reset by peer")
        return {"ID": instance, "Status": "AlreadyStored" if already else "Success", "ParentSeries": "series",
                "ParentStudy": "study", "ParentPatient": "patient"}

    def resource(self, level: str, resource_id: str):
        return {"ID": resource_id, "ParentSeries": "series"} if resource_id in self.instances else None

    def get_json(self, uri: str) -> dict:
        return {"/series/series": {"ID": "series", "ParentStudy": "study"},
                "/studies/study": {"ID": "study", "ParentPatient": "patient"}}[uri]

    def delete(self, level: str, resource_id: str) -> None:
        self.deleted.append(resource_id)
        self.instances.pop(resource_id, None)


def _pipeline(monkeypatch: pytest.MonkeyPatch, orthanc: FakeOrthanc, overwrite: bool):
    module = import_glue(monkeypatch, "orthanc_reshape.operations.pipeline")
    store = module.store
    monkeypatch.setattr(store, "loopback_client", lambda: object())
    monkeypatch.setattr(store, "overwrite_instances", lambda: overwrite)
    monkeypatch.setattr(store, "fetch_instance", lambda instance_id, client: instance_id.encode())
    monkeypatch.setattr(store, "save_instance", orthanc.save)
    monkeypatch.setattr(store, "resource", orthanc.resource)
    monkeypatch.setattr(store, "get_json", orthanc.get_json)
    monkeypatch.setattr(store, "instance_exists", lambda instance_id: instance_id in orthanc.instances)
    monkeypatch.setattr(store, "delete", orthanc.delete)
    monkeypatch.setattr(store, "log_error", lambda message: None)
    return module


def _run(module):
    sources = [module.SourceInstance(f"source-{i}", "old-series", "old-study", "old-patient") for i in range(5)]
    return module.run(sources, lambda data, source: FILES[int(source.id.split("-")[1])], permissive=False)


def test_without_overwrite_the_instance_is_named_and_left_in_place(monkeypatch) -> None:
    orthanc = FakeOrthanc()
    module = _pipeline(monkeypatch, orthanc, overwrite=False)
    with pytest.raises(module.PipelineFailure) as failure:
        _run(module)
    message = failure.value.details
    assert "connection to Orthanc broke" in message and IDS[LOST] in message and "left in place" in message
    assert IDS[LOST] not in orthanc.deleted, "it may have existed before the request: never deleted"
    assert set(orthanc.instances) == {IDS[LOST]}, "everything else this request stored is rolled back"


def test_with_overwrite_a_new_instance_is_recovered_as_this_requests(monkeypatch) -> None:
    orthanc = FakeOrthanc()
    module = _pipeline(monkeypatch, orthanc, overwrite=True)
    result = _run(module)
    assert [stored.id for stored in result.stored] == IDS
    assert all(stored.newly_stored for stored in result.stored)
    module.rollback(result.stored)
    assert IDS[LOST] in orthanc.deleted and not orthanc.instances


def test_with_overwrite_an_instance_that_existed_before_is_never_deleted(monkeypatch) -> None:
    orthanc = FakeOrthanc(existing=[IDS[LOST]])
    module = _pipeline(monkeypatch, orthanc, overwrite=True)
    with pytest.raises(module.PipelineFailure) as failure:
        _run(module)
    assert IDS[LOST] in failure.value.details
    assert IDS[LOST] not in orthanc.deleted and set(orthanc.instances) == {IDS[LOST]}


# -- the write-ahead journal -----------------------------------------------------------------------

JOURNALED_FILES = [to_bytes(ds) for ds in make_ct_series(9, rows=8, columns=8, seed=5)]
JOURNALED_IDS = [orthanc_instance_id(data) for data in JOURNALED_FILES]


class Journal:
    """A journaling monitor that writes into the fake Orthanc's events (and may fail at its n-th write)."""

    journals = True

    def __init__(self, orthanc: FakeOrthanc, fail_at: int = 0) -> None:
        self.orthanc, self.fail_at, self.writes = orthanc, fail_at, 0
        self.lock = threading.Lock()  # will_store is called from several workers at once

    def checkpoint(self) -> None:
        pass

    def will_store(self, instance_id) -> None:
        with self.lock:
            self.writes += 1
            if self.writes == self.fail_at:
                raise OSError("the database is gone")
            self.orthanc.events.append(("journal", instance_id))

    def stored(self, instance_id: str, newly_stored: bool) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass


def _run_journaled(module, monitor):
    sources = [module.SourceInstance(f"source-{i}", "old-series", "old-study", "old-patient")
               for i in range(len(JOURNALED_FILES))]
    return module.run(sources, lambda data, source: JOURNALED_FILES[int(source.id.split("-")[1])], False, monitor)


@pytest.mark.parametrize("overwrite", [False, True])
def test_every_instance_is_journaled_before_it_is_stored(monkeypatch, overwrite) -> None:
    orthanc = FakeOrthanc()
    module = _pipeline(monkeypatch, orthanc, overwrite=overwrite)
    result = _run_journaled(module, Journal(orthanc))
    assert [stored.id for stored in result.stored] == JOURNALED_IDS
    for position, (kind, instance) in enumerate(orthanc.events):
        if kind == "store":
            assert ("journal", instance) in orthanc.events[:position], f"{instance} stored before it was journaled"
    assert sorted(instance for kind, instance in orthanc.events if kind == "journal") == sorted(JOURNALED_IDS)


def test_a_failed_journal_write_stops_the_run_and_rolls_back(monkeypatch) -> None:
    orthanc = FakeOrthanc()
    module = _pipeline(monkeypatch, orthanc, overwrite=False)
    with pytest.raises(module.PipelineFailure) as failure:
        _run_journaled(module, Journal(orthanc, fail_at=3))
    assert "the database is gone" in failure.value.details
    assert not orthanc.instances, "what was stored before the failure is removed"
