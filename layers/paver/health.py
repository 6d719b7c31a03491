"""What ``/health`` reports: liveness to anyone; stage, versions, tables to operators."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import paver
from paver.config import settings
from paver.storage import registry

_PACKAGES = ("boto3", "pynamodb", "durable_rules", "scikit-learn", "qrcode", "zxing-cpp")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def liveness() -> dict[str, Any]:
    """What an unauthenticated caller (a load balancer, an uptime check) learns: it answers."""
    return {"status": "ok"}


def health_report() -> dict[str, Any]:
    cfg = settings()
    tables = registry.reachability(cfg)
    return {
        "status": "ok" if all(tables.values()) else "degraded",
        "stage": cfg.stage,
        "region": cfg.region,
        "endpoint": "local" if cfg.endpoint_url else "aws",
        "versions": {
            "paver": paver.__version__,
            "python": platform.python_version(),
            **{p: _version(p) for p in _PACKAGES},
        },
        "tables": tables,
    }
