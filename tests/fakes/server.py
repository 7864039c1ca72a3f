"""A small real HTTP server on 127.0.0.1 for faking provider APIs, with fault injection.

Each provider's fake subclasses ``FakeServer``, registers its documented routes
with ``route()``, and keeps jobs in ``self.jobs``. Tests queue faults for a
route (``inject("submit", Fault.rate_limited("0"))``); each fault is consumed by
the next matching request. Most act instead of the handler (nothing is created);
``stall_after``, ``drop_after`` and ``status_after`` act after it, so a submit has
made its job when the client sees the fault; ``hold`` keeps the request in flight.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from vmevalkit.video import write_video


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def multipart(self) -> dict[str, tuple[str | None, str, bytes]]:
        """multipart/form-data fields: name -> (filename, content type, bytes)."""
        raw = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode() + self.body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            fields[str(name)] = (part.get_filename(), part.get_content_type(), payload)
        return fields


@dataclass
class Response:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True)
class Fault:
    kind: str  # "status", "drop", "truncate", "delay", "hold", "stall_after", "drop_after", "status_after"
    status: int = 500
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    seconds: float = 0.0
    event: threading.Event | None = None

    @classmethod
    def http(cls, status: int, body: Any = None, **headers: str) -> Fault:
        return cls(
            "status", status=status, body=body, headers=tuple((k.replace("_", "-"), v) for k, v in headers.items())
        )

    @classmethod
    def rate_limited(cls, retry_after: str = "0") -> Fault:
        return cls.http(429, {"error": "rate limited"}, Retry_After=retry_after)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        """Answer normally but send only half of the body promised by Content-Length."""
        return cls("truncate")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def hold(cls, event: threading.Event) -> Fault:
        """Keep the request in flight (received, unanswered, nothing created) until ``event`` is set,
        then handle it normally. Held requests are listed in ``FakeServer.held``."""
        return cls("hold", event=event)

    @classmethod
    def stall_after(cls, seconds: float) -> Fault:
        """Handle the request (a submit creates its job), then answer only ``seconds`` later:
        past the client's read timeout."""
        return cls("stall_after", seconds=seconds)

    @classmethod
    def drop_after(cls) -> Fault:
        """Handle the request (a submit creates its job), then close the connection unanswered."""
        return cls("drop_after")

    @classmethod
    def status_after(cls, status: int, body: Any = None) -> Fault:
        """Handle the request (a submit creates its job), then answer ``status`` instead, like a
        gateway that gives up on the provider (502, 504) after passing the request on."""
        return cls("status_after", status=status, body=body)


@dataclass
class FakeJob:
    id: str
    request: Any
    polls_to_finish: int = 2  # polls answered "running" before the outcome
    outcome: str = "succeeded"  # or "failed"
    failure: str = "the input was rejected by moderation"
    polls: int = 0
    cancelled: bool = False
    hold: threading.Event | None = None  # while set-able and unset, the job never finishes
    latency_s: float | None = None  # if set, the job finishes this long after submit, however often polled
    created: float = field(default_factory=time.monotonic)
    created_at: float = field(default_factory=time.time)  # wall clock, for the API's creation timestamps

    def advance(self) -> str:
        """Count a poll and return 'queued', 'running', 'succeeded', 'failed' or 'cancelled'."""
        self.polls += 1
        if self.cancelled:
            return "cancelled"
        if self.hold is not None and not self.hold.is_set():
            return "running"
        if self.latency_s is not None:
            return self.outcome if time.monotonic() - self.created >= self.latency_s else "running"
        if self.polls == 1 and self.polls_to_finish > 1:
            return "queued"
        if self.polls < self.polls_to_finish:
            return "running"
        return self.outcome


def iso(epoch_s: float) -> str:
    """An ISO 8601 UTC timestamp with milliseconds and a Z, as most providers write them."""
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_video_bytes(tmp: Path, frames: int = 8) -> bytes:
    path = tmp / "fake-result.mp4"
    write_video([np.full((64, 64, 3), 40 * (i % 6), np.uint8) for i in range(frames)], path, fps=8)
    return path.read_bytes()


Handler = Callable[[Request, re.Match[str]], Response]


class FakeServer:
    """Routes, fault queues and a request log; subclasses add the provider's endpoints."""

    def __init__(self, video_bytes: bytes) -> None:
        self.video_bytes = video_bytes
        self.routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.log: list[tuple[str, str, Request]] = []  # (route name, status-or-fault, request)
        self.held: list[Request] = []  # requests a ``Fault.hold`` kept in flight, in arrival order
        # When set: the secrets this fake echoes back, appended to every text of every JSON answer
        # (status words and messages included; ids and URLs are left working): see ``echoed``.
        self.echo_secrets: Callable[[Request], list[str]] | None = None
        self.jobs: dict[str, FakeJob] = {}
        self.job_defaults: dict[str, Any] = {}
        self.received: list[tuple[str, Request]] = []  # (route, request) as each arrives
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None

    # -- configuration ------------------------------------------------------------

    def route(self, name: str, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((name, method, re.compile(f"^{pattern}$"), handler))

    def inject(self, name: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(name, []).extend(faults)

    def new_job(self, request: Any, prefix: str = "job") -> FakeJob:
        with self.lock:
            job = FakeJob(id=f"{prefix}-{next(self._ids):04d}", request=request, **self.job_defaults)
            self.jobs[job.id] = job
        return job

    def calls(self, name: str) -> list[Request]:
        """Every request that reached route ``name``, answered or not, in arrival order.

        Recorded on arrival, so a client that has its answer always finds its request here
        (``log``, which holds the answers, is appended once an answer is sent)."""
        with self.lock:
            return [req for route, req in self.received if route == name]

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- serving ------------------------------------------------------------------

    def start(self) -> FakeServer:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real API servers set it. Without it, an answer on a kept-alive connection
            # (headers, then body: two writes) waits for the client's delayed ACK: ~40 ms per request.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                parts = urlsplit(self.path)
                req = Request(
                    method=self.command,
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with contextlib.suppress(OSError):  # a client that is gone (killed, timed out) is not an error
                    server.dispatch(self, req)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def echoed(self, value: Any, secrets: list[str], key: str = "") -> Any:
        """``value`` with the secrets appended to each of its texts, except ids, names and URLs,
        which the client needs intact to go on (and never writes down)."""
        if isinstance(value, dict):
            return {k: self.echoed(v, secrets, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.echoed(v, secrets, key) for v in value]
        if isinstance(value, str):
            keep = key.endswith("id") or key in ("name", "uri", "url", "urls") or value.startswith(("http", "data:"))
            return value if keep else f"{value} {' '.join(secrets)}".strip()
        return value

    def _find_route(self, req: Request) -> tuple[str, Handler, re.Match[str]] | None:
        for name, method, pattern, fn in self.routes:
            match = pattern.match(req.path)
            if match and method == req.method:
                return name, fn, match
        return None

    def dispatch(self, handler: BaseHTTPRequestHandler, req: Request) -> None:
        found = self._find_route(req)
        if found is None:
            self._send(handler, Response(404, {"error": f"no route {req.method} {req.path}"}))
            return
        name, fn, match = found
        with self.lock:
            self.received.append((name, req))
            queue = self.faults.get(name) or []
            fault = queue.pop(0) if queue else None
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "hold":
            assert fault.event is not None
            self.held.append(req)
            fault.event.wait()
            fault = None
        if fault is not None and fault.kind == "drop":
            self.log.append((name, "drop", req))
            handler.close_connection = True
            handler.connection.close()
            return
        if fault is not None and fault.kind == "status":
            try:  # logged once sent: a test that watches the log sees answers the client could have read
                self._send(handler, self._echo(req, Response(fault.status, fault.body, headers=dict(fault.headers))))
            finally:
                self.log.append((name, str(fault.status), req))
            return
        response = self._echo(req, fn(req, match))
        if fault is not None and fault.kind in ("stall_after", "drop_after", "status_after"):
            self.log.append((name, f"{response.status} then {fault.kind}", req))
            if fault.kind == "status_after":
                self._send(handler, Response(fault.status, fault.body, headers=dict(fault.headers)))
                return
            if fault.kind == "stall_after":
                time.sleep(fault.seconds)
                with contextlib.suppress(OSError):  # the client gave up long ago
                    self._send(handler, response)
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.close()
            return
        try:
            self._send(handler, response, truncate=fault is not None and fault.kind == "truncate")
        finally:
            self.log.append((name, str(response.status) + (" truncated" if fault else ""), req))

    def _echo(self, req: Request, response: Response) -> Response:
        if self.echo_secrets is None or response.json is None:
            return response
        return Response(
            response.status, self.echoed(response.json, self.echo_secrets(req)), response.body, response.headers
        )

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, response: Response, truncate: bool = False) -> None:
        body = response.body if response.json is None else json.dumps(response.json).encode()
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type if response.json is None else "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for key, value in response.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2] if truncate else body)
        handler.wfile.flush()
        if truncate:
            handler.close_connection = True
            handler.connection.close()

    def serve_video(self, req: Request, match: re.Match[str]) -> Response:
        return Response(body=self.video_bytes, content_type="video/mp4")
