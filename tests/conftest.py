"""Shared fixtures: in-process moto for unit/functional tests, clean AWS environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from paver.aws import reset_clients
from paver.config import Settings
from paver.storage import registry

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


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test ever reaches a real AWS or an endpoint left in the developer's shell."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PAVER_PROJECT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in _FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    registry.unbind()
    reset_clients()
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


@pytest.fixture
def api(aws: Settings) -> Iterator[Any]:
    """The composed Chalice app behind chalice's test client, on the in-process moto."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as c:
        yield c
