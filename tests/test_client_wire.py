"""The Python client's HTTP connections against a real (standard library) HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from imgopen.client_wire import HttpStatusError, Wire


class _Echo(BaseHTTPRequestHandler):
    """Answers each POST with its body; forgets each connection after one answer without saying
    so (as a server whose keep-alive timeout has passed), except on /keep."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Echo.connections.append(id(self.connection))
        status = 404 if self.path.endswith("/missing") else 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if not self.path.endswith("/keep"):
            self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/base"
    httpd.shutdown()
    httpd.server_close()


def test_connections_are_kept_and_a_closed_one_is_replaced(server: str) -> None:
    wire = Wire(server, {"X-Key": "k"}, timeout=10)
    _Echo.connections.clear()
    assert wire.post("/keep", b"one", {}) == b"one"
    assert wire.post("/keep", b"two", {}) == b"two"
    assert _Echo.connections[0] == _Echo.connections[1]  # the same connection, kept alive
    # The server drops the connection after this answer; the next request finds it closed and is
    # sent again on a new one, without the caller seeing it.
    assert wire.post("/drop", b"three", {}) == b"three"
    assert wire.post("/drop", b"four", {}) == b"four"
    assert wire.post("/keep", b"five", {}) == b"five"
    wire.close()


def test_a_non_2xx_answer_is_an_error_with_its_status(server: str) -> None:
    wire = Wire(server, {}, timeout=10)
    with pytest.raises(HttpStatusError) as error:
        wire.post("/missing", b"x", {})
    assert error.value.status == 404 and error.value.body == b"x"
    assert wire.post("/keep", b"after", {}) == b"after"  # the wire is still usable
    with pytest.raises(ValueError):
        Wire("ftp://example.com", {}, timeout=1)
