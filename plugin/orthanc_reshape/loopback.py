"""Orthanc's own HTTP port on loopback, as a transport for reading and storing instances.

orthanc-python 4.0 holds the GIL during every SDK call, so SDK reads and stores cannot overlap with the
Python work of other instances; a socket call releases the GIL while Orthanc works, and Orthanc's HTTP
server stores concurrently. The pipeline's workers therefore read and store through this client (one
keep-alive connection per thread), authenticated with the token Orthanc gives its plugins.
"""
from __future__ import annotations

import http.client
import ssl
import threading
import time
from typing import Dict, Optional, Tuple

TIMEOUT = 600.0
# Orthanc closes an idle keep-alive connection after about a second: reconnect before that can happen,
# so that a request is never sent on a connection the server is closing (a POST is never sent twice).
MAX_IDLE = 0.5


class LoopbackClient:
    """A small HTTP client to this Orthanc (127.0.0.1), thread-safe (a connection per thread)."""

    def __init__(self, port: int, token: Optional[str], use_ssl: bool) -> None:
        self.port = port
        self.headers: Dict[str, str] = {"Authorization": token} if token else {}
        self.use_ssl = use_ssl
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and time.monotonic() - self._local.last_used > MAX_IDLE:
            connection.close()
            connection = None
        if connection is None:
            if self.use_ssl:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                connection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=TIMEOUT, context=context)
            else:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            self._local.connection = connection
        return connection

    def request(self, method: str, uri: str, body: Optional[bytes] = None) -> Tuple[int, bytes]:
        """(status, body) of one request. A failed GET is retried once on a new connection; a failed
        POST is not (it may have been carried out), its error goes to the caller."""
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/dicom"
        attempts = 2 if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            connection = self._connection()
            try:
                connection.request(method, uri, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self._local.last_used = time.monotonic()
                return answer.status, data
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")
