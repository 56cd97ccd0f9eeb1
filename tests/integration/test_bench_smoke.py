"""`make bench BENCH_SMALL=1` runs and writes its results: the benchmark never rots (it times nothing here)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_smoke_mode_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, BENCH_SMALL="1", BENCH_RESULTS=str(out))
    run = subprocess.run([sys.executable, str(REPO / "bench" / "run.py")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())
    assert results["orthanc"]
    expected = {"instance_anonymize", "instance_modify", "instance_anonymize_cold", "instance_modify_cold",
                "study_modify", "study_anonymize", "study_anonymize_pseudonyms",
                "study_anonymize_pseudonyms_shifted_dates", "study_anonymize_job", "bulk_anonymize_3_studies",
                "split_half_series", "merge_study_back"}
    assert set(results["operations"]) == expected
    for name, numbers in results["operations"].items():
        assert {"builtin_ips", "plugin_ips", "ratio", "round_ratios", "rss_growth_mb", "builtin_cpu_ms",
                "plugin_cpu_ms"} <= set(numbers)
        assert numbers["plugin_ips"] and numbers["builtin_ips"], f"{name} did not run"
        assert ("store_ceiling_ratio" in numbers) == (not name.startswith("instance_")), name
    assert set(results["raw_store"]) == {"store_1_clients_ips", "store_4_clients_ips"}
    assert results["memory"]["instances"] == 20 and results["memory"]["rss_growth_mb"] is not None
    assert "| operation |" in run.stdout
