"""Fixtures starting a real Orthanc with the Reshape plugin (see tests/orthanc_server.py).

- `orthanc`          session-wide server, plugin at the default mount (its routes replace Orthanc's own URIs)
- `orthanc_mounted`  session-wide server with {"Reshape": {"Mount": "/reshape"}}: Orthanc's built-in routes
                     and the plugin's routes (under /reshape) side by side, for differential tests
- `clean_orthanc`, `clean_mounted`  the same servers, emptied (every patient deleted) before the test
- `make_orthanc`     factory for a private server (own storage, own config), killed after the test:
                     for restart / crash / configuration tests

When a test fails, the lines the servers it used wrote to their log during the test are attached to the report.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Mapping

import pytest

from orthanc_server import OrthancServer, stop_all  # tests/ is on sys.path (tests/conftest.py)

MOUNT = "/reshape"
LOG_LINES_ON_FAILURE = 80

_log_offsets = pytest.StashKey[dict[int, int]]()


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), name="reshape-default")
    try:
        yield server.start()
    finally:
        server.terminate()  # waited for in pytest_sessionfinish, so that both servers stop in parallel


@pytest.fixture(scope="session")
def orthanc_mounted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-mounted"), {"Reshape": {"Mount": MOUNT}},
                           name="reshape-mounted")
    try:
        yield server.start()
    finally:
        server.terminate()  # waited for in pytest_sessionfinish, so that both servers stop in parallel


@pytest.fixture
def clean_orthanc(orthanc: OrthancServer) -> OrthancServer:
    _ensure_running(orthanc)
    orthanc.delete_all()
    return orthanc


@pytest.fixture
def clean_mounted(orthanc_mounted: OrthancServer) -> OrthancServer:
    _ensure_running(orthanc_mounted)
    orthanc_mounted.delete_all()
    return orthanc_mounted


@pytest.fixture
def make_orthanc(tmp_path: Path) -> Iterator[Callable[..., OrthancServer]]:
    """`make_orthanc(config=None, start=True)` -> a new server in tmp_path; all are stopped after the test."""
    servers: list[OrthancServer] = []

    def make(config: Mapping[str, Any] | None = None, start: bool = True) -> OrthancServer:
        server = OrthancServer(tmp_path / f"orthanc-{len(servers)}", config, name=f"reshape-private-{len(servers)}")
        servers.append(server)
        return server.start() if start else server

    try:
        yield make
    finally:
        for server in servers:
            server.kill()  # throwaway storage: no need for the 3.5 s clean shutdown


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()


def _ensure_running(server: OrthancServer) -> None:
    """A previous test may have killed a shared server (crash tests): bring it back on the same storage."""
    if not server.running:
        server.start()


def _servers_of(item: pytest.Item) -> list[OrthancServer]:
    funcargs = getattr(item, "funcargs", {}) or {}
    found: dict[int, OrthancServer] = {}
    for value in funcargs.values():
        if isinstance(value, OrthancServer):
            found[id(value)] = value
    return list(found.values())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    servers = _servers_of(item)
    if not report.failed:
        if report.when == "setup":  # the test's own log starts here
            item.stash[_log_offsets] = {id(s): s.log_size() for s in servers}
        return
    offsets = item.stash.get(_log_offsets, {})
    for server in servers:
        tail = server.log_tail(LOG_LINES_ON_FAILURE, since=offsets.get(id(server), 0))
        report.sections.append((f"Orthanc log {server.name} ({server.log_path})", tail or "(nothing logged)"))
