"""`BENCH_ONLY` picks the benchmark's operations by name (the benchmark itself runs in the smoke test)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("bench_run", Path(__file__).resolve().parents[2] / "bench" / "run.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

OPERATIONS = {name: bench.Operation(1, lambda prefix: None) for name in ("study_modify", "split_half_series",
                                                                        "merge_study_back")}


def test_empty_selection_keeps_every_operation() -> None:
    assert list(bench.selected(OPERATIONS, "")) == list(OPERATIONS)


def test_selection_keeps_the_table_order_and_ignores_spaces() -> None:
    assert list(bench.selected(OPERATIONS, " merge_study_back, study_modify ,")) == ["study_modify",
                                                                                     "merge_study_back"]


def test_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(SystemExit, match="unknown operation.*split_half.*the operations are study_modify, "
                                         "split_half_series, merge_study_back"):
        bench.selected(OPERATIONS, "study_modify,split_half")
