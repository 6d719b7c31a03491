"""Authentication (every route; ``/health`` also answers without a token) and tenant checks.

The middleware turns a missing, expired or forged bearer token into 401; a valid principal
asking for something outside its tenant gets 403 from the ``require_*`` helpers, which raise
the core's :class:`~paver.errors.Forbidden` / :class:`~paver.errors.NotFound` (answered by
``functions._errors``). Existence is not leaked: a partner asking for an unknown merchant or
code gets the same 403 as for another's. Routes call them before parsing a body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from chalice import Response
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from functions._errors import error_response
from paver.auth import CredentialError, Principal, TokenSecretError, from_authorization_header
from paver.errors import Forbidden, NotFound
from paver.storage.models import Code, Merchant

#: Route templates served without a token: health and the static pages (they hold no data).
PUBLIC_PATHS = frozenset({"/health", "/console", "/console/{asset}", "/m", "/m/{asset}"})
M = TypeVar("M", bound=Model)
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
    except CredentialError as exc:  # what the caller can fix
        return error_response(exc)
    except TokenSecretError as exc:  # ours: stays in the log, the caller learns nothing
        log.error("auth: %s", exc)
        return error_response(CredentialError("invalid token"))
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
        raise Forbidden("no authenticated principal")
    return p


def require_operator() -> Principal:
    p = principal()
    if p.role != "operator":
        raise Forbidden("operators only")
    return p


def require_partner(partner_id: str) -> Principal:
    """The caller is an operator or this partner."""
    p = principal()
    if not p.can_see_partner(partner_id):
        raise Forbidden("not your partner account")
    return p


def _visible(p: Principal, model: type[M], key: str, what: str, **get: Any) -> M:
    """The ``what`` stored under ``key``: 404 to an operator when there is none, the same 403
    as for someone else's to anyone else."""
    try:
        return model.get(key, **get)
    except DoesNotExist:
        if p.role == "operator":
            raise NotFound(f"{what} {key!r} not found") from None
        raise Forbidden(f"not your {what}") from None


def require_merchant(merchant_id: str, *, allow_merchant: bool = True) -> Merchant | None:
    """The caller is an operator, the merchant's partner or (if allowed) the merchant itself.

    Returns the merchant when it exists (operators get 404 for an unknown one; everyone else
    gets 403 whether it is unknown or someone else's).
    """
    p = principal()
    merchant = _visible(p, Merchant, merchant_id, "merchant",
                        attributes_to_get=["merchant_id", "partner_id"])
    if p.role == "merchant" and not allow_merchant:
        raise Forbidden("merchants cannot do this")
    if not p.can_see_merchant(merchant.merchant_id, merchant.partner_id):
        raise Forbidden("not your merchant")
    return merchant


def require_code(code_id: str, *, change: bool = False) -> Code:
    """The code if the caller may see it (``change``: operators and the code's partner only;
    an operator gets 404 for an unknown one, everyone else 403)."""
    p = principal()
    code = _visible(p, Code, code_id, "code")
    if not p.can_see_merchant(code.merchant_id, code.partner_id) or (
            change and p.role == "merchant"):
        raise Forbidden("not your code")
    return code


def partner_scope(requested: str | None) -> str | None:
    """The partner a list query may read: a partner always its own (403 for another's); an
    operator the one requested (``None``: every partner)."""
    p = principal()
    if p.role != "partner":
        return requested
    if requested not in (None, p.id):
        raise Forbidden("not your partner account")
    return p.id
