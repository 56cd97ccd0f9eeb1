"""Permissive split/merge when instances fail (split_merge._without_failed), against a recording store: which
new instances are stored again, and what is never deleted (a source, an instance that existed before)."""
from __future__ import annotations

import pytest

from support import import_glue

SERIES_UID, STUDY_UID = "1.1", "1"
UIDS = {"a": "1.1.1", "b": "1.1.2", "r": "1.1.3"}  # two images and an RT-STRUCT that references both


@pytest.fixture
def split_merge(monkeypatch: pytest.MonkeyPatch):
    module = import_glue(monkeypatch, "orthanc_reshape.operations.split_merge")
    module.calls = []
    module.runs = []
    module.answers = []  # what each second pass returns, in turn
    monkeypatch.setattr(module.store, "delete", lambda level, rid: module.calls.append(("delete", level, rid)))
    monkeypatch.setattr(module.store, "log_error", lambda message: module.calls.append(("log", message)))

    def run(sources, transform, permissive):
        module.runs.append(([s.id for s in sources], transform.relocation, permissive))
        return module.answers.pop(0)
    monkeypatch.setattr(module.pipeline, "run", run)
    return module


def _plan(module):
    index = module.StudyIndex("study", STUDY_UID, "patient", {"series": SERIES_UID}, {"series": list(UIDS)},
                              {i: ("series", uid) for i, uid in UIDS.items()})
    plan = module.MovePlan(module.UidScheme("2.25", "9.9"), {i: index.member(i) for i in UIDS}, (index,), (), ())
    return plan, [index.source(i) for i in UIDS]


def _stored(module, source, newly: bool = True):
    return module.StoredInstance(source, "new-" + source.id, "new-series", "new-study", "patient", newly)


def _transform_with(relocation):
    def transform(data, source):
        return b""
    transform.relocation = relocation
    return transform


def _run(module, stored, failed, mentioned):
    plan, sources = _plan(module)
    by_id = {s.id: s for s in sources}
    first = module.PipelineResult([_stored(module, by_id[i], newly) for i, newly in stored],
                                  [{"ID": i, "Error": "corrupted"} for i in failed])
    return module._without_failed(sources, first, plan, plan.relocation(), mentioned, _transform_with), by_id


def test_an_instance_referencing_a_failed_one_is_stored_again_without_it(split_merge) -> None:
    plan, sources = _plan(split_merge)
    split_merge.answers.append(split_merge.PipelineResult([_stored(split_merge, sources[2])], []))
    result, _ = _run(split_merge, [("a", True), ("r", True)], ["b"], {"a": set(), "r": {UIDS["a"], UIDS["b"]}})
    assert split_merge.calls == [("delete", "Instance", "new-r")]  # never a source, never the image that moved
    (ids, relocation, permissive), = split_merge.runs
    assert ids == ["r"] and permissive
    assert UIDS["b"] not in relocation.moved.instances and UIDS["a"] in relocation.moved.instances
    assert SERIES_UID not in relocation.moved.whole  # the series no longer moves whole
    assert [s.id for s in result.stored] == ["new-a", "new-r"] and [f["ID"] for f in result.failures] == ["b"]


def test_an_instance_that_existed_before_the_request_is_never_deleted(split_merge) -> None:
    result, _ = _run(split_merge, [("a", True), ("r", False)], ["b"], {"a": set(), "r": {UIDS["b"]}})
    assert [c[0] for c in split_merge.calls] == ["log"] and split_merge.runs == []
    assert [s.id for s in result.stored] == ["new-a", "new-r"]


def test_an_instance_mentioning_no_failed_one_is_left_alone(split_merge) -> None:
    result, _ = _run(split_merge, [("a", True), ("r", True)], ["b"], {"a": set(), "r": {UIDS["a"]}})
    # r references only a (which moved), but b's failure breaks the whole series: r mentions no series UID here
    assert split_merge.calls == [] and split_merge.runs == []
    assert [s.id for s in result.stored] == ["new-a", "new-r"]


def test_a_second_pass_that_fails_makes_another_until_none_fails(split_merge) -> None:
    """r fails on its second pass, so a, which references r, is stored again in its turn; then nothing more."""
    _, sources = _plan(split_merge)
    split_merge.answers += [split_merge.PipelineResult([], [{"ID": "r", "Error": "refused"}]),
                            split_merge.PipelineResult([_stored(split_merge, sources[0])], [])]
    result, _ = _run(split_merge, [("a", True), ("r", True)], ["b"], {"a": {UIDS["r"]}, "r": {UIDS["b"]}})
    assert split_merge.calls == [("delete", "Instance", "new-r"), ("delete", "Instance", "new-a")]
    assert [ids for ids, _, _ in split_merge.runs] == [["r"], ["a"]]
    assert UIDS["r"] not in split_merge.runs[1][1].moved.instances
    assert [s.id for s in result.stored] == ["new-a"] and [f["ID"] for f in result.failures] == ["b", "r"]
