"""Drift of risk screening: the active knowledge base's training population against the
decisions it took in a recent window.

The output is the best scene's match degree of each screened event; the inputs are the raw
relation features (stored with every decision: ``feature_vector`` from the Transactions stream,
``features`` by dimension from ``POST /risk/screen``). The reference profiles were stored with
the knowledge-base version when it was built (``meta.drift_reference``,
:func:`paver.risk.kb.drift_reference`); a version built before that has none and answers
``reference: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from paver import drift
from paver.config import Settings, settings
from paver.risk.events import DIMENSIONS
from paver.risk.features import FEATURE_NAMES, FEATURES, N_FEATURES

#: The window when none is given: the last week of decisions.
DEFAULT_WINDOW = timedelta(days=7)
#: At most this many decisions of the window are read (a bounded scan).
MAX_RECENT = 20000
OUTPUT = "match_degree"


def feature_row(explanation: Mapping[str, Any] | None) -> list[float] | None:
    """The raw feature vector a decision stored, in :data:`FEATURE_NAMES` order, or ``None``."""
    expl = explanation or {}
    vec = expl.get("feature_vector")
    if isinstance(vec, list) and len(vec) == N_FEATURES:
        return [float(v) for v in vec]
    grouped = expl.get("features")
    if isinstance(grouped, Mapping) and all(isinstance(grouped.get(d), Mapping)
                                            for d in DIMENSIONS):
        try:
            return [float(grouped[d][f]) for d in DIMENSIONS for f in FEATURES[d]]
        except (KeyError, TypeError, ValueError):
            return None
    return None


def window(since: datetime | None, until: datetime | None,
           now: datetime | None = None) -> tuple[datetime, datetime]:
    """``since``…``until`` with the defaults filled in (until now, a week back from the end)."""
    end = until or now or datetime.now(UTC)
    return since or end - DEFAULT_WINDOW, end


def risk_drift(since: datetime | None = None, until: datetime | None = None,
               cfg: Settings | None = None, threshold: float | None = None) -> dict[str, Any]:
    """PSI of match degrees and relation features: the active version's training population
    against its stored decisions of the window (:func:`paver.drift.compare`)."""
    from paver.risk.aws_kb import S3KBRepository
    from paver.storage.models import Decision

    cfg = cfg or settings()
    limit = cfg.drift_psi_threshold if threshold is None else threshold
    start, end = window(since, until)
    repo = S3KBRepository(cfg)
    version = repo.latest()
    base: dict[str, Any] = {"kb_version": version, "reference": False, "features": [],
                            "worst": None, "drifted": False, "level": drift.NO_DATA,
                            "recent_count": 0,
                            "window": {"from": start.isoformat(), "to": end.isoformat()}}
    if version is None:
        return {**base, "skipped": "no knowledge base has been built yet"}
    from paver.risk.service import matcher

    reference = matcher(version, cfg).kb.meta.get("drift_reference")  # cached per version
    if not reference:
        return {**base, "skipped": f"knowledge-base version {version!r} was built without "
                                   "drift reference profiles: rebuild it"}
    cond = ((Decision.kb_version == version) & (Decision.decided_at >= start)
            & (Decision.decided_at <= end) & Decision.match_degree.exists())
    degrees: list[float] = []
    rows: list[list[float]] = []
    for d in Decision.scan(filter_condition=cond, attributes_to_get=[
            "event_id", "match_degree", "explanation"]):
        degrees.append(float(d.match_degree))
        row = feature_row(d.explanation)
        if row is not None:
            rows.append(row)
        if len(degrees) >= MAX_RECENT:
            break
    X = np.asarray(rows, dtype=float).reshape(-1, N_FEATURES)
    recent: dict[str, Any] = {OUTPUT: np.asarray(degrees)} if degrees else {}
    if len(X):
        recent.update({name: X[:, j] for j, name in enumerate(FEATURE_NAMES)})
    report = drift.compare(reference, recent, limit, outputs=(OUTPUT,))
    return {**base, **report, "reference": True, "recent_count": len(degrees),
            "window": {**base["window"], "decisions": len(degrees),
                       "with_features": len(X)}}
