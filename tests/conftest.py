"""Shared fixtures: in-process moto for unit/functional tests, clean AWS environment."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from infra.training import is_training_route
from paver.aws import reset_clients
from paver.config import Settings
from paver.storage import registry
from tests.serving import serving_layer

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "PAVER_STAGE": "test",
    "OMP_NUM_THREADS": "1",
}


def isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, no endpoint or profile from the developer's shell, nothing bound."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PAVER_PROJECT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in _FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    registry.unbind()
    reset_clients()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test ever reaches a real AWS or an endpoint left in the developer's shell."""
    isolate(monkeypatch)
    yield
    registry.unbind()
    reset_clients()


@pytest.fixture
def aws() -> Iterator[Settings]:
    """In-process moto with every Paver table, bucket and queue created."""
    from moto import mock_aws

    with mock_aws():
        cfg = Settings.from_env(dict(os.environ))
        registry.create_all(cfg)
        yield cfg


class _Http:
    """chalice's test HTTP client with a bearer token added unless the caller sets one."""

    def __init__(self, http: Any, token: str | None) -> None:
        self._http, self._token = http, token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        headers = dict(headers or {})
        if self._token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | str = b"") -> Any:
        # every route but the training ones answers from the serving layer (infra.training)
        served = (contextlib.nullcontext() if is_training_route(method, path.partition("?")[0])
                  else serving_layer())
        with served:
            return self._http.request(method, path, headers=self._headers(headers), body=body)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


class _ServingLambda:
    """chalice's test Lambda client: every function but the training image has the serving
    layer (``infra.training``)."""

    def __init__(self, lambda_: Any) -> None:
        self._lambda = lambda_

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with serving_layer():
            return self._lambda.invoke(*args, **kwargs)


class ApiClient:
    """The app behind chalice's test client, calling as one principal (operator by default)."""

    def __init__(self, client: Any, role: str | None = "operator", pid: str = "ops") -> None:
        from paver.auth import issue_token

        self._client = client
        self.http = _Http(client.http, issue_token(role, pid) if role else None)
        self.lambda_ = _ServingLambda(client.lambda_)
        self.events = client.events

    def as_(self, role: str, pid: str) -> ApiClient:
        return ApiClient(self._client, role, pid)

    @property
    def anonymous(self) -> ApiClient:
        return ApiClient(self._client, None)


@pytest.fixture
def api(aws: Settings) -> Iterator[ApiClient]:
    """The composed Chalice app behind chalice's test client, on the in-process moto."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as c:
        yield ApiClient(c)
