"""A scripted HTTP server on 127.0.0.1 for faults a real OTLP receiver does not produce."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    reason: str | None = None
    hold: threading.Event | None = None
    """Wait for this event before responding."""
    close: bool = False
    """Close the connection without responding, as a crashing server does."""


@dataclass(frozen=True)
class Received:
    """One request the server read."""

    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes


Script = Callable[["Received", int], Reply]
"""Returns the reply to a POST, given the request and the number of earlier POSTs to its path."""


def replies(*script: Reply) -> Script:
    """Return a script that gives the replies in order, for each path, and repeats the last one."""
    return lambda _request, earlier: script[min(earlier, len(script) - 1)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        server: FaultServer = self.server.fault_server  # type: ignore[attr-defined]  # set by FaultServer
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = server.record(Received(self.path, headers, body))
        if reply.hold is not None:
            reply.hold.wait(30)
        if reply.close:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return

        self.send_response(reply.status, reply.reason)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep request lines off stderr."""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore clients that went away, such as one that timed out while a reply was held."""


class FaultServer:
    """Responds to each POST as its script decides and records every request."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.arrived = threading.Event()
        """Set when the first request has been read."""
        self._script = script
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.fault_server = self  # type: ignore[attr-defined]  # read back by _Handler
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, such as http://127.0.0.1:43171."""
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def record(self, request: Received) -> Reply:
        """Record a request and return its scripted reply."""
        with self._lock:
            earlier = sum(1 for seen in self.requests if seen.path == request.path)
            self.requests.append(request)
        self.arrived.set()
        return self._script(request, earlier)

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def requests_to(self, path: str) -> list[Received]:
        """Return the requests to `path` in arrival order."""
        return [request for request in self.requests if request.path == path]


@contextmanager
def serving(
    script: Script, tls: ssl.SSLContext | None = None, holds: Sequence[threading.Event] = ()
) -> Iterator[FaultServer]:
    """Run a `FaultServer` for the block, releasing every held reply before it stops."""
    server = FaultServer(script, tls)
    server.start()
    try:
        yield server
    finally:
        for hold in holds:
            hold.set()
        server.stop()
