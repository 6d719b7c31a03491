"""The one mapping from the core's errors (:mod:`paver.errors`) to HTTP, for every route.

:func:`install` wraps each route of the composed app once (``app.py``), so a handler only
parses, authorises, calls the core and shapes the reply: whatever :class:`PaverError` the
core raises is answered here, found by walking the exception's MRO (as Powertools'
``event_handler/api_gateway.py`` does), with Chalice's error shape ``{"Code", "Message"}``.
A ``PaverError`` of no category (a fault of ours) is left to Chalice's 500. The same wrapper
serialises every JSON reply (:func:`functions._http.json_response`), so a number reads the
same on every route.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Response

from functions._http import checked_body, json_response
from paver.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PaverError,
    Unauthorized,
    Unavailable,
)

#: Category → (status, ``Code`` of the body, what the OpenAPI document says of it). The codes
#: are the Chalice error class names the API has always answered with.
HTTP_ERRORS: dict[type[PaverError], tuple[int, str, str]] = {
    InvalidInput: (400, "BadRequestError",
                   "invalid body, path or query parameter (the message names the field)"),
    Unauthorized: (401, "UnauthorizedError", "missing, expired or forged bearer token"),
    Forbidden: (403, "ForbiddenError", "outside the caller's tenant"),
    NotFound: (404, "NotFoundError", "not found"),
    Conflict: (409, "ConflictError", "conflict with the current state"),
    Unavailable: (503, "ServiceUnavailableError", "a dependency is unavailable; retry later"),
}
#: Challenge sent with every 401 (RFC 6750).
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paver"'}
_WRAPPED = "__paver_errors__"


def http_error(exc_type: type[BaseException]) -> tuple[int, str] | None:
    """``(status, Code)`` of an exception class: its nearest category along the MRO, or
    ``None`` (not a client error: a 500)."""
    for cls in exc_type.__mro__:
        found = HTTP_ERRORS.get(cls)  # type: ignore[call-overload]
        if found is not None:
            return found[0], found[1]
    return None


def error_response(exc: PaverError) -> Response:
    """The reply to ``exc``: its category's status and ``Code`` (500 when it has none)."""
    status, code = http_error(type(exc)) or (500, "InternalServerError")
    body: dict[str, Any] = {"Code": code, "Message": str(exc)}
    if isinstance(exc, Conflict) and exc.current is not None:
        body["Current"] = exc.current  # what the caller conflicts with, to decide again
    response = json_response(body, status=status)
    if status == 401:
        response.headers.update(_CHALLENGE)
    return response


def mapped(view: Callable[..., Any]) -> Callable[..., Response]:
    """``view`` answering the core's errors by :data:`HTTP_ERRORS` and serialising a plain
    return value as JSON (200)."""

    @functools.wraps(view)
    def handler(*args: Any, **kwargs: Any) -> Response:
        try:
            result = view(*args, **kwargs)
        except PaverError as exc:
            if http_error(type(exc)) is None:
                raise  # a fault of ours: Chalice logs it and answers 500 without the details
            return error_response(exc)
        return result if isinstance(result, Response) else json_response(result)

    setattr(handler, _WRAPPED, True)
    return handler


def limit_body(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: an oversized body is refused (400 naming ``body``) before any handler
    looks anything up; the authentication middleware runs first."""
    try:
        checked_body(request)
    except InvalidInput as exc:
        return error_response(exc)
    return get_response(request)


def install(app: Any) -> None:
    """Wrap every route of ``app`` (a :class:`chalice.Chalice`) with :func:`mapped`, once."""
    for methods in app.routes.values():
        for entry in methods.values():
            if not getattr(entry.view_function, _WRAPPED, False):
                entry.view_function = mapped(entry.view_function)
