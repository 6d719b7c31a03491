"""S3 event notifications: the one reader (and, for local delivery and tests, writer) of their
shape, shared by every S3-triggered function (ingest, store-photo binding)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

log = logging.getLogger(__name__)


def s3_records(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(bucket, key)`` of each object record of an S3 event, keys URL-decoded.

    S3 sends keys URL-encoded (a space as ``+``). A malformed record (no bucket or key) is
    logged and skipped: no redelivery would make it readable.
    """
    out = []
    for rec in event.get("Records") or []:
        s3 = rec.get("s3") if isinstance(rec, Mapping) else None
        bucket = ((s3 or {}).get("bucket") or {}).get("name")
        key = ((s3 or {}).get("object") or {}).get("key")
        if isinstance(bucket, str) and bucket and isinstance(key, str) and key:
            out.append((bucket, unquote_plus(key)))
        else:
            log.error("S3 event: malformed record skipped (no bucket name or object key)")
    return out


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """The S3 ``ObjectCreated:Put`` event the bucket notification sends for ``key``."""
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": bucket},
                                "object": {"key": quote_plus(key, safe="/")}}}]}
