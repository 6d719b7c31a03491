"""The token signing secret is read at run time from Secrets Manager (as deployed), cached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paver import secret_store
from paver.auth import AuthError, issue_token, token_secret, verify_token
from paver.aws import client
from paver.config import Settings
from paver.secret_store import SECRET_ID_ENV

SECRET = "k" * 48


@pytest.fixture
def deployed(aws: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A non-local stage whose environment names the secret, never holds it."""
    arn = client("secretsmanager", aws).create_secret(Name="paver-prod/token-secret",
                                                     SecretString=SECRET)["ARN"]
    monkeypatch.setenv("PAVER_STAGE", "prod")
    monkeypatch.delenv("PAVER_TOKEN_SECRET", raising=False)
    monkeypatch.setenv(SECRET_ID_ENV, arn)
    secret_store.reset_cache()
    yield arn
    secret_store.reset_cache()


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import botocore.client

    seen: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self, op, params):  # type: ignore[no-untyped-def]
        if op == "GetSecretValue":
            seen.append(params["SecretId"])
        return real(self, op, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return seen


def test_tokens_sign_and_verify_with_the_stored_secret_read_once(
        deployed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _count_reads(monkeypatch)
    assert token_secret() == SECRET
    token = issue_token("partner", "P0001")
    for _ in range(5):
        assert verify_token(token).id == "P0001"
    assert reads == [deployed]  # cached in the process


def test_a_rotated_secret_is_read_again_after_the_cache_lifetime(
        deployed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = issue_token("operator", "ops")
    client("secretsmanager").put_secret_value(SecretId=deployed, SecretString="n" * 48)
    assert verify_token(old).role == "operator"  # still the cached secret
    monkeypatch.setattr(secret_store, "CACHE_TTL_S", 0.0)
    with pytest.raises(AuthError):
        verify_token(old)  # signed with the secret that was rotated away


def test_a_short_stored_secret_is_refused(deployed: str) -> None:
    client("secretsmanager").put_secret_value(SecretId=deployed, SecretString="short")
    with pytest.raises(AuthError, match="at least 32"):
        token_secret()


def test_the_environment_value_still_wins_locally(deployed: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVER_TOKEN_SECRET", "e" * 40)
    assert token_secret() == "e" * 40


def test_no_secret_outside_local_stages_is_an_error(aws: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVER_STAGE", "prod")
    monkeypatch.delenv("PAVER_TOKEN_SECRET", raising=False)
    monkeypatch.delenv(SECRET_ID_ENV, raising=False)
    with pytest.raises(AuthError, match="not set"):
        token_secret()
