"""`make bench`: the plugin's routes against Orthanc's built-in ones, same data, same Orthanc, same run.

One Orthanc is started with the plugin mounted under /reshape, so that both the built-in route
(/studies/{id}/anonymize) and the plugin's (/reshape/studies/{id}/anonymize) answer. For each
operation the two are run interleaved, ROUNDS times, and the median instances/s is reported with
the ratio plugin/built-in, each round's ratio (the pair measured back to back) and the growth of Orthanc's peak RSS during the plugin's runs (the plugin
lives inside Orthanc's process). Results go to bench/results.json and a Markdown table is printed.

The single-instance downloads run twice: 100 calls on one instance (after the first call, the built-in answers
from Orthanc's cache of parsed files), and once on each of 100 instances stored just before and read by
nobody yet ("_cold": what a client downloading a study's files meets). The study anonymizations with pseudonyms
(and shifted dates) are the plugin's features beyond Orthanc: their built-in side is Orthanc's plain anonymization.

Environment: BENCH_SMALL=1 (a few small instances, one round: the smoke mode run by the test suite),
BENCH_INSTANCES (CT study size, default 300), BENCH_ROWS (default 512), BENCH_ROUNDS (default 5),
BENCH_CALLS (single-instance calls, default 100), BENCH_MEMORY_INSTANCES (size of the small-instance study
whose anonymization measures memory growth, default 10000; 0 skips it), BENCH_RESULTS (output file), BENCH_WORKDIR (where
Orthanc's storage goes, default the system's temp dir; /dev/shm measures with storage in RAM), BENCH_ONLY (the
operations to run, comma-separated names of the table's rows; default all).
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import pydicom  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from dicom_files import make_ct_series, make_study, to_bytes  # noqa: E402
from orthanc_server import OrthancServer  # noqa: E402

MOUNT = "/reshape"


def settings() -> Dict[str, int]:
    small = bool(os.environ.get("BENCH_SMALL"))
    return {
        "instances": int(os.environ.get("BENCH_INSTANCES", 6 if small else 300)),
        "rows": int(os.environ.get("BENCH_ROWS", 32 if small else 512)),
        "rounds": int(os.environ.get("BENCH_ROUNDS", 1 if small else 5)),  # this machine's runs vary
        "calls": int(os.environ.get("BENCH_CALLS", 3 if small else 100)),
        "mr_per_series": 2 if small else 40,
        "memory_instances": int(os.environ.get("BENCH_MEMORY_INSTANCES", 20 if small else 10000)),
    }


def selected(operations: Dict[str, "Operation"], only: str) -> Dict[str, "Operation"]:
    """The operations named in `only` (comma-separated, in the table's order), all of them when it is empty."""
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in operations]
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown operation(s) {', '.join(unknown)}; the operations are "
                         + ", ".join(operations))
    return {name: operation for name, operation in operations.items() if not names or name in names}


# -- measuring ------------------------------------------------------------------------------------

def rss_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) so the next measure covers one operation only."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(server: OrthancServer, action: Callable[[], None]) -> tuple:
    """(seconds, peak RSS growth in MB, CPU seconds of Orthanc's process) of one action."""
    before = rss_kb(server.pid, "VmRSS")
    reset_peak(server.pid)
    cpu = cpu_seconds(server.pid)
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    return elapsed, max(0, rss_kb(server.pid, "VmHWM") - before) / 1024, cpu_seconds(server.pid) - cpu


def check(response) -> dict:
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.body[:500]!r}")
    return response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}


def as_job(server: OrthancServer, prefix: str, uri: str, body: dict) -> dict:
    """Submit an asynchronous request and wait for its job (the built-in's under /jobs, the plugin's under
    {prefix}/jobs) to succeed."""
    job = check(server.post(f"{prefix}{uri}", dict(body, Asynchronous=True)))["ID"]
    while True:
        state = server.get_json(f"{prefix}/jobs/{job}")
        if state["State"] == "Success":
            return state
        if state["State"] == "Failure":
            raise RuntimeError(f"job {job} failed: {state}")
        time.sleep(0.02)


# -- data -----------------------------------------------------------------------------------------

def upload_parallel(server: OrthancServer, files: List[bytes], clients: int = 4) -> List[dict]:
    answers: List[dict] = [None] * len(files)  # type: ignore[list-item]

    def work(start: int) -> None:
        for index in range(start, len(files), clients):
            answers[index] = server.upload(files[index])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def make_data(config: Dict[str, int]) -> Dict[str, List[bytes]]:
    ct = make_study(series_count=2, instances_per_series=config["instances"] // 2, seed=1, patient_id="BENCH-CT",
                    rows=config["rows"], columns=config["rows"])
    mr = make_study(series_count=4, instances_per_series=config["mr_per_series"], seed=2, patient_id="BENCH-MR",
                    rows=config["rows"] // 2, columns=config["rows"] // 2)
    extra = [make_ct_series(max(2, config["instances"] // 10), seed=10 + i, patient_id=f"BENCH-{i}",
                            rows=config["rows"] // 2, columns=config["rows"] // 2) for i in range(2)]
    return {"ct": [to_bytes(d) for d in ct], "mr": [to_bytes(d) for d in mr],
            "extra": [to_bytes(d) for series in extra for d in series]}


# -- operations -----------------------------------------------------------------------------------

class Operation(NamedTuple):
    count: int                        # instances per run
    run: Callable[[str], object]      # runs the operation once, given the prefix of the side ("" or MOUNT)
    groups: tuple = ()                # the data groups whose files it stores: their raw store rate is its ceiling
    prepare: Optional[Callable[[], None]] = None  # before each timed run, not timed


class Bench:
    def __init__(self, server: OrthancServer, data: Dict[str, List[bytes]], config: Dict[str, int]) -> None:
        self.server = server
        self.config = config
        self.data = data
        answers = {name: upload_parallel(server, files) for name, files in data.items()}
        self.sources = {a["ID"] for group in answers.values() for a in group}
        self.group_ids = {name: [a["ID"] for a in group] for name, group in answers.items()}
        self.ct_study = answers["ct"][0]["ParentStudy"]
        self.mr_study = answers["mr"][0]["ParentStudy"]
        self.extra_studies = sorted({a["ParentStudy"] for a in answers["extra"]})
        self.instance = answers["ct"][0]["ID"]
        self.template = pydicom.dcmread(BytesIO(data["ct"][0]))
        self.fresh: List[str] = []
        self.ct_series = sorted({a["ParentSeries"] for a in answers["ct"]})
        self.mr_series = sorted({a["ParentSeries"] for a in answers["mr"]})
        self.counts = {name: len(files) for name, files in data.items()}
        # "merge a study back": the half of the MR study that the split moves, split off once by the built-in
        # route (kept between rounds), is merged back into the MR study
        split = check(server.post(f"/studies/{self.mr_study}/split", {"Series": self.mr_series[:2], "KeepSource": True}))
        self.split_study = split["TargetStudy"]
        split_instances = [i["ID"] for i in server.get_json(f"/studies/{self.split_study}/instances")]
        self.sources |= set(split_instances)
        self.counts["split"] = len(split_instances)

    def cleanup(self) -> None:
        """Delete every instance created by the operations (the sources stay)."""
        for instance in set(self.server.instances()) - self.sources:
            self.server.delete(f"/instances/{instance}")

    def store_fresh(self, count: int) -> None:
        """Store `count` copies of the single-instance file under new SOP Instance UIDs (so new Orthanc IDs) that
        nothing has read yet: neither Orthanc's caches nor the plugin have seen them. `cleanup` deletes them."""
        files = []
        for _ in range(count):
            self.template.SOPInstanceUID = generate_uid()
            files.append(to_bytes(self.template))
        self.fresh = [answer["ID"] for answer in upload_parallel(self.server, files)]

    def operations(self) -> Dict[str, Operation]:
        """name -> the operation (what it runs, on how many instances, its store ceiling's data groups)."""
        s, calls = self.server, self.config["calls"]
        single = lambda action, body: lambda prefix: [check(s.post(f"{prefix}/instances/{self.instance}/{action}", body))
                                                      for _ in range(calls)]
        cold = lambda action, body: lambda prefix: [check(s.post(f"{prefix}/instances/{instance}/{action}", body))
                                                    for instance in self.fresh]
        anonymize, modify = {"DicomVersion": "2021b"}, {"Replace": {"PatientName": "Bench"}}
        pseudonyms = dict(anonymize, Pseudonymize=True)
        # beyond Orthanc: the plugin's side runs the body given, the built-in's its plain anonymization
        beyond = lambda body: lambda p: check(s.post(f"{p}/studies/{self.ct_study}/anonymize",
                                                      body if p else anonymize))
        prepare_fresh = lambda: self.store_fresh(calls)
        return {
            "instance_anonymize": Operation(calls, single("anonymize", anonymize)),
            "instance_modify": Operation(calls, single("modify", modify)),
            "instance_anonymize_cold": Operation(calls, cold("anonymize", anonymize), prepare=prepare_fresh),
            "instance_modify_cold": Operation(calls, cold("modify", modify), prepare=prepare_fresh),
            "study_modify": Operation(self.counts["ct"], lambda p: check(s.post(
                f"{p}/studies/{self.ct_study}/modify", {"Replace": {"StudyDescription": "Bench"}})), ("ct",)),
            "study_anonymize": Operation(self.counts["ct"], lambda p: check(s.post(
                f"{p}/studies/{self.ct_study}/anonymize", anonymize)), ("ct",)),
            "study_anonymize_pseudonyms": Operation(self.counts["ct"], beyond(pseudonyms), ("ct",)),
            "study_anonymize_pseudonyms_shifted_dates": Operation(self.counts["ct"],
                                                                  beyond(dict(pseudonyms, ShiftDates=True)), ("ct",)),
            "study_anonymize_job": Operation(self.counts["ct"], lambda p: as_job(
                s, p, f"/studies/{self.ct_study}/anonymize", anonymize), ("ct",)),
            "bulk_anonymize_3_studies": Operation(self.counts["mr"] + self.counts["extra"], lambda p: check(s.post(
                f"{p}/tools/bulk-anonymize", {"Resources": [self.mr_study] + self.extra_studies,
                                              "DicomVersion": "2021b"})), ("mr", "extra")),
            "split_half_series": Operation(self.counts["mr"] // 2, lambda p: check(s.post(
                f"{p}/studies/{self.mr_study}/split", {"Series": self.mr_series[:2], "KeepSource": True})), ("mr",)),
            "merge_study_back": Operation(self.counts["split"], lambda p: check(s.post(
                f"{p}/studies/{self.mr_study}/merge", {"Resources": [self.split_study], "KeepSource": True})),
                ("mr",)),
        }

    def available(self, name: str, operation: Operation) -> bool:
        """False when the plugin does not (yet) serve this route: it is then reported as missing."""
        try:
            if operation.prepare:
                operation.prepare()
            operation.run(MOUNT)
        except RuntimeError as error:
            print(f"  {name}: plugin route unavailable ({str(error)[:120]})", flush=True)
            return False
        finally:
            self.cleanup()
        return True

    def raw_store(self, groups: Sequence[str], clients: int) -> float:
        """Instances/s of storing the files of these data groups again (POST /instances), after deleting them:
        the ceiling of any route that stores such files."""
        for name in groups:
            for instance in self.group_ids[name]:
                self.server.delete(f"/instances/{instance}")
        files = [f for name in groups for f in self.data[name]]
        start = time.perf_counter()
        upload_parallel(self.server, files, clients)
        return len(files) / (time.perf_counter() - start)


def run_bench() -> dict:
    config = settings()
    workdir = Path(tempfile.mkdtemp(prefix="reshape-bench-", dir=os.environ.get("BENCH_WORKDIR")))
    key = secrets.token_hex(16)  # the pseudonyms' key of this run
    orthanc_config = {"Reshape": {"Mount": MOUNT, "Pseudonymization": {"Projects": {"default": {"Key": key}}}},
                      "HttpThreadsCount": 50}
    server = OrthancServer(workdir, orthanc_config, name="reshape-bench").start()
    try:
        print(f"Generating data ({config})...", flush=True)
        bench = Bench(server, make_data(config), config)
        version = server.get_json("/system")["Version"]
        results: Dict[str, dict] = {}
        operations = selected(bench.operations(), os.environ.get("BENCH_ONLY", ""))
        for name, operation in operations.items():
            if not bench.available(name, operation):
                results[name] = {"builtin_ips": None, "plugin_ips": None, "ratio": None, "rss_growth_mb": None}
                continue
            rates: Dict[str, List[float]] = {"builtin": [], "plugin": []}
            cpu: Dict[str, List[float]] = {"builtin": [], "plugin": []}
            growth = []
            for _ in range(config["rounds"]):
                for side, prefix in (("builtin", ""), ("plugin", MOUNT)):
                    if operation.prepare:
                        operation.prepare()
                    seconds, grown, used = timed(server, lambda: operation.run(prefix))
                    rates[side].append(operation.count / seconds)
                    cpu[side].append(used / operation.count * 1000)
                    if side == "plugin":
                        growth.append(grown)
                    bench.cleanup()
            b, p = statistics.median(rates["builtin"]), statistics.median(rates["plugin"])
            results[name] = {"builtin_ips": round(b, 1), "plugin_ips": round(p, 1), "ratio": round(p / b, 2),
                             # each round's pair, measured back to back: how much one run's rounds differ
                             "round_ratios": [round(pr / br, 2) for br, pr in zip(rates["builtin"], rates["plugin"])],
                             "rss_growth_mb": round(max(growth), 1),
                             "builtin_cpu_ms": round(statistics.median(cpu["builtin"]), 2),
                             "plugin_cpu_ms": round(statistics.median(cpu["plugin"]), 2)}
            print(f"  {name}: built-in {b:.1f}/s, plugin {p:.1f}/s, ratio {p / b:.2f}", flush=True)
        # the physical ceiling: the same files stored again after deleting them (CT with 1 and 4 clients), and for
        # each stored-result operation, the raw store rate of its own files over the built-in's rate
        ceiling = {f"store_{clients}_clients_ips": round(bench.raw_store(("ct",), clients), 1) for clients in (1, 4)}
        rates_by_groups: Dict[tuple, float] = {("ct",): ceiling["store_4_clients_ips"]}
        for name, operation in operations.items():
            groups = operation.groups
            if groups and results[name]["builtin_ips"]:
                if groups not in rates_by_groups:
                    rates_by_groups[groups] = bench.raw_store(groups, 4)
                results[name]["store_ceiling_ratio"] = round(rates_by_groups[groups] / results[name]["builtin_ips"], 2)
        memory = measure_memory(server, config["memory_instances"]) if config["memory_instances"] else None
        return {"orthanc": version, "storage": str(workdir), "memory": memory, "date": datetime.date.today().isoformat(),
                "machine": f"{os.cpu_count()} cores, {platform.machine()}", "settings": config,
                "operations": results, "raw_store": ceiling}
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def measure_memory(server: OrthancServer, count: int) -> dict:
    """Peak RSS growth of Orthanc (the plugin lives in it) while the plugin anonymizes a study of `count`
    small instances: it must not grow with the study size."""
    print(f"Memory: anonymizing a study of {count} small instances...", flush=True)
    series = [to_bytes(d) for d in make_ct_series(count, seed=99, patient_id="BENCH-MEMORY", rows=8, columns=8)]
    study = upload_parallel(server, series)[0]["ParentStudy"]
    seconds, grown, _ = timed(server, lambda: check(server.post(f"{MOUNT}/studies/{study}/anonymize", {})))
    print(f"  {count} instances in {seconds:.0f} s, peak RSS growth {grown:.1f} MB", flush=True)
    return {"instances": count, "seconds": round(seconds, 1), "rss_growth_mb": round(grown, 1)}


def markdown(results: dict) -> str:
    lines = [f"Orthanc {results['orthanc']}, {results['machine']}, {results['date']}, storage in {results['storage']} "
             f"(settings: {results['settings']})", "",
             "| operation | built-in inst/s | plugin inst/s | plugin/built-in | each round | plugin peak RSS growth (MB) "
             "| Orthanc CPU ms/instance, built-in | Orthanc CPU ms/instance, plugin | store ceiling / built-in |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["operations"].items():
        if r["ratio"] is None:
            lines.append(f"| {name} | – | – | not available | – | – | – | – | – |")
        else:
            lines.append(f"| {name} | {r['builtin_ips']} | {r['plugin_ips']} | {r['ratio']} "
                         f"| {', '.join(str(x) for x in r['round_ratios'])} | {r['rss_growth_mb']} "
                         f"| {r['builtin_cpu_ms']} | {r['plugin_cpu_ms']} | {r.get('store_ceiling_ratio', '–')} |")
    lines.append("")
    if results.get("memory"):
        m = results["memory"]
        lines.append(f"Memory: anonymizing a study of {m['instances']} small instances grew Orthanc's peak RSS by "
                     f"{m['rss_growth_mb']} MB ({m['seconds']} s).")
    lines.append("Raw store rate of the same CT files (POST /instances): " + ", ".join(
        f"{k.split('_')[1]} client(s): {v} inst/s" for k, v in results["raw_store"].items()))
    return "\n".join(lines)


def main() -> int:
    results = run_bench()
    out = Path(os.environ.get("BENCH_RESULTS", HERE / "results.json"))
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
