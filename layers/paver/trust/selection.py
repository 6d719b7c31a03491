"""Tiers and partner selection as rules (``rules/partner_selection.yaml``).

The policy file is validated on load (:func:`paver.ruleengine.load_rule_file` names the bad
line and field). Its threshold, floors, region filter, exclusions and tiers become
:class:`~paver.ruleengine.Rule` objects evaluated by the durable_rules adapter; the cap is a
ranking step after the rules. Every decision carries the rules that fired and readable reasons.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paver.errors import InvalidInput
from paver.ruleengine import Condition, Rule, compile_rules, load_rule_file, rules_dir
from paver.trust import DIMENSIONS
from paver.trust.features import FEATURE_NAMES

POLICY_FILE = "partner_selection.yaml"
FACT_FIELDS: frozenset[str] = frozenset(
    {*DIMENSIONS, "overall", "coverage", "kind", "region", *FEATURE_NAMES})


class PolicyError(InvalidInput):
    """A campaign asks for something the policy does not allow (e.g. threshold out of bounds)."""


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: float = Field(ge=0, le=100)
    min: float = Field(ge=0, le=100)
    max: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if not self.min <= self.default <= self.max:
            raise ValueError("need min <= default <= max")
        return self


class Floors(BaseModel):
    model_config = ConfigDict(extra="forbid")

    risk: float | None = Field(default=None, ge=0, le=100)
    trust: float | None = Field(default=None, ge=0, le=100)
    quality: float | None = Field(default=None, ge=0, le=100)
    value: float | None = Field(default=None, ge=0, le=100)


class RegionPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: bool = True
    min_coverage: float = Field(default=0.3, gt=0, le=1)


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: str = Field(pattern=r"^[A-Za-z0-9_]{1,16}$")
    min_overall: float = Field(ge=0, le=100)
    when: Condition | None = None  # an extra condition, ANDed with min_overall
    label: str = ""


class SelectionPolicy(BaseModel):
    """The validated content of ``rules/partner_selection.yaml``."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    threshold: Threshold
    floors: Floors = Field(default_factory=Floors)
    regions: RegionPolicy = Field(default_factory=RegionPolicy)
    cap: int | None = Field(default=None, ge=1, le=100_000)
    tiers: list[Tier] = Field(min_length=1)
    exclusions: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> SelectionPolicy:
        mins = [t.min_overall for t in self.tiers]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("tiers: min_overall must strictly decrease down the list")
        if mins[-1] != 0:
            raise ValueError("tiers: the last tier must have min_overall 0 (every partner "
                             "gets a tier)")
        names = [t.tier for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tiers: tier names must be unique")
        if self.tiers[-1].when is not None:
            raise ValueError("tiers: the last tier takes every partner left: no 'when'")
        conds = [(f"exclusions[{i}] ({r.name})", r.when) for i, r in enumerate(self.exclusions)]
        conds += [(f"tiers[{i}] ({t.tier})", t.when) for i, t in enumerate(self.tiers) if t.when]
        for where, cond in conds:
            unknown = cond.fields() - FACT_FIELDS
            if unknown:
                raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(sorted(FACT_FIELDS))}")
        return self

    def threshold_for(self, override: float | None) -> float:
        if override is None:
            return self.threshold.default
        if not self.threshold.min <= override <= self.threshold.max:
            raise PolicyError(f"threshold {override:g} is outside the allowed "
                              f"{self.threshold.min:g}..{self.threshold.max:g}",
                              field="threshold")
        return float(override)


def load_policy(path: str | Path | None = None) -> SelectionPolicy:
    """Load and validate the policy file (cached per path and modification time)."""
    p = Path(path) if path is not None else rules_dir() / POLICY_FILE
    return _load(str(p), p.stat().st_mtime_ns if p.exists() else 0)


@lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> SelectionPolicy:
    return load_rule_file(path, SelectionPolicy)


# ---------------------------------------------------------------------------------------------


@dataclass
class Decision:
    """One partner's outcome within a campaign."""

    partner_id: str
    overall: float
    scores: dict[str, float]
    tier: str
    selected: bool
    rank: int
    reasons: list[str] = field(default_factory=list)
    rules_fired: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class _SafeFacts(dict):
    def __missing__(self, key: str) -> str:
        return "n/a"


def _reason(template: str, fact: Mapping[str, Any]) -> str:
    try:
        return string.Formatter().vformat(template, (), _SafeFacts(fact))
    except (ValueError, TypeError, KeyError, IndexError):
        return template


def _clean_fact(fact: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in fact.items():
        if v is None:
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                continue
            v = round(v, 6)
        out[k] = v
    return out


def policy_rules(policy: SelectionPolicy, threshold: float,
                 regions: Sequence[str]) -> tuple[list[Rule], list[Rule]]:
    """``(blocking rules, tier rules)`` for a campaign."""
    block: list[Rule] = [Rule.model_validate({
        "name": "threshold_not_met",
        "when": {"field": "overall", "op": "lte", "value": threshold},
        "reason": f"overall trust score {{overall:.1f}} is not above the threshold {threshold:g}",
    })]
    for dim in DIMENSIONS:
        floor = getattr(policy.floors, dim)
        if floor:
            block.append(Rule.model_validate({
                "name": f"{dim}_floor",
                "when": {"field": dim, "op": "lt", "value": floor},
                "reason": f"{dim} score {{{dim}:.1f}} is below the floor {floor:g}",
            }))
    if regions and policy.regions.filter:
        block.append(Rule.model_validate({
            "name": "outside_regions",
            "when": {"field": "coverage", "op": "lt", "value": policy.regions.min_coverage},
            "reason": f"{{coverage:.0%}} of merchants are in the campaign regions "
                      f"({', '.join(regions)}); needs {policy.regions.min_coverage:.0%}",
        }))
    block.extend(policy.exclusions)
    tiers = []
    for t in policy.tiers:
        when: dict[str, Any] = {"field": "overall", "op": "gte", "value": t.min_overall}
        if t.when is not None:
            when = {"all": [when, t.when.model_dump(exclude_none=True)]}
        tiers.append(Rule.model_validate({
            "name": f"tier_{t.tier}", "when": when, "reason": t.label or f"tier {t.tier}",
            "effect": {"tier": t.tier}}))
    return block, tiers


def evaluate_rules(rules: Sequence[Rule], facts: Sequence[Mapping[str, Any]]) -> list[list[Rule]]:
    """For each fact, the rules that hold (file order), through the rule engine.

    A fact lacking a field a rule reads (a feature with no data) does not satisfy that rule;
    such facts are left out of that rule's evaluation rather than posted incomplete.
    """
    fired: list[list[Rule]] = [[] for _ in facts]
    for rule in rules:
        need = rule.when.fields()
        idx = [i for i, f in enumerate(facts) if need <= f.keys()]
        if not idx:
            continue
        hits = compile_rules([rule]).evaluate([facts[i] for i in idx])
        for i, h in zip(idx, hits, strict=True):
            fired[i].extend(h)
    return fired


def tier_of(policy: SelectionPolicy, facts: Sequence[Mapping[str, Any]]) -> list[str]:
    """Tier of each partner (facts: the five scores at least), through the rule engine."""
    _, tiers = policy_rules(policy, policy.threshold.default, ())
    fired = evaluate_rules(tiers, [_clean_fact(f) for f in facts])
    return [hits[0].effect["tier"] if hits else policy.tiers[-1].tier for hits in fired]


def decide(facts: Sequence[Mapping[str, Any]], policy: SelectionPolicy, *,
           threshold: float | None = None, regions: Sequence[str] = ()) -> list[Decision]:
    """Tier, select and explain every partner.

    Parameters
    ----------
    facts
        One mapping per partner: ``partner_id``, the five scores, ``coverage`` and any features.
    policy
        The selection policy.
    threshold
        The campaign's overall-score threshold (``None``: the policy default; checked against
        the allowed bounds).
    regions
        The campaign's regions (empty: no region filter).

    Returns
    -------
    list[Decision]
        Ranked by overall score (best first); ``rank`` is 1-based.
    """
    t = policy.threshold_for(threshold)
    block, tiers = policy_rules(policy, t, regions)
    clean = [_clean_fact({k: v for k, v in f.items() if k != "partner_id"}) for f in facts]
    fired = evaluate_rules([*block, *tiers], clean)
    block_names = {r.name for r in block}
    order = sorted(range(len(facts)), key=lambda i: (-float(facts[i].get("overall") or 0),
                                                     str(facts[i]["partner_id"])))
    decisions: list[Decision] = []
    taken = 0
    for rank, i in enumerate(order, start=1):
        fact = clean[i]
        hits = fired[i]
        blocking = [r for r in hits if r.name in block_names]
        tier_hits = [r for r in hits if r.name not in block_names]
        tier_rule = tier_hits[0] if tier_hits else None
        tier = tier_rule.effect["tier"] if tier_rule else policy.tiers[-1].tier
        # Fail closed: a blocking rule that cannot be evaluated (its feature has no data, e.g.
        # no USCC given or no metrics uploaded) blocks, and says so.
        unknown = [r for r in block if r not in blocking and not r.when.fields() <= fact.keys()]
        reasons = [_reason(r.reason or r.name, fact) for r in blocking]
        reasons += [f"no data for {', '.join(sorted(r.when.fields() - fact.keys()))}: "
                    f"cannot clear {r.name}" for r in unknown]
        blocking = [*blocking, *unknown]
        names = [r.name for r in blocking]
        selected = not blocking
        if selected and policy.cap is not None and taken >= policy.cap:
            selected = False
            names.append("cap")
            reasons.append(f"eligible, but the campaign takes at most {policy.cap} partners and "
                           f"this one ranks {rank}")
        if selected:
            taken += 1
            names.append("selected")
            floors = ", ".join(f"{d} ≥ {getattr(policy.floors, d):g}" for d in DIMENSIONS
                               if getattr(policy.floors, d))
            reasons.append(f"overall trust score {fact.get('overall', 0):.1f} is above the "
                           f"threshold {t:g}")
            if floors:
                reasons.append(f"all dimension floors met ({floors})")
            if regions and policy.regions.filter:
                reasons.append(f"{fact.get('coverage', 0):.0%} of merchants in the campaign "
                               "regions")
        if tier_rule is not None:
            names.append(tier_rule.name)
            reasons.append(f"tier {tier}: {tier_rule.reason}")
        decisions.append(Decision(
            partner_id=str(facts[i]["partner_id"]), overall=float(fact.get("overall", 0)),
            scores={d: float(fact.get(d, 0)) for d in DIMENSIONS}, tier=tier,
            selected=selected, rank=rank, reasons=reasons, rules_fired=names, facts=fact))
    return decisions
