"""The real app served by uvicorn in a thread of the test process: real HTTP, shared services."""

from __future__ import annotations

import threading
import time

import uvicorn

from imgopen.api.app import create_app
from imgopen.services import Services


class ThreadedServer:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.base_url = settings.resolved_public_base_url
        config = uvicorn.Config(
            create_app(services), host=settings.host, port=settings.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    def start(self, timeout: float = 30.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server thread did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)
