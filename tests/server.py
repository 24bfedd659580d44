"""A real HTTP server on 127.0.0.1 for tests: each path answers with a scripted Reply."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunk_delay: float = 0.0  # seconds between body chunks: a trickling server
    reset: bool = False  # drop the connection with a TCP reset instead of answering


Route = Reply | Callable[[dict[str, str]], Reply]


class FeedServer:
    """Serves `routes` (path → Reply, or a function of the request headers returning one; a
    "HEAD /path" key answers that method only) for GET and HEAD, and records every request as
    (method, path, headers)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._httpd = LoopbackServer((host, 0), _handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self._httpd.server_port}{path}"

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for _, p, headers in self.requests if p == path]

    def methods(self, path: str) -> list[str]:
        """The methods of the requests for `path`, in order."""
        return [method for method, p, _ in self.requests if p == path]


class LoopbackServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer for the tests and benchmarks, on a loopback address: its request
    threads end with the process, a client that hangs up early (a body never read, a timeout)
    is no error, and binding asks no DNS server for the address's name. (HTTPServer's own
    binding calls socket.getfqdn: for 127.0.0.2, which /etc/hosts does not list, a reverse
    query that leaves the machine, and stalls where no DNS server answers.)"""

    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        pass


def _handler(server: FeedServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._answer("GET")

        def do_HEAD(self):
            self._answer("HEAD")

        def _answer(self, method: str):
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.requests.append((method, self.path, headers))
            route = server.routes.get(f"{method} {self.path}") or server.routes.get(
                self.path, Reply(404, b"not found")
            )
            reply = route(headers) if callable(route) else route
            if reply.reset:
                linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if isinstance(reply.body, bytes):
                self.send_header("Content-Length", str(len(reply.body)))
                chunks = [reply.body]
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
                chunks = reply.body
            self.end_headers()
            try:
                for chunk in chunks if method == "GET" else []:
                    self.wfile.write(chunk)
                    if reply.chunk_delay:
                        self.wfile.flush()
                        time.sleep(reply.chunk_delay)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def log_message(self, *args):
            pass

    return Handler
