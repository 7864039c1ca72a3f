"""A small fake Hugging Face Hub on 127.0.0.1, for testing downloads through ``HF_ENDPOINT``.

It answers the requests huggingface_hub 2.4 makes to fetch a model (or a dataset) at a revision:

- ``GET /api/models/{repo}/revision/{rev}``: repo info; its ``sha`` resolves a branch to a commit; with
  ``?blobs=true`` each of its ``siblings`` also has ``size``, ``blobId`` and, for LFS files,
  ``lfs: {sha256, size, pointerSize}``, the shape the Hub documents (https://huggingface.co/docs/hub/api);
- ``GET /api/models/{repo}/tree/{rev}?recursive=true``: the file listing, paginated with a ``Link: rel="next"``
  header like the real Hub; each file has its git blob ``oid`` and, for LFS files, ``lfs.oid`` = its sha256;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: a small (git) file is answered directly with ``ETag`` = its git
  blob sha1 and ``X-Repo-Commit``; an LFS file is answered ``302`` to a second server (the "CDN", another origin,
  so a client must not send it the token) with ``X-Linked-Etag`` = its sha256 and ``X-Linked-Size``;
- ``GET /cdn/{sha256}`` on the CDN: the bytes, with ``Range`` support (``206`` + ``Content-Range``).

Dataset repos (``add_repo(..., repo_type="dataset")``, kept apart from model repos as on the Hub) answer the same
requests under the Hub's dataset routes: ``/api/datasets/{repo}/revision/{rev}``, ``/api/datasets/{repo}/tree/{rev}``
and ``/datasets/{repo}/resolve/{rev}/{path}`` (what ``snapshot_download(..., repo_type="dataset")`` asks for).

No response carries ``X-Xet-Hash``, so the client never switches to Xet storage.
Errors use the Hub's ``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``,
``GatedRepo``), which huggingface_hub turns into its typed errors. A gated repo lists its files to anyone (as
the Hub does) but serves their content only to a bearer token it was given.

Faults are queued per file path and consumed by the next body served for that file: ``drop`` (the connection
dies after ``after`` bytes), ``corrupt`` (same length, one byte flipped), ``hang`` (stall after ``after`` bytes
until released, so a test can kill the client mid-download). Every request is logged for assertions.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_THRESHOLD = 1024  # files at least this big are stored "in LFS" (the real Hub uses ~10 MB)


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as ``oid``/``ETag`` of a non-LFS file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class FakeFile:
    path: str
    data: bytes
    lfs: bool

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def pointer(self) -> bytes:
        """The git-lfs pointer that git stores in place of an LFS file."""
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n".encode()

    @property
    def oid(self) -> str:
        return git_blob_oid(self.pointer if self.lfs else self.data)

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid


@dataclass
class FakeRepo:
    repo_id: str
    repo_type: str = "model"  # "model" or "dataset"
    gated: bool = False
    tokens: set[str] = field(default_factory=set)  # bearer tokens that were granted access (gated repos)
    commits: dict[str, dict[str, FakeFile]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.branches.get(revision)


@dataclass(frozen=True)
class Fault:
    kind: str  # "drop", "corrupt" or "hang"
    after: int | None = None  # bytes sent before the drop/hang; default half of the body


@dataclass
class LoggedRequest:
    server: str  # "hub" or "cdn"
    method: str
    path: str  # url-decoded path, no query
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    status: int = 0


class FakeHub:
    """Repos in memory, served by a hub server and a CDN server on two ports of 127.0.0.1."""

    def __init__(self, *, tree_page_size: int = 1000, lfs_threshold: int = LFS_THRESHOLD) -> None:
        self.repos: dict[str, FakeRepo] = {}  # model repos
        self.datasets: dict[str, FakeRepo] = {}  # dataset repos (another namespace on the Hub)
        self.blobs: dict[str, bytes] = {}  # sha256 -> content, what the CDN serves
        self.tree_page_size = tree_page_size
        self.lfs_threshold = lfs_threshold
        self.faults: dict[str, list[Fault]] = {}
        self.log: list[LoggedRequest] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # lets "hang" faults go on
        self.body_bytes_sent: dict[str, int] = {}  # file path -> body bytes written, all requests together
        self._commit_counter = 0
        self._servers: dict[str, ThreadingHTTPServer] = {}

    # ---- repos --------------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        branch: str = "main",
        gated: bool = False,
        tokens: set[str] | None = None,
        repo_type: str = "model",
    ) -> str:
        """Create a repo whose branch points at one commit holding ``files``; returns the commit id."""
        self._namespace(repo_type)[repo_id] = FakeRepo(repo_id, repo_type, gated=gated, tokens=set(tokens or ()))
        return self.commit(repo_id, files, branch=branch, replace=True, repo_type=repo_type)

    def commit(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        branch: str = "main",
        replace: bool = False,
        repo_type: str = "model",
    ) -> str:
        """A new commit on ``branch``: ``files`` over the branch's current files (or instead of them)."""
        repo = self._namespace(repo_type)[repo_id]
        parent = {} if replace or branch not in repo.branches else dict(repo.commits[repo.branches[branch]])
        for path, data in files.items():
            parent[path] = FakeFile(path, data, lfs=len(data) >= self.lfs_threshold)
        with self.lock:
            self._commit_counter += 1
            files_seed = ",".join(f"{p}={f.oid}" for p, f in sorted(parent.items()))
            kind = "" if repo_type == "model" else f"{repo_type}:"
            seed = f"{kind}{repo_id}:{self._commit_counter}:{files_seed}"
            commit = hashlib.sha1(seed.encode()).hexdigest()
            repo.commits[commit] = parent
            repo.branches[branch] = commit
            for fake in parent.values():
                if fake.lfs:
                    self.blobs[fake.sha256] = fake.data
        return commit

    def _namespace(self, repo_type: str) -> dict[str, FakeRepo]:
        if repo_type not in ("model", "dataset"):
            raise ValueError(f"repo_type {repo_type!r}: the fake serves 'model' and 'dataset' repos")
        return self.datasets if repo_type == "dataset" else self.repos

    def inject(self, path: str, *faults: Fault) -> None:
        """Queue faults for the next bodies served for the file ``path`` (repo-relative)."""
        with self.lock:
            self.faults.setdefault(path, []).extend(faults)

    # ---- assertions ---------------------------------------------------------------------------

    def requests(self, method: str | None = None, contains: str = "", server: str | None = None) -> list[LoggedRequest]:
        with self.lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method)
                and contains in r.path
                and (server is None or r.server == server)
            ]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()
            self.body_bytes_sent.clear()

    @property
    def endpoint(self) -> str:
        return self._url("hub")

    @property
    def cdn(self) -> str:
        return self._url("cdn")

    def _url(self, name: str) -> str:
        host, port = self._servers[name].server_address[:2]
        return f"http://{host}:{port}"

    # ---- serving ------------------------------------------------------------------------------

    def start(self) -> FakeHub:
        for name in ("hub", "cdn"):
            handler = self._handler_class(name)
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            httpd.daemon_threads = True
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            self._servers[name] = httpd
        return self

    def stop(self) -> None:
        self.release.set()
        for httpd in self._servers.values():
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self, server_name: str) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                entry = LoggedRequest(
                    server=server_name,
                    method=self.command,
                    path=unquote(parts.path),
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                with hub.lock:
                    hub.log.append(entry)
                if server_name == "cdn":
                    hub._serve_cdn(self, entry, parts.path)
                else:
                    hub._serve_hub(self, entry, parts.path)

            do_GET = do_HEAD = _handle

        return Handler

    # ---- hub routes ---------------------------------------------------------------------------

    def _serve_hub(self, h: BaseHTTPRequestHandler, req: LoggedRequest, raw_path: str) -> None:
        segments = raw_path.strip("/").split("/")
        api_types = {"models": "model", "datasets": "dataset"}
        if len(segments) >= 6 and segments[0] == "api" and segments[1] in api_types and segments[4] == "revision":
            repo_type, repo_id = api_types[segments[1]], f"{segments[2]}/{segments[3]}"
            self._repo_info(h, req, repo_type, repo_id, unquote(segments[5]))
        elif len(segments) >= 6 and segments[0] == "api" and segments[1] in api_types and segments[4] == "tree":
            repo_type, repo_id = api_types[segments[1]], f"{segments[2]}/{segments[3]}"
            self._tree(h, req, repo_type, repo_id, unquote(segments[5]), "/".join(segments[6:]))
        elif len(segments) >= 6 and segments[0] == "datasets" and segments[3] == "resolve":
            path = unquote("/".join(segments[5:]))
            self._resolve(h, req, "dataset", f"{segments[1]}/{segments[2]}", unquote(segments[4]), path)
        elif len(segments) >= 5 and segments[2] == "resolve":
            path = unquote("/".join(segments[4:]))
            self._resolve(h, req, "model", f"{segments[0]}/{segments[1]}", unquote(segments[3]), path)
        else:
            self._error(h, req, 404, "NotFound", f"no route {req.method} {req.path}")

    def _lookup(
        self, h: BaseHTTPRequestHandler, req: LoggedRequest, repo_type: str, repo_id: str, revision: str
    ) -> tuple[FakeRepo, str] | None:
        repo = self._namespace(repo_type).get(repo_id)
        if repo is None:
            # The Hub answers 401 for a repo it does not show you (missing or private).
            self._error(h, req, 401, "RepoNotFound", "Repository not found")
            return None
        commit = repo.resolve(revision)
        if commit is None:
            self._error(h, req, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo, commit

    def _repo_info(
        self, h: BaseHTTPRequestHandler, req: LoggedRequest, repo_type: str, repo_id: str, revision: str
    ) -> None:
        found = self._lookup(h, req, repo_type, repo_id, revision)
        if found is None:
            return
        repo, commit = found
        info = {
            "id": repo_id,
            "sha": commit,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "siblings": [
                self._sibling(f, req.query.get("blobs") == "true") for _, f in sorted(repo.commits[commit].items())
            ],
        }
        self._json(h, req, info)

    @staticmethod
    def _sibling(fake: FakeFile, blobs: bool) -> dict[str, Any]:
        """One file of the repo info: its name, and with ``blobs=true`` its size and blob ids, as the Hub documents
        them (https://huggingface.co/docs/hub/api, ``GET /api/models/{repo_id}/revision/{revision}``)."""
        if not blobs:
            return {"rfilename": fake.path}
        sibling: dict[str, Any] = {"rfilename": fake.path, "size": fake.size, "blobId": fake.oid}
        if fake.lfs:
            sibling["lfs"] = {"sha256": fake.sha256, "size": fake.size, "pointerSize": len(fake.pointer)}
        return sibling

    def _tree(
        self, h: BaseHTTPRequestHandler, req: LoggedRequest, repo_type: str, repo_id: str, revision: str, sub: str
    ) -> None:
        found = self._lookup(h, req, repo_type, repo_id, revision)
        if found is None:
            return
        repo, commit = found
        entries = list(self._tree_entries(repo.commits[commit], unquote(sub), req.query.get("recursive") == "true"))
        start = int(req.query.get("cursor", "0"))
        page = entries[start : start + self.tree_page_size]
        headers = {}
        if start + self.tree_page_size < len(entries):
            query = f"recursive={req.query.get('recursive', 'false')}&cursor={start + self.tree_page_size}"
            next_url = f"{self.endpoint}/api/{repo_type}s/{repo_id}/tree/{quote(revision, safe='')}?{query}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._json(h, req, page, headers)

    @staticmethod
    def _tree_entries(files: dict[str, FakeFile], sub: str, recursive: bool) -> Iterator[dict[str, Any]]:
        prefix = f"{sub.strip('/')}/" if sub.strip("/") else ""
        folders: set[str] = set()
        for path in sorted(files):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :].split("/")
            for depth in range(1, len(rest)):
                folder = prefix + "/".join(rest[:depth])
                if folder not in folders and (recursive or depth == 1):
                    folders.add(folder)
                    oid = hashlib.sha1(folder.encode()).hexdigest()
                    yield {"type": "directory", "oid": oid, "size": 0, "path": folder}
            if not recursive and len(rest) > 1:
                continue
            fake = files[path]
            entry: dict[str, Any] = {"type": "file", "oid": fake.oid, "size": fake.size, "path": path}
            if fake.lfs:
                entry["lfs"] = {"oid": fake.sha256, "size": fake.size, "pointerSize": len(fake.pointer)}
            yield entry

    def _resolve(
        self, h: BaseHTTPRequestHandler, req: LoggedRequest, repo_type: str, repo_id: str, revision: str, path: str
    ) -> None:
        found = self._lookup(h, req, repo_type, repo_id, revision)
        if found is None:
            return
        repo, commit = found
        if repo.gated:
            auth = req.headers.get("authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
            if not token:
                message = f"Access to {repo_type} {repo_id} is restricted. Please log in."
                self._error(h, req, 401, "GatedRepo", message)
                return
            if token not in repo.tokens:
                message = f"Access to {repo_type} {repo_id} is restricted and you are not in the authorized list."
                self._error(h, req, 403, "GatedRepo", message)
                return
        fake = repo.commits[commit].get(path)
        if fake is None:
            self._error(h, req, 404, "EntryNotFound", f"{path} does not exist", {"X-Repo-Commit": commit})
            return
        if fake.lfs:
            # LFS content lives on another origin, like the Hub's signed CDN URLs.
            headers = {
                "Location": f"{self.cdn}/cdn/{fake.sha256}?sig=fake",
                "X-Repo-Commit": commit,
                "X-Linked-Etag": f'"{fake.sha256}"',
                "X-Linked-Size": str(fake.size),
                "ETag": f'"{fake.oid}"',
            }
            self._send(h, req, 302, b"", headers)
            return
        self._body(h, req, fake.path, fake.data, {"X-Repo-Commit": commit, "ETag": f'"{fake.oid}"'})

    # ---- CDN ----------------------------------------------------------------------------------

    def _serve_cdn(self, h: BaseHTTPRequestHandler, req: LoggedRequest, raw_path: str) -> None:
        sha256 = raw_path.rsplit("/", 1)[-1]
        data = self.blobs.get(sha256)
        if data is None:
            self._error(h, req, 404, "NotFound", "no such blob")
            return
        every_repo = [*self.repos.values(), *self.datasets.values()]
        files = (f for r in every_repo for c in r.commits.values() for f in c.values())
        path = next((f.path for f in files if f.sha256 == sha256), sha256)
        self._body(h, req, path, data, {"ETag": f'"{sha256}"'})

    # ---- responses ----------------------------------------------------------------------------

    def _body(
        self, h: BaseHTTPRequestHandler, req: LoggedRequest, path: str, data: bytes, headers: dict[str, str]
    ) -> None:
        """Serve a file's bytes, honouring ``Range: bytes=N-[M]`` and the faults queued for ``path``."""
        start, end, status = 0, len(data) - 1, 200
        range_header = req.headers.get("range", "")
        if range_header.startswith("bytes="):
            first, _, last = range_header[len("bytes=") :].partition("-")
            start = int(first) if first else 0
            end = min(int(last), len(data) - 1) if last else len(data) - 1
            if start >= len(data):
                self._send(h, req, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
        body = data[start : end + 1]
        headers = {**headers, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if req.method == "HEAD":
            self._send(h, req, status, b"", {**headers, "Content-Length": str(len(body))}, head=True)
            return
        fault = None
        with self.lock:
            queue = self.faults.get(path)
            if queue:
                fault = queue.pop(0)
        if fault is not None and fault.kind == "corrupt":
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
            fault = None
        if fault is None:
            self._send(h, req, status, body, headers, path=path)
            return
        # drop / hang: promise the whole body, send part of it, then give up on the connection
        sent = len(body) // 2 if fault.after is None else min(fault.after, len(body))
        self._send_head(h, req, status, {**headers, "Content-Length": str(len(body))})
        h.wfile.write(body[:sent])
        h.wfile.flush()
        self._count(path, sent)
        if fault.kind == "hang":
            self.release.wait(timeout=60)
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _count(self, path: str, n: int) -> None:
        with self.lock:
            self.body_bytes_sent[path] = self.body_bytes_sent.get(path, 0) + n

    def _json(
        self, h: BaseHTTPRequestHandler, req: LoggedRequest, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        self._send(h, req, 200, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(
        self,
        h: BaseHTTPRequestHandler,
        req: LoggedRequest,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        extra = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        self._send(h, req, status, json.dumps({"error": message}).encode(), {**extra, **(headers or {})})

    def _send_head(self, h: BaseHTTPRequestHandler, req: LoggedRequest, status: int, headers: dict[str, str]) -> None:
        req.status = status
        h.send_response(status)
        for key, value in headers.items():
            h.send_header(key, value)
        h.end_headers()

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        req: LoggedRequest,
        status: int,
        body: bytes,
        headers: dict[str, str],
        *,
        head: bool = False,
        path: str | None = None,
    ) -> None:
        if not head:
            headers = {**headers, "Content-Length": str(len(body))}
        self._send_head(h, req, status, headers)
        if req.method != "HEAD" and body:
            h.wfile.write(body)
            if path is not None:
                self._count(path, len(body))
        h.wfile.flush()
