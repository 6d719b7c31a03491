"""boto3 clients that honour the configured endpoint (embedded local AWS or real AWS)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from paver.config import Settings, settings

_CFG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=20)


@lru_cache(maxsize=32)
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=_CFG
    )


def client(service: str, cfg: Settings | None = None) -> Any:
    """A cached boto3 client for ``service`` bound to the current endpoint and region."""
    cfg = cfg or settings()
    return _client(service, cfg.region, cfg.endpoint_url)


def queue_url(role: str, cfg: Settings | None = None) -> str:
    cfg = cfg or settings()
    return client("sqs", cfg).get_queue_url(QueueName=cfg.queue_name(role))["QueueUrl"]


def reset_clients() -> None:
    """Forget cached clients (after the endpoint changes, e.g. between tests)."""
    _client.cache_clear()
