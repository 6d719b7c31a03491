"""Knowledge-base versions in S3 (the artifact) and ``RiskScenes`` (one row per scene).

Keys in the ``artifacts`` bucket: ``risk-kb/<version>/kb.npz`` (the arrays and metadata, see
:class:`~paver.risk.kb.KnowledgeBase`), ``risk-kb/<version>/summary.json`` and the pointer
``risk-kb/LATEST`` (written last, so readers never see a half-written version). Every
version's rows stay in ``RiskScenes`` (hash key ``kb_version``), so earlier versions remain
listable and loadable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from paver.config import Settings, settings
from paver.risk.kb import KnowledgeBase, NoKnowledgeBase
from paver.risk.scenes import SceneRules

PREFIX = "risk-kb"


class S3KBRepository:
    """Save, load and list knowledge-base versions on the bound AWS."""

    def __init__(self, cfg: Settings | None = None) -> None:
        self.cfg = cfg or settings()
        self.bucket = self.cfg.bucket_name("artifacts")

    def _s3(self) -> Any:
        from paver.aws import client

        return client("s3", self.cfg)

    def activate(self, version: str) -> None:
        """Make ``version`` the one screening uses (the ``LATEST`` pointer)."""
        self._s3().put_object(Bucket=self.bucket, Key=f"{PREFIX}/LATEST",
                              Body=version.encode(), ContentType="text/plain")

    def save(self, kb: KnowledgeBase, rules: SceneRules | None = None,
             activate: bool = True) -> str:
        """Store ``kb``; with ``activate`` (the default) screening uses it from now on,
        otherwise it is a candidate (shadow run, backtest, promotion later)."""
        from paver.storage.models import RiskScene

        key = f"{PREFIX}/{kb.version}/kb.npz"
        s3 = self._s3()
        s3.put_object(Bucket=self.bucket, Key=key, Body=kb.to_bytes(),
                      ContentType="application/octet-stream")
        summary = {"version": kb.version, "created_at": kb.created_at,
                   "scenes": kb.scene_summary(), "meta": kb.meta}
        s3.put_object(Bucket=self.bucket, Key=f"{PREFIX}/{kb.version}/summary.json",
                      Body=json.dumps(summary).encode(), ContentType="application/json")
        created = datetime.now(UTC)
        with RiskScene.batch_write() as batch:
            for i, name in enumerate(kb.scenes):
                threshold = (rules.threshold(name, float(kb.thresholds[i])) if rules
                             else float(kb.thresholds[i]))
                batch.save(RiskScene(
                    kb_version=kb.version, scene=name, s3_key=key,
                    sample_count=int(kb.sample_count[i]), clusters=kb.clusters(i),
                    threshold=threshold, created_at=created,
                ))
        if activate:
            self.activate(kb.version)
        return kb.version

    def latest(self) -> str | None:
        try:
            obj = self._s3().get_object(Bucket=self.bucket, Key=f"{PREFIX}/LATEST")
        except Exception as exc:  # NoSuchKey (or no bucket): no knowledge base yet
            if _missing(exc):
                return None
            raise
        return obj["Body"].read().decode().strip() or None

    def load(self, version: str | None = None) -> KnowledgeBase:
        v = version or self.latest()
        if not v:
            raise NoKnowledgeBase("no knowledge base has been built yet (POST /risk/scenes/build)")
        try:
            obj = self._s3().get_object(Bucket=self.bucket, Key=f"{PREFIX}/{v}/kb.npz")
        except Exception as exc:
            if _missing(exc):
                raise NoKnowledgeBase(f"no knowledge-base version {v!r}") from None
            raise
        return KnowledgeBase.from_bytes(obj["Body"].read())

    def versions(self) -> list[str]:
        s3 = self._s3()
        out: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{PREFIX}/", Delimiter="/"):
            out.extend(p["Prefix"][len(PREFIX) + 1 : -1] for p in page.get("CommonPrefixes", []))
        return sorted(out)

    def scenes(self, version: str | None = None) -> list[dict[str, Any]]:
        from paver.storage.models import RiskScene

        v = version or self.latest()
        if not v:
            return []
        return [
            {"scene": r.scene, "kb_version": r.kb_version, "sample_count": int(r.sample_count),
             "clusters": r.clusters, "threshold": r.threshold, "s3_key": r.s3_key,
             "created_at": r.created_at.isoformat() if r.created_at else None}
            for r in RiskScene.query(v)
        ]


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NoSuchBucket", "NotFound")
