"""The studio's HTTP API (Starlette) and the static page.

Every ``/api/`` request must carry the session token (header ``X-Studio-Token`` or query
``token``); request bodies are JSON with a size limit; errors come back as ``{"error": "..."}``
with a status code, never as a traceback. Masks travel as base64 of zlib-deflated ``uint8``
arrays, row-major ``(H, W)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import zlib
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from segany_video.errors import SegAnyVideoError, UserInputError
from segany_video.studio.files import PathRefusedError
from segany_video.studio.jobs import JobBusyError
from segany_video.studio.session import NoVideoError, StaleResultsError, StudioSession

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024  # a mask PNG of a 4K frame is far below this
TOKEN_HEADER = "x-studio-token"
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class RequestError(UserInputError, ValueError):
    """A malformed request: missing field, wrong type, body too large."""


def make_token() -> str:
    """A fresh random session token (URL-safe)."""
    return secrets.token_urlsafe(24)


def create_app(session: StudioSession, token: str, max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The ASGI app serving ``session`` to holders of ``token``."""
    api = _Api(session, max_body)
    routes = [
        Route("/", _page, methods=["GET"]),
        Route("/favicon.ico", lambda request: Response(status_code=204), methods=["GET"]),
        Route("/api/state", api.state, methods=["GET"]),
        Route("/api/files", api.files, methods=["GET"]),
        Route("/api/open", api.open, methods=["POST"]),
        Route("/api/frame/{index:int}", api.frame, methods=["GET"]),
        Route("/api/prepare", api.prepare, methods=["POST"]),
        Route("/api/objects", api.add_object, methods=["POST"]),
        Route("/api/objects/{object_id:int}", api.update_object, methods=["PATCH"]),
        Route("/api/objects/{object_id:int}", api.delete_object, methods=["DELETE"]),
        Route("/api/click", api.click, methods=["POST"]),
        Route("/api/box", api.box, methods=["POST"]),
        Route("/api/mask", api.mask, methods=["POST"]),
        Route("/api/preview", api.preview, methods=["POST"]),
        Route("/api/choose", api.choose, methods=["POST"]),
        Route("/api/keyframe/delete", api.clear_keyframe, methods=["POST"]),
        Route("/api/undo", api.undo, methods=["POST"]),
        Route("/api/track", api.track, methods=["POST"]),
        Route("/api/progress", api.progress, methods=["GET"]),
        Route("/api/cancel", api.cancel, methods=["POST"]),
        Route("/api/results/{index:int}", api.results, methods=["GET"]),
        Route("/api/strips", api.strips, methods=["GET"]),
        Route("/api/export", api.export, methods=["POST"]),
        Route("/api/download", api.download, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(files("segany_video.studio") / "static"))),
    ]

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        if request.url.path.startswith("/api/"):
            given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
            if not secrets.compare_digest(given.encode(), token.encode()):
                return _error(401, "missing or wrong token: open the URL the studio printed")
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > max_body):
                return _error(413, f"request body over the {max_body // 2**20} MiB limit")
        try:
            response = await call_next(request)
        except Exception as exc:  # errors raised in endpoints reach the handlers; this is a net
            return await _unexpected_error(request, exc)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return Starlette(
        routes=routes,
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)],
        exception_handlers={HTTPException: _http_error, SegAnyVideoError: _unexpected_error},
    )


class _Api:
    """Endpoints: parse, call the session in a worker thread, answer JSON."""

    def __init__(self, session: StudioSession, max_body: int) -> None:
        self.s = session
        self.max_body = max_body

    async def state(self, request: Request) -> Response:
        return await self._call(self._state)

    def _state(self) -> dict:
        out = self.s.describe()
        out["progress"] = self.s.jobs.progress.to_dict()
        out["export"] = self.s.last_export
        out["range"] = list(self.s.range)
        return out

    async def files(self, request: Request) -> Response:
        return await self._call(self.s.root.listing, request.query_params.get("dir", ""))

    async def open(self, request: Request) -> Response:
        body = await self._body(request)
        return await self._call(self.s.open, _field(body, "path", str))

    async def frame(self, request: Request) -> Response:
        data = await self._run(self.s.frame_jpeg, request.path_params["index"])
        return Response(data, media_type="image/jpeg")

    async def prepare(self, request: Request) -> Response:
        body = await self._body(request)
        await self._run(self.s.prepare, _field(body, "frame", int))
        return JSONResponse({"ok": True})

    async def add_object(self, request: Request) -> Response:
        body = await self._body(request, allow_empty=True)
        return await self._call(
            self.s.add_object, _opt(body, "name", str), _opt(body, "colour", str)
        )

    async def update_object(self, request: Request) -> Response:
        body = await self._body(request)
        object_id = request.path_params["object_id"]
        await self._run(self.s.update_object, object_id, _opt(body, "name", str),
                        _opt(body, "colour", str))  # fmt: skip
        return await self._call(self.s.describe)

    async def delete_object(self, request: Request) -> Response:
        await self._run(self.s.delete_object, request.path_params["object_id"])
        return await self._call(self.s.describe)

    async def click(self, request: Request) -> Response:
        body = await self._body(request)
        return await self._call(
            self.s.click,
            _opt(body, "object", int),
            _field(body, "frame", int),
            _field(body, "x", float),
            _field(body, "y", float),
            _opt(body, "label", int, 1),
        )

    async def box(self, request: Request) -> Response:
        body = await self._body(request)
        box = _field(body, "box", list)
        if len(box) != 4 or not all(_is_number(v) for v in box):
            raise RequestError(f"'box' must be 4 numbers x0, y0, x1, y1, got {box!r}")
        return await self._call(
            self.s.box, _opt(body, "object", int), _field(body, "frame", int), box
        )

    async def mask(self, request: Request) -> Response:
        body = await self._body(request)
        try:
            data = base64.b64decode(_field(body, "png", str), validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("'png' must be the mask image in base64") from None
        return await self._call(
            self.s.upload_mask, _field(body, "object", int), _field(body, "frame", int), data
        )

    async def preview(self, request: Request) -> Response:
        body = await self._body(request)
        return await self._call(
            self.s.preview,
            _field(body, "object", int),
            _field(body, "frame", int),
            _opt(body, "all", bool, False),
        )

    async def choose(self, request: Request) -> Response:
        body = await self._body(request)
        return await self._call(
            self.s.choose_candidate,
            _field(body, "object", int),
            _field(body, "frame", int),
            _field(body, "index", int),
        )

    async def clear_keyframe(self, request: Request) -> Response:
        body = await self._body(request)
        await self._run(
            self.s.clear_keyframe, _field(body, "object", int), _field(body, "frame", int)
        )
        return await self._call(self.s.describe)

    async def undo(self, request: Request) -> Response:
        undone = await self._run(self.s.undo)
        out = await self._run(self.s.describe)
        out["undone"] = undone
        return _json(out)

    async def track(self, request: Request) -> Response:
        body = await self._body(request, allow_empty=True)
        await self._run(self.s.start_tracking, _opt(body, "start", int, 0), _opt(body, "end", int))
        return _json({"progress": self.s.jobs.progress.to_dict()})

    async def progress(self, request: Request) -> Response:
        return _json({"progress": self.s.jobs.progress.to_dict(), "export": self.s.last_export})

    async def cancel(self, request: Request) -> Response:
        return _json({"cancelled": self.s.jobs.cancel()})

    async def results(self, request: Request) -> Response:
        return await self._call(self.s.frame_results, request.path_params["index"])

    async def strips(self, request: Request) -> Response:
        return await self._call(self.s.strips)

    async def export(self, request: Request) -> Response:
        body = await self._body(request)
        formats = _field(body, "formats", list)
        if not formats or not all(isinstance(f, str) for f in formats):
            raise RequestError("'formats' must be a non-empty list of format names")
        await self._run(self.s.start_export, formats, _field(body, "folder", str))
        return _json({"progress": self.s.jobs.progress.to_dict()})

    async def download(self, request: Request) -> Response:
        path = await self._run(self.s.root.resolve, request.query_params.get("path", ""))
        if not path.is_file():
            raise PathRefusedError(f"{request.query_params.get('path')!r} is not a file")
        return FileResponse(path, filename=path.name)

    # ----------------------------------------------------------------------- plumbing

    async def _body(self, request: Request, allow_empty: bool = False) -> dict:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise RequestError(f"request body over the {self.max_body // 2**20} MiB limit")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            if allow_empty:
                return {}
            raise RequestError("this request needs a JSON body")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RequestError("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        return body

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Response:
        return _json(await self._run(fn, *args))


def _field(body: dict, name: str, kind: type) -> Any:
    if name not in body or body[name] is None:
        raise RequestError(f"the request needs '{name}'")
    return _typed(body[name], name, kind)


def _opt(body: dict, name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name)
    return default if value is None else _typed(value, name, kind)


def _typed(value: Any, name: str, kind: type) -> Any:
    if kind is float and _is_number(value):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) and kind is not bool:
        raise RequestError(f"'{name}' must be {kind.__name__}, got {value!r}")
    if not isinstance(value, kind):
        raise RequestError(f"'{name}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def encode_array(array: np.ndarray) -> str:
    """``(H, W)`` bool/uint8 as base64 of zlib-deflated uint8 bytes (row-major)."""
    data = np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    return base64.b64encode(zlib.compress(data, 1)).decode("ascii")


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json(value: Any) -> Response:
    return JSONResponse(_plain(value))


def _error(status: int, message: str) -> Response:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"Cache-Control": "no-store"}
    )


_STATUS = (
    (PathRefusedError, 403),
    (JobBusyError, 409),
    (StaleResultsError, 409),
    (NoVideoError, 409),
    (RequestError, 400),
    (UserInputError, 400),
)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such page or API call" if exc.status_code == 404 else str(exc.detail)
    return _error(exc.status_code, message)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return _error(status, str(exc))
    if isinstance(exc, SegAnyVideoError):
        return _error(500, str(exc))
    log.exception("studio: unexpected error on %s", request.url.path)
    return _error(500, f"internal error ({type(exc).__name__}); see the server's log")


async def _page(request: Request) -> Response:
    page = files("segany_video.studio") / "static" / "index.html"
    return Response(page.read_text(encoding="utf-8"), media_type="text/html",
                    headers=_PAGE_HEADERS)  # fmt: skip
