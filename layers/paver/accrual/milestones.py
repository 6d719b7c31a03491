"""Milestone policy (``rules/benefits.yaml``) and granting each benefit once."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pynamodb.exceptions import PutError

from paver.ruleengine import (
    CompiledRules,
    Rule,
    load_policy_rules,
    require_fields,
    rules_dir,
)
from paver.storage.models import Benefit
from paver.storage.registry import condition_failed

#: Facts a milestone rule may test (merchant running totals).
MILESTONE_FIELDS = frozenset({"txn_count", "txn_amount", "active_days", "level"})


class Milestone(Rule):
    """A rule whose ``effect`` names the benefit granted when it first holds."""

    @model_validator(mode="after")
    def _known_fields(self) -> Milestone:
        require_fields(self, MILESTONE_FIELDS)
        if not isinstance(self.effect.get("benefit"), str):
            raise ValueError("effect.benefit: the benefit's name is required")
        return self


class BenefitText(BaseModel):
    """What a benefit is, for the people who read reports."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1)
    means: str = Field(min_length=1)


class BenefitsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    milestones: list[Milestone] = Field(min_length=1)
    benefits: dict[str, BenefitText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> BenefitsPolicy:
        names = [m.name for m in self.milestones]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"milestone names must be unique: {sorted(dup)}")
        unexplained = sorted({str(m.effect["benefit"]) for m in self.milestones}
                             - set(self.benefits))
        if unexplained:
            raise ValueError(f"benefits: no title/means for {', '.join(unexplained)}")
        return self


def benefit_text(kind: str) -> BenefitText:
    """The words for a benefit named in the rules (its name itself when none are written)."""
    known = load_policy()[0].benefits.get(kind)
    return known or BenefitText(title=kind.replace("_", " "), means="")


@lru_cache(maxsize=4)
def load_policy(path: Path | None = None) -> tuple[BenefitsPolicy, CompiledRules]:
    return load_policy_rules(path or rules_dir() / "benefits.yaml", BenefitsPolicy,
                             lambda p: p.milestones)


def grant_once(merchant_id: str, benefit_id: str, kind: str, reason: str,
               detail: dict[str, Any] | None = None) -> bool:
    """Create the benefit unless it exists; True when this call granted it."""
    try:
        Benefit(merchant_id=merchant_id, benefit_id=benefit_id, kind=kind, reason=reason,
                granted_at=datetime.now(UTC), detail=detail).save(
            condition=Benefit.benefit_id.does_not_exist())
        return True
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise


def grant_milestones(merchant_id: str, totals: dict[str, Any]) -> list[str]:
    """Evaluate the milestone rules on a merchant's totals; grant new ones; return their ids."""
    policy, compiled = load_policy()
    granted = []
    for rule in compiled.evaluate([totals])[0]:
        benefit_id = f"milestone#{rule.name}"
        if grant_once(merchant_id, benefit_id, kind=str(rule.effect["benefit"]),
                      reason=rule.reason or rule.name,
                      detail={"policy_version": policy.version, "totals": totals}):
            granted.append(benefit_id)
    return granted
