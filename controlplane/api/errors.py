"""Service errors -> HTTP, in one place: 401, 403, 404, 409, 422 (field errors in FastAPI's own
shape), 503 (agent offline, or the database unreachable). Anything unexpected is logged and
answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from controlplane.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("mmbot.controlplane.api")

_STATUS: list[tuple[type[ServiceError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (Unavailable, 503),
]


def status_for(exc: ServiceError) -> int:
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        code = status_for(exc)
        if isinstance(exc, Invalid):
            detail: object = [
                {"loc": list(e.loc), "msg": e.msg, "type": "value_error"} for e in exc.errors
            ]
        else:
            detail = exc.message
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each rejected value back ("input"): for a credentials
        # or token body that would be the secret. Location, rule and type only.
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # A body that is not even text (e.g. invalid UTF-8) is invalid input like any other.
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            return JSONResponse(
                {"detail": [{"loc": ["body"], "msg": "unreadable body", "type": "value_error"}]},
                status_code=422,
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(sa.exc.DataError)
    async def _data_error(request: Request, exc: sa.exc.DataError) -> JSONResponse:
        # Input the validators let through but the database refused (e.g. out of range).
        log.warning("database refused a value on %s: %s", request.url.path, exc.orig)
        return JSONResponse(
            {"detail": [{"loc": ["request"], "msg": "value out of range", "type": "value_error"}]},
            status_code=422,
        )

    @app.exception_handler(sa.exc.OperationalError)
    async def _db_down(request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
        return JSONResponse({"detail": "database unavailable; retry shortly"}, status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error (see the control plane log)"}, 500)
