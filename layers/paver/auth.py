"""Who is calling: signed tokens, principals, and the tenant rules every route applies.

Roles: an ``operator`` runs campaigns and sees everything; a ``partner`` sees and changes only
its own merchants and codes; a ``merchant`` sees only itself. Tokens are HS256 JWTs that
Paver issues and verifies itself, on every stage: there is no API Gateway authorizer, the
app's authentication middleware (``functions/_auth.py``) checks each request. The signing
secret is ``PAVER_TOKEN_SECRET`` locally (a fixed development secret on the ``local`` and
``test`` stages only) and, deployed, the Secrets Manager secret ``PAVER_TOKEN_SECRET_ID``
names (:mod:`paver.secret_store`). ``paver token`` issues one from the command line.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from paver.config import settings
from paver.errors import PaverError, Unauthorized
from paver.fields import is_id
from paver.lazy import lazy_module
from paver.secret_store import SECRET_ID_ENV, fetch_secret

if TYPE_CHECKING:
    import jwt
else:  # PyJWT (and the cryptography it probes for) at the first token, not at import app
    jwt = lazy_module("jwt")

Role = Literal["operator", "partner", "merchant"]
ROLES: tuple[str, ...] = ("operator", "partner", "merchant")
ISSUER = "paver"
DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600
_DEV_SECRET = "paver-local-development-secret-not-for-production"  # local/test stages only


class AuthError(PaverError):
    """A credential cannot be issued or checked; raised as one of the two kinds below."""


class CredentialError(AuthError, Unauthorized):
    """Missing, malformed, expired or forged credential: the caller's to fix (HTTP 401)."""


class TokenSecretError(AuthError):
    """The signing secret is missing or too short for this stage: the deployment's fault, not
    the caller's (logged; a request still gets only 401 ``invalid token``)."""


def token_secret() -> str:
    """The signing secret; refuses to fall back to the development one outside local stages.

    ``PAVER_TOKEN_SECRET`` (the value; local and test use) wins; otherwise a deployed function
    reads the secret ``PAVER_TOKEN_SECRET_ID`` names from Secrets Manager (cached).
    """
    secret = os.environ.get("PAVER_TOKEN_SECRET")
    if not secret and os.environ.get(SECRET_ID_ENV):
        secret = fetch_secret(os.environ[SECRET_ID_ENV])
    if secret:
        if len(secret) < 32:
            raise TokenSecretError("PAVER_TOKEN_SECRET must be at least 32 characters")
        return secret
    if settings().stage in ("local", "test"):
        return _DEV_SECRET
    raise TokenSecretError("PAVER_TOKEN_SECRET is not set for this stage")


@dataclass(frozen=True)
class Principal:
    role: Role
    id: str

    def can_see_partner(self, partner_id: str) -> bool:
        return self.role == "operator" or (self.role == "partner" and self.id == partner_id)

    def can_see_merchant(self, merchant_id: str, partner_id: str) -> bool:
        if self.role == "operator":
            return True
        if self.role == "partner":
            return self.id == partner_id
        return self.id == merchant_id


def issue_token(role: str, principal_id: str, ttl_s: int = DEFAULT_TTL_S,
                now: float | None = None) -> str:
    """A signed token for ``role``/``principal_id`` valid for ``ttl_s`` seconds."""
    if role not in ROLES:
        raise ValueError(f"role: one of {', '.join(ROLES)}")
    if not is_id(principal_id):
        raise ValueError("id: 1-128 letters, digits or -_.: characters")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl: between 1 and {MAX_TTL_S} seconds")
    t = int(time.time() if now is None else now)
    claims = {"iss": ISSUER, "sub": principal_id, "role": role, "iat": t, "exp": t + ttl_s}
    return jwt.encode(claims, token_secret(), algorithm="HS256")


def verify_token(token: str) -> Principal:
    """The principal a token names; :class:`CredentialError` for anything not valid right now
    (:class:`TokenSecretError` when this stage has no usable secret)."""
    try:
        claims = jwt.decode(token, token_secret(), algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
    except jwt.ExpiredSignatureError as exc:
        raise CredentialError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise CredentialError("invalid token") from exc
    # A correctly signed token may still claim a life longer than issuing allows (a leaked
    # secret or another issuer): the same cap applies on verify. PyJWT accepts any value
    # int() takes ("123", true), so the types are checked here.
    iat, exp = claims["iat"], claims["exp"]
    if not (_is_number(iat) and _is_number(exp) and 0 < exp - iat <= MAX_TTL_S):
        raise CredentialError("invalid token claims")
    role, sub = claims.get("role"), claims.get("sub")
    if role not in ROLES or not is_id(sub):
        raise CredentialError("invalid token claims")
    return Principal(role=role, id=sub)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def from_authorization_header(value: str | None) -> Principal:
    if not value:
        raise CredentialError("missing Authorization header")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise CredentialError("Authorization must be 'Bearer <token>'")
    return verify_token(token.strip())
