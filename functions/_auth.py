"""Authentication (every route; ``/health`` also answers without a token) and tenant checks.

The middleware turns a missing, expired or forged bearer token into 401; a valid principal
asking for something outside its tenant gets 403 from the ``require_*`` helpers. Existence is
not leaked: a partner asking for an unknown merchant gets the same 403 as for another's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from chalice import ForbiddenError, NotFoundError, Response
from pynamodb.exceptions import DoesNotExist

from paver.auth import AuthError, Principal, from_authorization_header
from paver.storage.models import Merchant
from paver.storage.registry import bind

PUBLIC_PATHS = frozenset({"/health"})
_CALLER_MESSAGES = frozenset({
    "missing Authorization header", "Authorization must be 'Bearer <token>'", "token expired",
    "invalid token", "invalid token claims",
})
log = logging.getLogger(__name__)
_current: ContextVar[Principal | None] = ContextVar("paver_principal", default=None)


def authenticate(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: resolve the bearer token into the current principal, or answer 401.

    A public path without an ``Authorization`` header runs with no principal (the handler
    shows only what anyone may see); with one, the token is checked like anywhere else.
    """
    if request.path in PUBLIC_PATHS and not request.headers.get("authorization"):
        return get_response(request)
    try:
        principal = from_authorization_header(request.headers.get("authorization"))
    except AuthError as exc:
        # Say what the caller can fix; configuration problems stay in the log.
        message = str(exc) if str(exc) in _CALLER_MESSAGES else "invalid token"
        if message != str(exc):
            log.error("auth: %s", exc)
        return Response(
            body=json.dumps({"Code": "UnauthorizedError", "Message": message}),
            status_code=401,
            headers={"Content-Type": "application/json",
                     "WWW-Authenticate": 'Bearer realm="paver"'},
        )
    token = _current.set(principal)
    try:
        return get_response(request)
    finally:
        _current.reset(token)


def optional_principal() -> Principal | None:
    """The caller on a public path: ``None`` when no token was given."""
    return _current.get()


def principal() -> Principal:
    p = _current.get()
    if p is None:  # only reachable if a route is called without the middleware
        raise ForbiddenError("no authenticated principal")
    return p


def require_operator() -> Principal:
    p = principal()
    if p.role != "operator":
        raise ForbiddenError("operators only")
    return p


def require_partner(partner_id: str) -> Principal:
    """The caller is an operator or this partner."""
    p = principal()
    if not p.can_see_partner(partner_id):
        raise ForbiddenError("not your partner account")
    return p


def require_merchant(merchant_id: str, *, allow_merchant: bool = True) -> Merchant | None:
    """The caller is an operator, the merchant's partner or (if allowed) the merchant itself.

    Returns the merchant when it exists (operators get 404 for an unknown one; everyone else
    gets 403 whether it is unknown or someone else's).
    """
    p = principal()
    bind()
    try:
        merchant = Merchant.get(merchant_id, attributes_to_get=["merchant_id", "partner_id"])
    except DoesNotExist:
        if p.role == "operator":
            raise NotFoundError(f"merchant {merchant_id!r} not found") from None
        raise ForbiddenError("not your merchant") from None
    if p.role == "merchant" and not allow_merchant:
        raise ForbiddenError("merchants cannot do this")
    if not p.can_see_merchant(merchant.merchant_id, merchant.partner_id):
        raise ForbiddenError("not your merchant")
    return merchant
