"""Local HTTP peers for tests: a file server with redirects, and a callback receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Peer:
    """Answers GET and POST from `routes` (path -> Reply, or a list of Replies used in turn)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Reply | list[Reply]] = {}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = peer._reply(self.path, Received(self.path, dict(self.headers.items()), body))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = _answer
            do_POST = _answer

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self._server.server_address[1])
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _reply(self, path: str, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            route = self.routes.get(path.split("?", maxsplit=1)[0], Reply(404, b"not found"))
            if isinstance(route, list):
                return route.pop(0) if len(route) > 1 else route[0]
            return route

    def file(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        self.routes[path] = Reply(200, data, {"Content-Type": content_type})
        return self.base + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Reply(status, b"", {"Location": location})
        return self.base + path

    def json_replies(self, path: str, *answers: tuple[int, Any]) -> str:
        self.routes[path] = [
            Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json"}) for status, body in answers
        ]
        return self.base + path

    def start(self) -> Peer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_peer(host: str = "127.0.0.1") -> Iterator[Peer]:
    peer = Peer(host).start()
    try:
        yield peer
    finally:
        peer.stop()
