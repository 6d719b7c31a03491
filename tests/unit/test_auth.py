"""Token verification: signature, expiry, claims and the maximum lifetime issuing allows."""

from __future__ import annotations

import time

import jwt
import pytest

from paver.auth import MAX_TTL_S, AuthError, issue_token, token_secret, verify_token


def _signed(**claims: object) -> str:
    base = {"iss": "paver", "sub": "ops", "role": "operator"}
    return jwt.encode({**base, **claims}, token_secret(), algorithm="HS256")


def test_an_issued_token_verifies() -> None:
    assert verify_token(issue_token("partner", "P0001", ttl_s=MAX_TTL_S)).id == "P0001"


def test_a_signed_token_living_longer_than_issuing_allows_is_refused() -> None:
    now = int(time.time())
    # exactly the cap passes, one second more or a century does not
    assert verify_token(_signed(iat=now, exp=now + MAX_TTL_S)).role == "operator"
    for exp in (now + MAX_TTL_S + 1, now + 100 * 365 * 86400):
        with pytest.raises(AuthError, match="invalid token claims"):
            verify_token(_signed(iat=now, exp=exp))


@pytest.mark.parametrize("claims", [
    {"exp": 4_000_000_000},  # no iat: the lifetime cannot be checked
    {"iat": "1", "exp": 4_000_000_000},  # PyJWT accepts int("1")
    {"iat": True, "exp": 600},  # bools are ints to Python
])
def test_a_token_without_a_numeric_iat_is_refused(claims: dict[str, object]) -> None:
    with pytest.raises(AuthError):
        verify_token(_signed(**claims))



@pytest.mark.parametrize("sub", ["ops\n", "M١", "a" * 129, ""])
def test_a_subject_that_is_not_an_id_is_refused(sub: str) -> None:
    now = int(time.time())
    with pytest.raises(AuthError, match="invalid token claims"):
        verify_token(_signed(sub=sub, iat=now, exp=now + 60))
