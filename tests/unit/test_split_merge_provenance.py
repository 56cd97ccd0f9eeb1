"""Split/merge post-processing: ModifiedFrom metadata and labels (labels need Orthanc >= 1.12.0, which the
integration tests do not have, so this runs the operation's code against a recording store)."""
from __future__ import annotations


import pytest

from support import import_glue


@pytest.fixture
def split_merge(monkeypatch: pytest.MonkeyPatch):
    """operations/split_merge.py imported with a stand-in `orthanc` module, its store calls recorded."""
    module = import_glue(monkeypatch, "orthanc_reshape.operations.split_merge")
    calls: list[tuple] = []
    monkeypatch.setattr(module.store, "set_metadata", lambda *args: calls.append(("metadata",) + args))
    monkeypatch.setattr(module.store, "add_label", lambda *args: calls.append(("label",) + args))
    module.calls = calls
    return module


def _stored(module, source_id: str, new_id: str):
    source = module.SourceInstance(source_id, "old-series", "old-study", "patient")
    return module.StoredInstance(source, new_id, "new-series", "new-study", "patient", True)


LABELS = {("Instance", "i1"): ["checked"], ("Series", "old-series"): ["ct"], ("Study", "old-study"): ["trial-A"]}


def test_split_records_provenance_on_instances_series_and_the_new_study(split_merge) -> None:
    stored = [_stored(split_merge, "i1", "n1"), _stored(split_merge, "i2", "n2")]
    split_merge._post_process(stored, LABELS, new_study=True)
    metadata = [c[1:] for c in split_merge.calls if c[0] == "metadata"]
    assert metadata == [("Instance", "n1", "ModifiedFrom", "i1"), ("Series", "new-series", "ModifiedFrom", "old-series"),
                        ("Study", "new-study", "ModifiedFrom", "old-study"), ("Instance", "n2", "ModifiedFrom", "i2")]
    labels = [c[1:] for c in split_merge.calls if c[0] == "label"]
    assert labels == [("Instance", "n1", "checked"), ("Series", "new-series", "ct"), ("Study", "new-study", "trial-A")]


def test_merge_labels_the_target_study_but_records_no_provenance_on_it(split_merge) -> None:
    split_merge._post_process([_stored(split_merge, "i1", "n1")], LABELS, new_study=False)
    assert ("metadata", "Study", "new-study", "ModifiedFrom", "old-study") not in split_merge.calls
    assert ("label", "Study", "new-study", "trial-A") in split_merge.calls
    assert ("metadata", "Instance", "n1", "ModifiedFrom", "i1") in split_merge.calls
