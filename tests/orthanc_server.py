"""A real Orthanc with the Reshape plugin, started on free ports for the tests, and a small HTTP client.

`OrthancServer` owns one Orthanc process: its working directory (config, storage, log), its ports,
start / stop / restart / kill. It is also an `OrthancClient`, so a test talks to it directly:

    server = OrthancServer(tmp_path, {"Reshape": {"Mount": "/reshape"}})
    server.start()
    server.upload(dicom_bytes)
    status, headers, body = server.post("/studies/x/modify", {"Replace": {...}})
    server.stop()

Only the standard library is used (urllib), so this module also works from bench/ scripts.
Environment variables:
  RESHAPE_TEST_VERBOSE  set (non-empty) -> Orthanc runs with --verbose
  ORTHANC_BIN           the Orthanc executable (default: `Orthanc` on PATH, else /usr/sbin/Orthanc)
  ORTHANC_PYTHON_PLUGIN the orthanc-python shared library (default: found with `dpkg -L orthanc-python`)
"""
from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import Any, Mapping, NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGIN_SCRIPT = REPO_ROOT / "plugin" / "reshape.py"
DEFAULT_PYTHON_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPython.so"
PYTHON_PLUGIN_NAME = "libOrthancPython.so"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 120.0

Body = bytes | str | Mapping[str, Any] | list[Any] | None


# --------------------------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------------------------

class Response(NamedTuple):
    """An HTTP answer; unpacks as (status, headers, body). Headers are case-insensitive."""

    status: int
    headers: HTTPMessage
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class OrthancHTTPError(AssertionError):
    """A non-2xx answer where the caller expected success (raised by the *_json helpers and upload)."""

    def __init__(self, method: str, path: str, response: Response):
        self.method = method
        self.path = path
        self.response = response
        super().__init__(f"{method} {path} -> HTTP {response.status}: {response.text()[:2000]}")

    @property
    def status(self) -> int:
        return self.response.status


def _encode(body: Body, content_type: str | None) -> tuple[bytes | None, str | None]:
    if body is None:
        return None, content_type
    if isinstance(body, bytes):
        return body, content_type or "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), content_type or "text/plain; charset=utf-8"
    return json.dumps(body).encode("utf-8"), content_type or "application/json"


class OrthancClient:
    """Talks to Orthanc's REST API. Never raises on 4xx/5xx except in the helpers that return JSON."""

    # No proxy, whatever http_proxy says: the server is always on this machine.
    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, url: str, timeout: float = REQUEST_TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = timeout

    # -- raw requests (never raise on HTTP errors) -------------------------------------------

    def request(self, method: str, path: str, body: Body = None, *,
                content_type: str | None = None, headers: Mapping[str, str] | None = None,
                timeout: float | None = None) -> Response:
        data, ctype = _encode(body, content_type)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if ctype:
            req.add_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with self._opener.open(req, timeout=timeout or self.timeout) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.headers, error.read())

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Body = b"", **kwargs: Any) -> Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Body = b"", **kwargs: Any) -> Response:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    # -- JSON helpers (raise OrthancHTTPError unless 2xx) ------------------------------------

    def _expect_json(self, method: str, path: str, response: Response) -> Any:
        if not response.ok:
            raise OrthancHTTPError(method, path, response)
        return response.json() if response.body else None

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self._expect_json("GET", path, self.get(path, **kwargs))

    def post_json(self, path: str, body: Body = b"", **kwargs: Any) -> Any:
        return self._expect_json("POST", path, self.post(path, body, **kwargs))

    def put_json(self, path: str, body: Body = b"", **kwargs: Any) -> Any:
        return self._expect_json("PUT", path, self.put(path, body, **kwargs))

    def delete_json(self, path: str, **kwargs: Any) -> Any:
        return self._expect_json("DELETE", path, self.delete(path, **kwargs))

    # -- Orthanc helpers ----------------------------------------------------------------------

    def upload(self, dicom: bytes) -> dict[str, Any]:
        """POST /instances; returns Orthanc's answer ({"ID", "ParentStudy", "Status", ...})."""
        return self.post_json("/instances", dicom, content_type="application/dicom")

    def upload_many(self, files: list[bytes]) -> list[dict[str, Any]]:
        return [self.upload(f) for f in files]

    def patients(self) -> list[str]:
        return self.get_json("/patients")

    def studies(self) -> list[str]:
        return self.get_json("/studies")

    def series(self) -> list[str]:
        return self.get_json("/series")

    def instances(self) -> list[str]:
        return self.get_json("/instances")

    def instance_file(self, instance_id: str) -> bytes:
        response = self.get(f"/instances/{instance_id}/file")
        if not response.ok:
            raise OrthancHTTPError("GET", f"/instances/{instance_id}/file", response)
        return response.body

    def tags(self, instance_id: str, simplify: bool = True) -> dict[str, Any]:
        return self.get_json(f"/instances/{instance_id}/{'simplified-tags' if simplify else 'tags'}")

    def statistics(self) -> dict[str, Any]:
        return self.get_json("/statistics")

    def delete_all(self) -> None:
        """Empty the store (DELETE every patient)."""
        for patient in self.patients():
            response = self.delete(f"/patients/{patient}")
            if not response.ok and response.status != 404:
                raise OrthancHTTPError("DELETE", f"/patients/{patient}", response)

    def wait_job(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll /jobs/{id} until it is Success or Failure; returns the job description."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_json(f"/jobs/{job_id}")
            if job["State"] in ("Success", "Failure"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['State']} after {timeout} s")
            time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------

class OrthancStartError(RuntimeError):
    pass


def free_port() -> int:
    """A TCP port nobody listens on right now (bound on 127.0.0.1, port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_orthanc() -> str:
    found = os.environ.get("ORTHANC_BIN") or shutil.which("Orthanc")
    for candidate in (found, "/usr/sbin/Orthanc", "/usr/bin/Orthanc"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise OrthancStartError("Orthanc executable not found (install the `orthanc` package or set ORTHANC_BIN)")


def find_python_plugin() -> str:
    """The orthanc-python library: `dpkg -L orthanc-python`, the file named exactly libOrthancPython.so."""
    override = os.environ.get("ORTHANC_PYTHON_PLUGIN")
    if override:
        return override
    try:
        listing = subprocess.run(["dpkg", "-L", "orthanc-python"], capture_output=True, text=True,
                                 check=False, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        listing = []
    for line in listing:
        if os.path.basename(line) == PYTHON_PLUGIN_NAME and os.path.isfile(line):
            return line
    return DEFAULT_PYTHON_PLUGIN


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: nested objects are merged, everything else in `extra` wins."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed pytest leaves no Orthanc behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_running: set["OrthancServer"] = set()
_running_lock = threading.Lock()


@atexit.register
def stop_all() -> None:
    """Stop every server this process started and has not stopped yet (in parallel: SIGTERM to all, then wait)."""
    with _running_lock:
        servers = list(_running)
    for server in servers:
        server.terminate()
    for server in servers:
        server.stop()


class OrthancServer(OrthancClient):
    """One Orthanc process with the Reshape plugin, in its own directory, on free ports.

    `workdir` holds orthanc.json, the storage (db/) and the log (orthanc.log); by default a new
    temporary directory. `config` is deep-merged over the base configuration.
    """

    def __init__(self, workdir: str | os.PathLike[str] | None = None,
                 config: Mapping[str, Any] | None = None, *, name: str = "reshape-test",
                 http_port: int | None = None, dicom_port: int | None = None,
                 timeout: float = REQUEST_TIMEOUT):
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="orthanc-reshape-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.extra_config: dict[str, Any] = dict(config or {})
        self._fixed_ports = http_port is not None or dicom_port is not None
        self.http_port = http_port or free_port()
        self.dicom_port = dicom_port or free_port()
        self.config_path = self.workdir / "orthanc.json"
        self.log_path = self.workdir / "orthanc.log"
        self.storage_path = self.workdir / "db"
        self.process: subprocess.Popen[bytes] | None = None
        self._terminating = False
        super().__init__(f"http://127.0.0.1:{self.http_port}", timeout)

    def __repr__(self) -> str:
        return f"OrthancServer({self.url}, workdir={str(self.workdir)!r}, running={self.running})"

    # -- configuration -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        base: dict[str, Any] = {
            "Name": self.name,
            "StorageDirectory": str(self.storage_path),
            "IndexDirectory": str(self.storage_path),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [find_python_plugin()],
            "PythonScript": str(PLUGIN_SCRIPT),
        }
        return _merge(base, self.extra_config)

    def _write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.config(), indent=2))

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = START_TIMEOUT) -> "OrthancServer":
        """Start Orthanc and wait until GET /system answers. Retries on a port taken meanwhile."""
        if self.running:
            return self
        for attempt in range(3):
            try:
                self._start_once(timeout)
                return self
            except OrthancStartError as error:
                if self._fixed_ports or attempt == 2 or "already in use" not in str(error):
                    raise
                self.http_port, self.dicom_port = free_port(), free_port()
                self.url = f"http://127.0.0.1:{self.http_port}"
        return self

    def _start_once(self, timeout: float) -> None:
        self._write_config()
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = [find_orthanc()]
        if os.environ.get("RESHAPE_TEST_VERBOSE"):
            args.append("--verbose")
        args.append(str(self.config_path))
        with open(self.log_path, "ab") as log:
            log.write(f"===== start {' '.join(args)} (http {self.http_port}, dicom {self.dicom_port})\n"
                      .encode())
            log.flush()
            # A child that dies with its parent only makes sense when the parent is the main thread
            # (PDEATHSIG fires when the *thread* that forked exits).
            main = threading.current_thread() is threading.main_thread()
            self._terminating = False
            self.process = subprocess.Popen(
                args, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent if main else None)
        with _running_lock:
            _running.add(self)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        probe = OrthancClient(self.url, timeout=2.0)
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                self._forget()
                raise OrthancStartError(
                    f"Orthanc exited with code {code} while starting; log {self.log_path}:\n"
                    + self.log_tail(40, since=self._log_start))
            try:
                if probe.get("/system").status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                tail = self.log_tail(40, since=self._log_start)
                self.kill()
                raise OrthancStartError(f"Orthanc did not answer /system within {timeout} s; "
                                        f"log {self.log_path}:\n{tail}")
            time.sleep(0.05)

    def terminate(self) -> None:
        """Send SIGTERM and return at once; `stop()` (or `stop_all()`) waits. Orthanc needs ~3.5 s to stop.

        Only one SIGTERM is ever sent: Orthanc restores the default handler once it begins to stop, so a
        second SIGTERM kills it on the spot, in the middle of its clean shutdown.
        """
        if self.process is not None and self.process.poll() is None and not self._terminating:
            self._terminating = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._forget()

    def kill(self) -> None:
        """SIGKILL, no clean shutdown (for crash tests)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._forget()

    def restart(self, timeout: float = START_TIMEOUT) -> "OrthancServer":
        """Stop (cleanly, if still running) and start again: same config, ports and storage."""
        self.stop()
        fixed, self._fixed_ports = self._fixed_ports, True
        try:
            return self.start(timeout)
        finally:
            self._fixed_ports = fixed

    def _forget(self) -> None:
        with _running_lock:
            _running.discard(self)

    def __enter__(self) -> "OrthancServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- log -----------------------------------------------------------------------------------

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    def log_tail(self, n: int = 50, since: int = 0) -> str:
        """The last `n` lines of the log (only what was written after byte offset `since`)."""
        return "\n".join(self.log_text(since).splitlines()[-n:])

    def wait_for_log(self, text: str, timeout: float = 10.0, since: int = 0) -> str:
        """Wait until `text` appears in the log (after byte offset `since`); returns the matching line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text(since).splitlines():
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not in the log of {self.name} after {timeout} s:\n"
                                   + self.log_tail(20, since=since))
            time.sleep(0.05)
