"""Which knowledge-base version decides, which one runs in shadow, and who changed that.

- The **active** version decides every screened payment (``risk-kb/LATEST``, as always).
- A **shadow** version (``risk-kb/SHADOW``; empty: none) is matched against the same relation
  features on the Transactions stream; its verdict is stored beside the active one in
  ``Decisions.shadow`` and never acts (no alert, no case). :func:`shadow_report` compares the
  two over a window: alerts each raised, those only one raised, events named another scene,
  and how the analysts decided the ones they looked at.
- **Promotion** makes a stored version active; **rollback** returns to the version active
  before the last change. Each is one operator action, audited (who, when, from, to, note) as
  one object per action under ``risk-kb/audit/`` (append-only: no two writers race).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from paver.config import Settings
from paver.errors import Conflict, NotFound
from paver.risk.aws_kb import PREFIX, S3KBRepository, _missing
from paver.storage.models import Case, Decision

SHADOW_KEY = f"{PREFIX}/SHADOW"
AUDIT_PREFIX = f"{PREFIX}/audit/"


def _repo(cfg: Settings | None) -> S3KBRepository:
    return S3KBRepository(cfg)


def _known(repo: S3KBRepository, version: str) -> str:
    if version not in repo.versions():
        raise NotFound(f"version: no knowledge-base version {version!r}")
    return version


def shadow_version(cfg: Settings | None = None) -> str | None:
    """The version running in shadow, or ``None``."""
    repo = _repo(cfg)
    try:
        obj = repo._s3().get_object(Bucket=repo.bucket, Key=SHADOW_KEY)
    except Exception as exc:
        if _missing(exc):
            return None
        raise
    return obj["Body"].read().decode().strip() or None


def _audit(repo: S3KBRepository, action: str, by: str, note: str, **what: Any) -> dict:
    at = datetime.now(UTC)
    entry = {"action": action, "by": by, "at": at.isoformat(), "note": note, **what}
    key = f"{AUDIT_PREFIX}{at.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}.json"
    repo._s3().put_object(Bucket=repo.bucket, Key=key, Body=json.dumps(entry).encode(),
                          ContentType="application/json")
    return entry


def audit_trail(cfg: Settings | None = None) -> list[dict[str, Any]]:
    """Every promotion, rollback and shadow change, oldest first."""
    repo = _repo(cfg)
    s3 = repo._s3()
    keys = sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=repo.bucket, Prefix=AUDIT_PREFIX) for o in page.get("Contents", []))
    return [json.loads(s3.get_object(Bucket=repo.bucket, Key=k)["Body"].read()) for k in keys]


def status(cfg: Settings | None = None) -> dict[str, Any]:
    """``{"active", "shadow", "versions", "audit"}``."""
    repo = _repo(cfg)
    return {"active": repo.latest(), "shadow": shadow_version(cfg),
            "versions": repo.versions(), "audit": audit_trail(cfg)}


def set_shadow(version: str | None, by: str, note: str = "",
               cfg: Settings | None = None) -> dict[str, Any]:
    """Run ``version`` in shadow (``None``: stop the shadow run); audited."""
    repo = _repo(cfg)
    if version is not None:
        _known(repo, version)
        if version == repo.latest():
            raise Conflict("version: this version is the active one; a shadow run compares "
                           "another version with it")
    before = shadow_version(cfg)
    repo._s3().put_object(Bucket=repo.bucket, Key=SHADOW_KEY,
                          Body=(version or "").encode(), ContentType="text/plain")
    _audit(repo, "shadow" if version else "shadow_stop", by, note, version=version,
           previous=before)
    return status(cfg)


def promote(version: str, by: str, note: str = "", cfg: Settings | None = None
            ) -> dict[str, Any]:
    """Make ``version`` the active one; audited. A version in shadow stops shadowing."""
    repo = _repo(cfg)
    _known(repo, version)
    before = repo.latest()
    if version == before:
        raise Conflict(f"version: {version!r} is already active")
    repo.activate(version)
    if shadow_version(cfg) == version:
        repo._s3().put_object(Bucket=repo.bucket, Key=SHADOW_KEY, Body=b"",
                              ContentType="text/plain")
    _audit(repo, "promote", by, note, version=version, previous=before)
    return status(cfg)


def rollback(by: str, note: str = "", cfg: Settings | None = None) -> dict[str, Any]:
    """Return to the version that was active before the last promotion or rollback; audited."""
    repo = _repo(cfg)
    changes = [e for e in audit_trail(cfg) if e["action"] in ("promote", "rollback")]
    current = repo.latest()
    if not changes or not changes[-1].get("previous"):
        raise Conflict("version: no earlier active version to return to")
    back = changes[-1]["previous"]
    repo.activate(back)
    _audit(repo, "rollback", by, note, version=back, previous=current)
    return status(cfg)


def shadow_report(since: datetime | None = None, until: datetime | None = None,
                  cfg: Settings | None = None) -> dict[str, Any]:
    """Active against shadow verdicts on the events both screened in the window."""
    cond = Decision.shadow.exists()
    if since is not None:
        cond = cond & (Decision.decided_at >= since)
    if until is not None:
        cond = cond & (Decision.decided_at <= until)
    rows = list(Decision.scan(filter_condition=cond, attributes_to_get=[
        "event_id", "risky", "scene", "kb_version", "shadow"]))
    decided = {c.event_id: c for c in Case.batch_get(
        [d.event_id for d in rows if d.risky])} if rows else {}
    gained, lost, renamed = [], [], []
    both = 0
    confirmed = {"active": 0, "shadow": 0}
    dismissed = {"active": 0, "shadow": 0}
    for d in rows:
        s = d.shadow or {}
        a_flag, s_flag = bool(d.risky), bool(s.get("risky"))
        if a_flag and s_flag:
            both += 1
            if d.scene != s.get("scene"):
                renamed.append({"txn_id": d.event_id, "active": d.scene,
                                "shadow": s.get("scene")})
        elif s_flag:
            gained.append({"txn_id": d.event_id, "scene": s.get("scene")})
        elif a_flag:
            lost.append({"txn_id": d.event_id, "scene": d.scene})
        case = decided.get(d.event_id)
        if case is not None:
            for who, flag in (("active", a_flag), ("shadow", s_flag)):
                if flag and case.status == "confirmed":
                    confirmed[who] += 1
                elif flag and case.status == "dismissed":
                    dismissed[who] += 1
    return {
        "events": len(rows),
        "active_versions": sorted({d.kb_version for d in rows if d.kb_version}),
        "shadow_versions": sorted({(d.shadow or {}).get("kb_version") for d in rows} - {None}),
        "alerts": {"active": sum(bool(d.risky) for d in rows),
                   "shadow": sum(bool((d.shadow or {}).get("risky")) for d in rows),
                   "both": both},
        "only_shadow": gained, "only_active": lost, "scene_changed": renamed,
        "analysts": {"confirmed": confirmed, "dismissed": dismissed},
        "window": {"from": since.isoformat() if since else None,
                   "to": until.isoformat() if until else None},
    }
