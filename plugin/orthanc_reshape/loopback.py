"""Orthanc's own HTTP port on loopback, as a transport for reading and storing instances.

orthanc-python 4.0 holds the GIL during every SDK call, so SDK reads and stores cannot overlap with the
Python work of other instances; a socket call releases the GIL while Orthanc works, and Orthanc's HTTP
server stores concurrently. The pipeline's workers therefore read and store through this client (one
keep-alive connection per thread), authenticated with the token Orthanc gives its plugins.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import struct
import threading
import time
from typing import Dict, Optional, Tuple

TIMEOUT = 600.0
# Orthanc closes an idle keep-alive connection after about a second: reconnect before that can happen,
# so that a request is never sent on a connection the server is closing (a POST is never sent twice).
MAX_IDLE = 0.5
_HEAD_CHUNK = 65536


class _LeanConnection:
    """One keep-alive HTTP/1.1 connection to Orthanc on 127.0.0.1, making as few socket calls per request as it
    can: one to send, usually two to receive.

    Each socket call gives the GIL away, and while other workers compute, getting it back can take a switch
    interval or more: with 3 computing threads, a 128 KB GET took 6 ms through http.client (which reads a line,
    then buffers), 3 ms this way (0.3 ms either way when idle). The socket is blocking, so that sending a whole
    file or receiving a whole answer (MSG_WAITALL) is one system call; its timeouts are the kernel's."""

    def __init__(self, port: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.settimeout(None)
        timeout = struct.pack("ll", int(TIMEOUT), 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.reusable = True

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, uri: str, body: Optional[bytes], headers: Dict[str, str]) -> Tuple[int, bytes]:
        lines = [f"{method} {uri} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body) if body else 0}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._send(head, body or b"")
        return self._receive()

    def _send(self, head: bytes, body: bytes) -> None:
        sent = self.sock.sendmsg([head, body]) if body else self.sock.send(head)
        if sent < len(head):  # interrupted: send the rest
            self.sock.sendall(head[sent:])
            sent = len(head)
        if sent < len(head) + len(body):
            self.sock.sendall(memoryview(body)[sent - len(head):])

    def _receive(self) -> Tuple[int, bytes]:
        data = self.sock.recv(_HEAD_CHUNK)
        while b"\r\n\r\n" not in data:
            more = self.sock.recv(_HEAD_CHUNK) if data and len(data) < 16 * _HEAD_CHUNK else b""
            if not more:
                raise ConnectionError("Orthanc closed the connection" if not data else "no end to the answer's head")
            data += more
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *field_lines = head.decode("latin-1").split("\r\n")
        fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in field_lines)}
        try:
            status, length = int(status_line.split(" ", 2)[1]), int(fields["content-length"])
        except (IndexError, KeyError, ValueError):
            raise http.client.HTTPException(f"Unexpected answer from Orthanc: {head[:200]!r}") from None
        parts, got = ([rest] if rest else []), len(rest)
        while got < length:
            more = self.sock.recv(length - got, socket.MSG_WAITALL)
            if not more:
                raise ConnectionError("Orthanc closed the connection in the middle of an answer")
            parts.append(more)
            got += len(more)
        if got > length:
            raise http.client.HTTPException("Orthanc sent more than the length it announced")
        self.reusable = fields.get("connection", "").lower() != "close"
        return status, parts[0] if len(parts) == 1 else b"".join(parts)


class _HttpClientConnection:
    """A connection through Python's http.client, with the interface of _LeanConnection: for Orthanc's HTTPS
    port (SslEnabled), and for an Orthanc whose answers the lean connection does not read (no Content-Length)."""

    def __init__(self, port: int, use_ssl: bool) -> None:
        if use_ssl:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT, context=context)
        else:
            self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.reusable = True

    def close(self) -> None:
        self.connection.close()

    def request(self, method: str, uri: str, body: Optional[bytes], headers: Dict[str, str]) -> Tuple[int, bytes]:
        self.connection.request(method, uri, body=body, headers=headers)
        answer = self.connection.getresponse()
        return answer.status, answer.read()


class LoopbackClient:
    """A small HTTP client to this Orthanc (127.0.0.1), thread-safe (a connection per thread)."""

    def __init__(self, port: int, token: Optional[str], use_ssl: bool) -> None:
        self.port = port
        self.headers: Dict[str, str] = {"Authorization": token} if token else {}
        self.use_ssl = use_ssl
        self.lean = not use_ssl  # False once an answer was not one the lean connection reads
        self._local = threading.local()

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None and (time.monotonic() - self._local.last_used > MAX_IDLE or not connection.reusable):
            connection.close()
            connection = None
        if connection is None:
            connection = _LeanConnection(self.port) if self.lean else _HttpClientConnection(self.port, self.use_ssl)
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
            connection = None
            try:
                connection = self._connection()
                status, data = connection.request(method, uri, body, headers)
                self._local.last_used = time.monotonic()
                return status, data
            except (http.client.HTTPException, OSError) as exc:
                if connection is not None:
                    connection.close()
                self._local.connection = None
                if isinstance(exc, http.client.HTTPException) and isinstance(connection, _LeanConnection):
                    self.lean = False  # from now on http.client, which reads any HTTP/1.1 answer
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")
