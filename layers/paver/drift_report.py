"""The drift report of both models (``GET /drift``, ``paver model drift``, the daily run).

``{"trust": {scorer: report, …, "worst", "drifted", "level"}, "risk": report, "threshold",
"drifted", "level", "window"}``: see :func:`paver.trust.service.trust_drift` and
:func:`paver.risk.drift.risk_drift`; each report is :func:`paver.drift.compare`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paver import drift
from paver.config import Settings, settings


def combine(trust: dict[str, Any], risk: dict[str, Any], threshold: float,
            window: dict[str, Any]) -> dict[str, Any]:
    """One report of the trust and risk parts: drifted if either is, the worst level."""
    levels = [p.get("level", drift.NO_DATA) for p in (trust, risk)]
    known = [lv for lv in levels if lv in drift.LEVELS]
    return {"trust": trust, "risk": risk, "threshold": threshold,
            "drifted": bool(trust.get("drifted") or risk.get("drifted")),
            "level": max(known, key=drift.LEVELS.index) if known else drift.NO_DATA,
            "window": window}


def drift_report(since: datetime | None = None, until: datetime | None = None,
                 cfg: Settings | None = None, emit: bool = True) -> dict[str, Any]:
    """Both models' drift now; with ``emit`` each model's worst PSI also goes to CloudWatch
    as an Embedded Metric Format line (the alarm in the deployment template)."""
    from paver.risk.drift import risk_drift
    from paver.trust.service import trust_drift

    cfg = cfg or settings()
    limit = cfg.drift_psi_threshold
    trust = trust_drift(cfg, limit)
    risk = risk_drift(since, until, cfg, limit)
    win = dict(risk.pop("window"))
    win["partners"] = trust.get("recent_count", 0)
    out = combine(trust, risk, limit, win)
    if emit:
        drift.emit(out, cfg.stage)
    return out
