"""The annotation web app (FastAPI): one page, a small JSON API, and the selected experiment's files by slot.

Routes:

- ``GET /``: the page (``static/index.html``); ``/static/app.js``, ``/static/app.css``: its script and style.
- ``GET /api/state``: progress (n of N), the next item (blind: no model name, files by URL), the last label saved;
  ``?item=ID``: an item labelled before, to change its label (``POST /api/label`` with ``replace``: a new line,
  which replaces the earlier one in the labels format).
- ``POST /api/reveal``: the first judgment of an item, answered with its answer frame's URL (``--reveal after``).
- ``POST /api/label``: the item's judgment; written as labels, answered with the next state.
- ``GET /media/{item}/{slot}``: ``first``, ``answer``, ``video0``, ``video1`` of a planned item.

Security: no route takes a path. A file is served only as a slot of an item planned from the experiment, so a
traversal (``/media/x/../../etc/passwd``, encoded or not) matches no route or no item: 404. The answer frame
under ``--reveal after`` is 404 until the item's first judgment. On loopback the Host header must name loopback
(a page of another site cannot reach the server through DNS rebinding); with a token (``--host``) every request
carries it, as a cookie set by ``/?token=...`` or an ``X-VMEvalKit-Token`` header. POSTs must be JSON, which a
page of another site cannot send here without a preflight that is never answered. The page builds its DOM with
``textContent`` only, and the Content-Security-Policy allows no inline script: a label, note or prompt is shown
as text, never run.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from vmevalkit.annotate.items import Item
from vmevalkit.annotate.store import PROCESS, SUCCESS, Session
from vmevalkit.scoring.meta_eval.labels import Label, PairLabel, RatingLabel

TOKEN_COOKIE, TOKEN_HEADER = "vmk_token", "x-vmevalkit-token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_NOTE = 2000
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class RateJudgment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str
    replace: bool = False  # a correction of an item labelled before (the labels format: a later line replaces)
    success: Literal[0, 1]
    process: Annotated[int, Field(ge=1, le=5)]
    note: Annotated[str, Field(max_length=MAX_NOTE)] = ""
    elapsed_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class PairJudgment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str
    replace: bool = False
    choice: Literal["A", "B", "tie"]
    note: Annotated[str, Field(max_length=MAX_NOTE)] = ""
    elapsed_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class Reveal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str
    first: Literal[0, 1, "A", "B", "tie"]  # the first judgment: success (rate) or the choice (pairwise)


def host_name(header: str) -> str:
    """The host of a Host header, without its port: ``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:80`` -> ``[::1]``."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0]


def _rubric(domain: str) -> str:
    from vmevalkit.scoring.judge_rubric import GENERIC_RUBRIC, domain_rubrics

    return domain_rubrics().get(domain, GENERIC_RUBRIC)


def create_app(session: Session, items: Sequence[Item], token: str | None = None) -> FastAPI:
    """The app for one session. ``token``: required on every request (given with ``--host``)."""
    from vmevalkit.runner.records import utc_now

    by_id = {item.id: item for item in items}
    position = {item.id: number for number, item in enumerate(items, start=1)}
    revealed: dict[str, tuple[object, str]] = {}  # item id -> (first judgment, when the answer was shown)
    rubrics: dict[str, str] = {}
    last: dict[str, Any] = {}
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await _checked(request, call_next)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _checked(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if token is None:
            if host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
                return PlainTextResponse("this annotation server answers only on loopback (127.0.0.1)", 400)
        else:
            given = request.cookies.get(TOKEN_COOKIE) or request.headers.get(TOKEN_HEADER) or ""
            offered = request.query_params.get("token", "")
            if request.url.path == "/" and offered and hmac.compare_digest(offered.encode(), token.encode()):
                # the token leaves the address bar (and the history): a cookie carries it from now on
                redirect = RedirectResponse("/", status_code=303)
                redirect.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return redirect
            if not hmac.compare_digest(given.encode(), token.encode()):
                return PlainTextResponse(
                    "this annotation server needs its token: open the address printed when it started "
                    "(http://HOST:PORT/?token=...)",
                    401,
                )
        if request.method == "POST" and request.headers.get("content-type", "").split(";")[0] != "application/json":
            return PlainTextResponse("send JSON (Content-Type: application/json)", 415)
        return await call_next(request)

    def rubric(domain: str) -> str:
        if domain not in rubrics:
            rubrics[domain] = _rubric(domain)
        return rubrics[domain]

    def item_view(item: Item) -> dict[str, Any]:
        answer = None
        if item.answer_frame is not None and (session.reveal == "always" or item.id in revealed):
            answer = f"/media/{item.id}/answer"
        return {
            "id": item.id,
            "position": position[item.id],
            "domain": item.domain,
            "prompt": item.prompt,
            "rubric": rubric(item.domain),
            "first": f"/media/{item.id}/first",
            "videos": [f"/media/{item.id}/video{i}" for i in range(len(item.videos))],
            "answer": answer,
            "has_answer": item.answer_frame is not None and session.reveal != "never",
        }

    def state(editing: Item | None = None) -> dict[str, Any]:
        upcoming = editing or session.next_item(items)
        return {
            "annotator": session.annotator,
            "mode": session.mode,
            "reveal": session.reveal,
            "total": len(items),
            "done": session.done_count(items),
            "labels_file": session.labels_path.name,
            "item": None if upcoming is None else item_view(upcoming),
            "editing": editing is not None,
            "last": last or None,
        }

    def planned(item_id: str) -> Item:
        item = by_id.get(item_id)
        if item is None:
            raise HTTPException(404, "no such item in this session")
        return item

    @app.get("/")
    def page() -> Response:
        html = resources.files("vmevalkit.annotate").joinpath("static/index.html").read_text(encoding="utf-8")
        return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404)
        body = resources.files("vmevalkit.annotate").joinpath(f"static/{name}").read_text(encoding="utf-8")
        return Response(body, media_type=f"{STATIC[name]}; charset=utf-8", headers={"Cache-Control": "no-store"})

    @app.get("/api/state")
    def get_state(item: str | None = None) -> JSONResponse:
        """The next item to label; ``?item=ID``: an item labelled before, to change its label."""
        editing = None
        if item is not None:
            editing = planned(item)
            if not session.is_done(editing):
                editing = None  # not labelled yet: nothing to change, the next item as usual
        return JSONResponse(state(editing), headers={"Cache-Control": "no-store"})

    @app.post("/api/reveal")
    def reveal(body: Reveal) -> JSONResponse:
        item = planned(body.item)
        if session.reveal == "never" or item.answer_frame is None:
            return JSONResponse({"answer": None})
        revealed.setdefault(item.id, (body.first, utc_now()))
        return JSONResponse({"answer": f"/media/{item.id}/answer"})

    @app.post("/api/label")
    def label(body: RateJudgment | PairJudgment) -> JSONResponse:
        item = planned(body.item)
        if session.is_done(item) and not body.replace:
            raise HTTPException(409, "this item is already labelled")
        if body.replace and not session.is_done(item):
            raise HTTPException(409, "this item has no label to change")
        if (session.mode == "rate") != isinstance(body, RateJudgment):
            raise HTTPException(422, f"a {session.mode} session takes {session.mode} judgments")
        first, shown_at = revealed.get(item.id, (None, None))
        source = {
            "tool": "vmevalkit annotate",
            "mode": session.mode,
            "item": item.id,
            "position": position[item.id],
            "of": len(items),
            "seed": session.seed,
            "reveal": session.reveal,
            "answer_shown": (session.reveal == "always" and item.answer_frame is not None) or shown_at is not None,
            "first_judgment": first,
            "answer_shown_at": shown_at,
            "elapsed_ms": body.elapsed_ms,
            "labelled_at": utc_now(),
            "replaces_earlier": body.replace,
        }
        made: list[Label]
        if isinstance(body, RateJudgment):
            generation = item.generations[0]
            common = {"type": "rating", "generation": generation, "rater": session.annotator, "source": source}
            made = [
                RatingLabel.model_validate({**common, "dimension": SUCCESS, "value": body.success, "note": body.note}),
                RatingLabel.model_validate({**common, "dimension": PROCESS, "value": body.process}),
            ]
            last.clear()
            last.update(item=item.id, position=position[item.id], success=body.success, process=body.process)
            last["note"] = body.note
        else:
            left, right = item.generations
            made = [
                PairLabel.model_validate(
                    {
                        "type": "pair",
                        "a": left,
                        "b": right,
                        "dimension": session.dimension,
                        "preference": body.choice,
                        "rater": session.annotator,
                        "note": body.note,
                        "source": {**source, "left": "a", "right": "b"},
                    }
                )
            ]
            last.clear()
            last.update(item=item.id, position=position[item.id], choice=body.choice, note=body.note)
        started = time.perf_counter()
        session.add(item, made)
        last["write_ms"] = round((time.perf_counter() - started) * 1000.0, 2)
        revealed.pop(item.id, None)
        return JSONResponse(state(), headers={"Cache-Control": "no-store"})

    @app.get("/media/{item_id}/{slot}")
    def media(item_id: str, slot: str) -> FileResponse:
        item = planned(item_id)
        if slot == "answer" and session.reveal != "always" and item.id not in revealed:
            raise HTTPException(404, "the answer frame is shown after the first judgment")
        path = item.media(slot)
        if path is None or not path.is_file():
            raise HTTPException(404)
        kind = "video/mp4" if slot.startswith("video") else "image/png"
        # no filename: a video's file name carries its model's name, and this is a blind session
        return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, max-age=3600"})

    return app
