"""The loopback HTTP client (loopback.py) against a scripted HTTP/1.1 server on 127.0.0.1: what it sends, how it
reads answers however they are cut into packets, keep-alive, and what a broken connection does to a GET and
to a POST."""
from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest

from orthanc_reshape.loopback import LoopbackClient


class ScriptedServer:
    """Answers each request with `answer(method, uri, body)` -> raw bytes to send, as pieces (sent apart, a
    short pause between them; a last piece None closes the connection), or None to close the connection
    without answering."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests: list = []   # (method, uri, headers, body)
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        data = b""
        with sock:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, uri, _ = lines[0].split(" ")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                length = int(headers.get("content-length", 0))
                while len(data) < length:
                    data += sock.recv(65536)
                body, data = data[:length], data[length:]
                self.requests.append((method, uri, headers, body))
                pieces = self.answer(method, uri, body)
                if pieces is None:
                    return
                for piece in pieces:
                    if piece is None:
                        return
                    sock.sendall(piece)
                    time.sleep(0.01)

    def close(self) -> None:
        self.listener.close()


def ok(body: bytes, extra: str = "") -> list:
    return [f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body]


@pytest.fixture
def serve():
    servers = []

    def start(answer) -> tuple:
        server = ScriptedServer(answer)
        servers.append(server)
        return server, LoopbackClient(server.port, "Bearer token", False)
    yield start
    for server in servers:
        server.close()


def test_a_post_sends_its_body_and_headers_and_reads_the_answer(serve) -> None:
    server, client = serve(lambda method, uri, body: ok(b'{"ID": "x"}'))
    dicom = bytes(range(256)) * 4096  # 1 MB: more than one send may take
    assert client.request("POST", "/instances", dicom) == (200, b'{"ID": "x"}')
    method, uri, headers, body = server.requests[0]
    assert (method, uri, body == dicom) == ("POST", "/instances", True)
    assert headers["authorization"] == "Bearer token" and headers["content-type"] == "application/dicom"


@pytest.mark.parametrize("cut", ["whole", "head-then-body", "in-the-head", "body-in-pieces"])
def test_an_answer_is_read_however_it_is_cut(serve, cut) -> None:
    body = b"D" * 300_000
    whole = ok(body)[0]
    split_at = {"whole": [], "head-then-body": [whole.index(b"\r\n\r\n") + 4], "in-the-head": [10],
                "body-in-pieces": [100, 70_000, 200_000]}[cut]
    bounds = [0] + split_at + [len(whole)]
    server, client = serve(lambda method, uri, _: [whole[a:b] for a, b in zip(bounds, bounds[1:])])
    assert client.request("GET", "/instances/x/file") == (200, body)


def test_empty_answers_and_error_statuses(serve) -> None:
    server, client = serve(lambda method, uri, body: ok(b"") if uri == "/empty" else
                           [b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"])
    assert client.request("GET", "/empty") == (200, b"")
    assert client.request("GET", "/missing") == (404, b"{}")


def test_the_connection_is_kept_alive_unless_the_server_closes_it(serve) -> None:
    server, client = serve(lambda method, uri, body: ok(b"1", "Connection: close\r\n") if uri == "/close" else ok(b"1"))
    for _ in range(3):
        client.request("GET", "/a")
    assert server.connections == 1
    client.request("GET", "/close")
    client.request("GET", "/a")
    assert server.connections == 2


def test_a_broken_get_is_retried_once_on_a_new_connection(serve) -> None:
    answered = []

    def answer(method, uri, body):
        answered.append(uri)
        return None if len(answered) == 1 else ok(b"file")
    server, client = serve(answer)
    assert client.request("GET", "/instances/x/file") == (200, b"file")
    assert server.connections == 2


def test_a_broken_post_is_not_sent_again(serve) -> None:
    server, client = serve(lambda method, uri, body: None)
    with pytest.raises(OSError):
        client.request("POST", "/instances", b"dicom")
    assert len(server.requests) == 1  # Orthanc may have stored it: the caller decides (pipeline._after_lost_answer)


CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfile\r\n0\r\n\r\n"]


def test_an_answer_cut_short_is_an_error(serve) -> None:
    server, client = serve(lambda method, uri, body: [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", None])
    with pytest.raises(ConnectionError):  # the server closes the connection after 5 of 10 bytes
        client.request("POST", "/short", b"x")


def test_an_answer_without_a_length_turns_the_client_to_http_client(serve) -> None:
    """A POST whose answer the lean connection cannot read is an error (it may have been carried out: the
    caller decides); a GET is retried, and every later request goes through http.client."""
    server, client = serve(lambda method, uri, body: CHUNKED)
    with pytest.raises(http.client.HTTPException):
        client.request("POST", "/instances", b"x")
    assert client.request("GET", "/instances/x/file") == (200, b"file")
    assert client.request("POST", "/instances", b"x") == (200, b"file")
    assert len(server.requests) == 3
