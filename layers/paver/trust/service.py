"""What the handlers, the scheduler and the demo call: campaigns, selection, partner scores.

Each function binds the storage models, reads what it needs, scores with the active trust
model (loaded once per process) and applies ``rules/partner_selection.yaml``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from paver import drift
from paver.config import Settings, settings
from paver.errors import NotFound
from paver.lazy import lazy_module
from paver.storage.models import Campaign, Selection
from paver.trust import DIMENSIONS, store
from paver.trust.artifacts import NoModelError, active_trust_model, trust_model_version
from paver.trust.drivers import driver_lines
from paver.trust.features import partner_features, region_coverage
from paver.trust.model import TrustModel
from paver.trust.selection import (
    Decision,
    PolicyError,
    SelectionPolicy,
    decide,
    load_policy,
    tier_of,
)

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

__all__ = [
    "NoModelError", "NotFoundError", "PolicyError", "ScoredPartners", "UnknownModelVersion",
    "campaign_partners",
    "create_campaign", "partner_score", "rescore_partners", "run_selection", "score_frames",
]


#: The campaign or partner does not exist (the name callers used; one class, the core's).
NotFoundError = NotFound


class ScoredPartners:
    """Features, scores and explanations of a set of partners (index: ``partner_id``)."""

    def __init__(self, frames: store.Frames, model: TrustModel) -> None:
        self.frames = frames
        self.model = model
        ids = frames.partners["partner_id"].astype(str).tolist()
        self.features = partner_features(frames.merchants, frames.metrics, partner_ids=ids)
        self.scores = model.score(self.features)
        self._explained: list[dict[str, list[dict]]] | None = None

    def explanations(self) -> list[dict[str, list[dict]]]:
        if self._explained is None:
            self._explained = self.model.explain(self.features)
        return self._explained

    def facts(self, regions: Sequence[str]) -> list[dict[str, Any]]:
        ids = self.features.index.tolist()
        coverage = region_coverage(self.frames.merchants, regions, ids)
        partners = self.frames.partners.set_index("partner_id")
        feats = self.features.to_dict(orient="records")
        scores = self.scores.to_dict(orient="records")
        out = []
        for i, pid in enumerate(ids):
            fact: dict[str, Any] = {"partner_id": pid, **feats[i], **scores[i],
                                    "coverage": float(coverage[i])}
            if pid in partners.index:
                fact["kind"] = str(partners.at[pid, "kind"])
                fact["region"] = str(partners.at[pid, "region"])
            out.append(fact)
        return out


def score_frames(frames: store.Frames, model: TrustModel | None = None) -> ScoredPartners:
    return ScoredPartners(frames, model or active_trust_model())


# ---------------------------------------------------------------------------------------------
# Campaigns


class UnknownModelVersion(NotFound):
    """The campaign names a trust model version that is not registered (404)."""


def _model_for(version: str | None, cfg: Settings | None) -> TrustModel:
    """The registered version asked for, or the active model."""
    if version is None:
        return active_trust_model(cfg)
    try:
        return trust_model_version(version, cfg)
    except NoModelError as exc:
        raise UnknownModelVersion(str(exc)) from exc


def create_campaign(name: str, regions: Sequence[str] = (), threshold: float | None = None,
                    cfg: Settings | None = None,
                    model_version: str | None = None) -> dict[str, Any]:
    """Create a campaign (the threshold override is checked against the policy bounds; a
    chosen trust model version must be registered)."""
    policy = load_policy()
    effective = policy.threshold_for(threshold)
    if model_version is not None:
        _model_for(model_version, cfg)
    c = Campaign(campaign_id=f"cmp-{uuid.uuid4().hex[:12]}", name=name,
                 regions=list(regions) or None, threshold=threshold, status="created",
                 created_at=store.now(), model_version=model_version,
                 detail={"effective_threshold": effective})
    store.save_campaign(c)
    return campaign_doc(c)


def campaign_doc(c: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": c.campaign_id, "name": c.name, "regions": list(c.regions or []),
        "threshold": c.threshold, "status": c.status, "model_version": c.model_version,
        "created_at": c.created_at.isoformat() if c.created_at else None,
        "detail": c.detail or {},
    }


def list_campaigns(cfg: Settings | None = None) -> list[dict[str, Any]]:
    """Every campaign, newest first."""
    rows = sorted(Campaign.scan(), key=lambda c: (c.created_at is None, c.created_at),
                  reverse=True)
    return [campaign_doc(c) for c in rows]


def run_selection(campaign_id: str, cfg: Settings | None = None,
                  frames: store.Frames | None = None,
                  model_version: str | None = None) -> dict[str, Any]:
    """Score every partner, apply the policy and store one Selection row per partner.

    The model is ``model_version`` if given, else the campaign's chosen version, else the
    active one.
    """
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    policy = load_policy()
    model = _model_for(model_version or campaign.model_version, cfg)
    frames = frames if frames is not None else store.load_frames()
    if frames.partners.empty:
        raise NotFound("no partners ingested yet")
    scored = score_frames(frames, model)
    regions = list(campaign.regions or [])
    decisions = decide(scored.facts(regions), policy, threshold=campaign.threshold,
                       regions=regions)
    explained = dict(zip(scored.features.index, scored.explanations(), strict=True))
    now = store.now()
    rows = [Selection(
        campaign_id=campaign_id, partner_id=d.partner_id, trust_score=d.overall,
        scores={**d.scores, "overall": d.overall}, tier=d.tier, selected=d.selected, rank=d.rank,
        reasons=d.reasons, rules_fired=d.rules_fired, explanation=explained.get(d.partner_id),
        model_version=model.version, decided_at=now) for d in decisions]
    store.replace_selections(campaign_id, rows)
    selected = [d.partner_id for d in decisions if d.selected]
    campaign.status = "selected"
    campaign.detail = {**(campaign.detail or {}), "model_version": model.version,
                       "effective_threshold": policy.threshold_for(campaign.threshold),
                       "scored": len(decisions), "selected": len(selected),
                       "selected_at": now.isoformat()}
    store.save_campaign(campaign)
    return {"campaign_id": campaign_id, "model_version": model.version,
            "scored": len(decisions), "selected": selected,
            "partners": [decision_doc(d) for d in decisions]}


def policy_problems(doc: Mapping[str, Any], field: str = "rules"
                    ) -> tuple[SelectionPolicy | None, list[str]]:
    """A candidate selection policy given as a document (the YAML file's content as JSON),
    or its problems, each naming the field (``rules.floors.risk: …``)."""
    try:
        return SelectionPolicy.model_validate(doc), []
    except ValidationError as exc:
        return None, [f"{'.'.join(str(x) for x in (field, *e['loc']))}: {e['msg']}"
                      for e in exc.errors()]


def what_if(facts: Sequence[Mapping[str, Any]], candidate: SelectionPolicy, *,
            threshold: float | None = None, regions: Sequence[str] = ()) -> dict[str, Any]:
    """The partners whose decision would flip under ``candidate`` instead of the policy in
    force, each with both decisions and their reasons (nothing is stored)."""
    now = {d.partner_id: d for d in decide(facts, load_policy(), threshold=threshold,
                                            regions=regions)}
    then = {d.partner_id: d for d in decide(facts, candidate, threshold=threshold,
                                             regions=regions)}
    flips = [{"partner_id": pid, "before": decision_doc(now[pid]),
              "after": decision_doc(then[pid])}
             for pid in sorted(now) if now[pid].selected != then[pid].selected
             or now[pid].tier != then[pid].tier]
    return {"dry_run": True, "scored": len(now), "flips": flips,
            "selected_before": sorted(p for p, d in now.items() if d.selected),
            "selected_after": sorted(p for p, d in then.items() if d.selected)}


def campaign_what_if(campaign_id: str, rules: Mapping[str, Any] | None,
                     cfg: Settings | None = None, model_version: str | None = None
                     ) -> dict[str, Any]:
    """:func:`what_if` for a campaign's partners as ``run_selection`` would score them now.

    Nothing is stored. Without ``rules`` the rules in force are tried (no flips). A candidate
    that is not a valid policy is answered with ``valid: false`` and its ``problems`` (a dry
    run is also how an operator checks a rules change before proposing it).
    """
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    candidate, problems = (load_policy(), []) if rules is None else policy_problems(rules)
    if candidate is None:
        return {"campaign_id": campaign_id, "dry_run": True, "valid": False,
                "problems": problems}
    model = _model_for(model_version or campaign.model_version, cfg)
    frames = store.load_frames()
    if frames.partners.empty:
        raise NotFound("no partners ingested yet")
    regions = list(campaign.regions or [])
    out = what_if(score_frames(frames, model).facts(regions), candidate,
                  threshold=campaign.threshold, regions=regions)
    return {"campaign_id": campaign_id, "model_version": model.version, "valid": True,
            "problems": [], **out}


def decision_doc(d: Decision) -> dict[str, Any]:
    return {"partner_id": d.partner_id, "rank": d.rank, "tier": d.tier, "selected": d.selected,
            "trust_score": d.overall, "scores": d.scores, "reasons": d.reasons,
            "rules_fired": d.rules_fired}


def campaign_partners(campaign_id: str, cfg: Settings | None = None) -> dict[str, Any]:
    """The campaign's partners ranked, with tiers, scores, selected flag and reasons."""
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    rows = sorted(store.get_selections(campaign_id), key=lambda s: (s.rank or 0, s.partner_id))
    return {
        "campaign": campaign_doc(campaign),
        "partners": [{
            "partner_id": s.partner_id, "rank": int(s.rank or 0), "tier": s.tier,
            "selected": bool(s.selected), "trust_score": float(s.trust_score),
            "scores": s.scores, "reasons": list(s.reasons or []),
            "rules_fired": list(s.rules_fired or []), "explanation": s.explanation,
            "drivers": driver_lines(s.explanation),
            "model_version": s.model_version, "overrides": list(s.overrides or []),
        } for s in rows],
    }


# ---------------------------------------------------------------------------------------------
# Partner scores


def partner_score(partner_id: str, cfg: Settings | None = None) -> dict[str, Any]:
    """A partner's scores now (live from its merchants), tier and explanation."""
    partner = store.get_partner(partner_id)
    if partner is None:
        raise NotFound(f"partner {partner_id!r} not found")
    scored = score_frames(store.load_frames([partner_id]), active_trust_model(cfg))
    policy = load_policy()
    row = scored.scores.iloc[0]
    return {
        "partner_id": partner_id,
        "name": partner.name,
        "trust_score": float(row["overall"]),
        "scores": {d: float(row[d]) for d in DIMENSIONS},
        "tier": tier_of(policy, [row.to_dict()])[0],
        "explanation": scored.explanations()[0],
        "features": {k: (None if not np.isfinite(v) else round(float(v), 4))
                     for k, v in scored.features.iloc[0].items()},
        "merchants": len(scored.frames.merchants),
        "model_version": scored.model.version,
        "last_scheduled": partner.trust,
    }


def rescore_partners(cfg: Settings | None = None) -> dict[str, Any]:
    """Feed the risk-scene decisions taken since the last run into the merchants' counters,
    then score every partner with the active model and store it on the partner (``trust``)."""
    from paver.trust.risk_feed import feed_new_decisions

    try:
        model = active_trust_model(cfg)
    except NoModelError as exc:
        return {"rescored": 0, "skipped": str(exc)}
    feed = feed_new_decisions(cfg).to_dict()
    frames = store.load_frames()
    if frames.partners.empty:
        return {"rescored": 0, "risk_feed": feed}
    scored = score_frames(frames, model)
    tiers = tier_of(load_policy(), scored.scores.to_dict(orient="records"))
    now = store.now().isoformat()
    docs = {}
    for (pid, row), tier in zip(scored.scores.iterrows(), tiers, strict=True):
        docs[str(pid)] = {"scores": {k: float(v) for k, v in row.items()}, "tier": tier,
                          "model_version": model.version, "scored_at": now}
    # the daily run is the scoring run drift compares with training: its worst PSI goes to
    # CloudWatch (an EMF line, the template's alarm watches it)
    limit = (cfg or settings()).drift_psi_threshold
    shift = model.drift(scored.features, limit)
    drift.emit({"trust": shift}, (cfg or settings()).stage)
    return {"rescored": store.save_partner_trust(docs), "model_version": model.version,
            "risk_feed": feed, "drift": {k: shift[k] for k in ("worst", "drifted", "level")}}


def trust_drift(cfg: Settings | None = None, threshold: float | None = None,
                frames: store.Frames | None = None) -> dict[str, Any]:
    """PSI of the active model's inputs and scores: its training partners against every
    partner as a scoring run sees them now (:meth:`TrustModel.drift`)."""
    limit = threshold if threshold is not None else (cfg or settings()).drift_psi_threshold
    try:
        model = active_trust_model(cfg)
    except NoModelError as exc:
        return {"model_version": None, "reference": False, "worst": None, "drifted": False,
                "level": "no data", "recent_count": 0, "skipped": str(exc)}
    frames = frames if frames is not None else store.load_frames()
    features = (score_frames(frames, model).features if not frames.partners.empty
                else pd.DataFrame(columns=model.feature_list))
    return {"model_version": model.version, **model.drift(features, limit)}


def frames_from_world(world_dir: Any) -> store.Frames:
    """The world's CSV files as frames (what ``paver model train --world`` reads)."""
    from pathlib import Path

    d = Path(world_dir)
    read = {"dtype": str, "keep_default_na": False, "encoding": "utf-8"}
    partners = pd.read_csv(d / "partners.csv", **read)
    merchants = pd.read_csv(d / "merchants.csv", **read)
    metrics = pd.read_csv(d / "metrics.csv", dtype={"merchant_id": "category",
                                                    "partner_id": "category",
                                                    "month": "category"})
    return store.Frames(partners, merchants, metrics)


def world_training_data(world_dir: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(partner features, partner_truth)`` of a world directory."""
    from pathlib import Path

    d = Path(world_dir)
    for name in ("partners.csv", "merchants.csv", "metrics.csv", "partner_truth.csv"):
        if not (d / name).is_file():
            raise FileNotFoundError(f"{d}: no {name} (generate a world with `paver world`)")
    frames = frames_from_world(d)
    features = partner_features(frames.merchants, frames.metrics, frames.partners)
    truth = pd.read_csv(d / "partner_truth.csv", dtype={"partner_id": str})
    return features, truth
