"""The bearer-token signing secret, read at run time from AWS Secrets Manager and cached.

In AWS the API function's environment carries only the secret's ARN (``PAVER_TOKEN_SECRET_ID``,
set by the stack, whose ``TokenSecret`` resource Secrets Manager generates); the value itself
is never in the template, the function's configuration or its environment. One read per
``CACHE_TTL_S`` per warm Lambda: cheap, and a rotated secret is picked up within minutes.
"""

from __future__ import annotations

import threading
import time

from paver.aws import client

#: Environment variable naming the secret (its ARN or name).
SECRET_ID_ENV = "PAVER_TOKEN_SECRET_ID"
CACHE_TTL_S = 300.0

_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def fetch_secret(secret_id: str, ttl_s: float | None = None) -> str:
    """The ``SecretString`` of ``secret_id``, from the in-process cache when younger than
    ``ttl_s`` (default ``CACHE_TTL_S``).

    Errors of Secrets Manager propagate (a server-side failure, not the caller's).
    """
    ttl = CACHE_TTL_S if ttl_s is None else ttl_s
    now = time.monotonic()
    with _lock:
        hit = _cache.get(secret_id)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    value = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    with _lock:
        _cache[secret_id] = (now, value)
    return value


def reset_cache() -> None:
    """Forget cached secrets (tests; a cold start)."""
    with _lock:
        _cache.clear()
