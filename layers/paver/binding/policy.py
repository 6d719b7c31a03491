"""Binding policy (``rules/binding.yaml``): radius, refusal rules, levels, upgrade benefit."""

from __future__ import annotations

from datetime import timedelta, timezone
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paver.ruleengine import (
    CompiledRules,
    Rule,
    load_policy_rules,
    require_fields,
    rules_dir,
)

#: Facts a binding rule may test (computed by the checks in :mod:`paver.binding.service`).
BINDING_FACTS = frozenset({
    "photo_ok", "position_found", "distance_m", "within_radius", "qr_found", "qr_matches",
    "uscc_valid", "name_ok", "credential_taken", "level",
    # location that is hard to fake: the phone's position at upload, capture vs upload time,
    # a photo already used for another merchant, EXIF written by editing software
    "device_position_given", "device_exif_m", "device_address_m", "capture_time_found",
    "capture_age_h", "reuse_distance", "edited_by_software",
})


class RefusalRule(Rule):
    """A rule that, when it holds, refuses the binding with its reason code (``name``)."""

    @model_validator(mode="after")
    def _known_facts(self) -> RefusalRule:
        require_fields(self, BINDING_FACTS)
        return self


class BindingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    radius_m: float = Field(gt=0, le=5_000)
    max_level: int = Field(ge=1, le=9)
    upgrade_benefit: str = Field(min_length=1)
    retryable: list[str] = Field(default_factory=list)
    #: zone of EXIF capture times that carry no OffsetTimeOriginal (the shops' local time)
    capture_tz: str = Field(default="+08:00", pattern=r"^[+-](0\d|1[0-4]):[0-5]\d$")
    #: ``Software`` tag values (case-insensitive substrings) that mean the photo was edited
    editing_software: list[str] = Field(default_factory=list)
    refusals: list[RefusalRule] = Field(min_length=1)

    def tz(self) -> timezone:
        sign = 1 if self.capture_tz[0] == "+" else -1
        return timezone(sign * timedelta(hours=int(self.capture_tz[1:3]),
                                         minutes=int(self.capture_tz[4:6])))

    @model_validator(mode="after")
    def _retryable_known(self) -> BindingPolicy:
        names = {r.name for r in self.refusals}
        unknown = set(self.retryable) - names
        if unknown:
            raise ValueError(f"retryable names unknown refusal(s): {sorted(unknown)}")
        return self


@lru_cache(maxsize=4)
def load_policy(path: Path | None = None) -> tuple[BindingPolicy, CompiledRules]:
    return load_policy_rules(path or rules_dir() / "binding.yaml", BindingPolicy,
                             lambda p: p.refusals)
