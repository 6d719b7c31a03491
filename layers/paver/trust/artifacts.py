"""Versioned model artifacts (JSON): a local directory, or S3 plus the ModelRegistry table.

Local layout: ``DIR/NAME/VERSION.json`` and ``DIR/NAME/ACTIVE`` (the active version's id).
S3 layout: ``models/NAME/VERSION.json`` in the artifacts bucket, and one ``ModelVersion`` row per
version with its metrics, feature list and training-data hash; exactly one row is ``active``.

Handlers load the active trust model once per cold start (:func:`active_trust_model`).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from paver.aws import client
from paver.config import Settings, settings
from paver.errors import Conflict
from paver.storage.models import ModelVersion
from paver.trust.model import TrustModel

TRUST_MODEL = "trust"


class NoModelError(Conflict):
    """No (active) model artifact is available (409: train or activate one first)."""


class ArtifactStore(Protocol):
    def publish(self, name: str, artifact: dict[str, Any]) -> str: ...

    def load_active(self, name: str) -> dict[str, Any]: ...


class LocalArtifactStore:
    """Artifacts in a local directory (the CLI's ``--models DIR``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def publish(self, name: str, artifact: dict[str, Any], activate: bool = True) -> str:
        version = artifact["version"]
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{version}.json").write_text(json.dumps(artifact, ensure_ascii=False, indent=1),
                                           encoding="utf-8")
        if activate:
            (d / "ACTIVE").write_text(version + "\n", encoding="utf-8")
        return version

    def load_active(self, name: str) -> dict[str, Any]:
        d = self.root / name
        try:
            version = (d / "ACTIVE").read_text(encoding="utf-8").strip()
            return json.loads((d / f"{version}.json").read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NoModelError(f"no active {name!r} model in {self.root}: run "
                               "`paver model train` first") from exc

    def versions(self, name: str) -> list[str]:
        return sorted(p.stem for p in (self.root / name).glob("*.json"))


class S3ArtifactStore:
    """Artifacts in the artifacts bucket, registered in the ModelRegistry table."""

    def __init__(self, cfg: Settings | None = None) -> None:
        self.cfg = cfg or settings()

    def publish(self, name: str, artifact: dict[str, Any], activate: bool = True) -> str:
        """Store and register a version; ``activate`` makes it the one used by default (a
        campaign may still name any registered version)."""
        version = artifact["version"]
        key = f"models/{name}/{version}.json"
        client("s3", self.cfg).put_object(
            Bucket=self.cfg.bucket_name("artifacts"), Key=key,
            Body=json.dumps(artifact, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json")
        previous = [v for v in ModelVersion.query(name) if v.active] if activate else []
        features = artifact.get("features")
        if isinstance(features, dict):
            features = [f for fs in features.values() for f in fs]
        ModelVersion(model_name=name, version=version, s3_key=key, active=activate,
                     metrics=artifact.get("metrics"), features=list(features or []),
                     data_hash=artifact.get("data_hash"),
                     created_at=datetime.now(UTC)).save()
        for v in previous:
            if v.version != version:
                v.update(actions=[ModelVersion.active.set(False)])
        return version

    def active_version(self, name: str) -> ModelVersion:
        for v in ModelVersion.query(name, scan_index_forward=False):
            if v.active:
                return v
        raise NoModelError(f"no active {name!r} model in the registry: train one "
                           "(`paver model train --world DIR --publish`)")

    def load_active(self, name: str) -> dict[str, Any]:
        return self._load(self.active_version(name))

    def load_version(self, name: str, version: str) -> dict[str, Any]:
        """A registered version, active or not (:class:`NoModelError` if not registered)."""
        try:
            return self._load(ModelVersion.get(name, version))
        except ModelVersion.DoesNotExist as exc:
            raise NoModelError(f"model_version: no registered {name!r} model version "
                               f"{version!r}") from exc

    def _load(self, v: ModelVersion) -> dict[str, Any]:
        body = client("s3", self.cfg).get_object(Bucket=self.cfg.bucket_name("artifacts"),
                                                 Key=v.s3_key)["Body"].read()
        return json.loads(body)


# ---------------------------------------------------------------------------------------------
# Cold-start cache

_cache: dict[tuple[str, str | None], TrustModel] = {}  # (prefix, endpoint[#version]) → model
_lock = threading.Lock()


def active_trust_model(cfg: Settings | None = None) -> TrustModel:
    """The active trust model from S3/ModelRegistry, loaded once per process (cold start)."""
    cfg = cfg or settings()
    key = (cfg.prefix, cfg.endpoint_url)
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = TrustModel.from_dict(S3ArtifactStore(cfg).load_active(TRUST_MODEL))
            _cache[key] = model
        return model


def trust_model_version(version: str, cfg: Settings | None = None) -> TrustModel:
    """A registered trust model version (e.g. the one a campaign chose), loaded once."""
    cfg = cfg or settings()
    key = (cfg.prefix, f"{cfg.endpoint_url}#{version}")
    with _lock:
        model = _cache.get(key)
    if model is None:
        model = TrustModel.from_dict(S3ArtifactStore(cfg).load_version(TRUST_MODEL, version))
        with _lock:
            _cache[key] = model
    return model


def publish_trust_model(model: TrustModel, cfg: Settings | None = None,
                        activate: bool = True) -> str:
    """Publish to S3/ModelRegistry; ``activate`` also makes it this process's active model."""
    cfg = cfg or settings()
    version = S3ArtifactStore(cfg).publish(TRUST_MODEL, model.to_dict(), activate=activate)
    if activate:
        with _lock:
            _cache[(cfg.prefix, cfg.endpoint_url)] = model
    return version


def reset_cache() -> None:
    """Forget loaded models (tests; a new deployment is a new cold start anyway)."""
    with _lock:
        _cache.clear()
