"""Every binding attempt of a merchant, for people: reasons in words, distance, the photo."""

from __future__ import annotations

from typing import Any

from paver.aws import client
from paver.binding.policy import load_policy
from paver.binding.service import parse_photo_key
from paver.config import Settings, settings
from paver.storage.models import BindingAttempt

PHOTO_URL_EXPIRES_S = 300


def _photo_keys(merchant_id: str, cfg: Settings) -> dict[str, str]:
    """attempt id → object key of the store photo uploaded for it."""
    s3 = client("s3", cfg)
    keys: dict[str, str] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=cfg.bucket_name("photos"), Prefix=f"photos/{merchant_id}/")
    for page in pages:
        for obj in page.get("Contents", []):
            try:
                _, attempt = parse_photo_key(obj["Key"])
            except ValueError:
                continue
            keys[attempt] = obj["Key"]
    return keys


def attempts_view(merchant_id: str, cfg: Settings | None = None) -> list[dict[str, Any]]:
    """Newest first: outcome, each refusal reason in words (and whether a retry may help),
    distance to the registered address, and a short-lived link to the photo."""
    cfg = cfg or settings()
    policy, _ = load_policy()
    words = {r.name: r.reason or r.name for r in policy.refusals}
    photos = _photo_keys(merchant_id, cfg)
    s3 = client("s3", cfg)
    out = []
    for a in BindingAttempt.query(merchant_id):
        ev = a.evidence or {}
        key = photos.get(a.attempt_id)
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": cfg.bucket_name("photos"), "Key": key},
            ExpiresIn=PHOTO_URL_EXPIRES_S) if key else None
        out.append({
            "attempt_id": a.attempt_id, "outcome": a.outcome,
            "created_at": a.created_at.isoformat() if a.created_at else None,
            "reasons": [{"code": c, "reason": words.get(c, c), "retry": c in policy.retryable}
                        for c in a.reasons or []],
            "distance_m": ev.get("distance_m"), "level": ev.get("level"),
            "photo_url": url,
        })
    out.sort(key=lambda r: r["created_at"] or "", reverse=True)
    return out
