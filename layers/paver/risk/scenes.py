"""Scene metadata and thresholds (``rules/risk_scenes.yaml``), decided through durable_rules.

Scenes are named by their **labels as written** (``fan-out``, ``Gather Scatter``, ``分散转入``);
the YAML refers to them by label. Each scene gets one rule, compiled once through
:mod:`paver.ruleengine`, named by the label's internal key (:func:`paver.risk.events.scene_key`)::

    scene_<key>: all[scene == <key>, match_degree >= <threshold>]

A threshold is a number on the 0.01 grid, or ``auto``: the threshold the knowledge base
calibrated for that scene at build time (see :mod:`paver.risk.kb`).

The fact posted to the engine is ``{scene, match_degree}`` with the match degree floored to
the grid of :data:`STEP` (thresholds must lie on that grid, so flooring never changes a
verdict: ``floor(m) >= t  ⇔  m >= t`` for ``t`` on the grid). The verdict of every distinct
fact is asked of the engine once and kept in a table; batches then read the table. The engine
stays the decision-maker — the table only memoises its answers for the facts it has seen
(:attr:`SceneRules.engine_facts` counts the facts actually evaluated).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from paver.risk.events import DIMENSIONS, check_label, scene_key
from paver.ruleengine import (
    CompiledRules,
    Condition,
    Rule,
    compile_rules,
    load_rule_file,
    rules_dir,
)

STEP = 0.01
LEVELS = 101  # 0.00 … 1.00
Severity = Literal["low", "medium", "high", "critical"]
Action = Literal["review", "hold", "block"]
DimensionName = Literal["transaction", "device", "behaviour", "social"]


def _on_grid(v: float | str) -> float | str:
    if v == "auto":
        return v
    if isinstance(v, str):
        raise ValueError("must be a number between 0 and 1 or 'auto'")
    if not 0.0 <= v <= 1.0:
        raise ValueError("must be between 0 and 1")
    if abs(v / STEP - round(v / STEP)) > 1e-9:
        raise ValueError(f"must be a multiple of {STEP}")
    return round(v, 2)


class SceneSpec(BaseModel):
    """Metadata and decision threshold of one risk scene."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    description: str = ""
    severity: Severity = "medium"
    action: Action | None = None
    threshold: float | Literal["auto"] | None = None
    dimension_weights: dict[DimensionName, float] | None = None

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, v: float | str | None) -> float | str | None:
        return None if v is None else _on_grid(v)

    @field_validator("dimension_weights")
    @classmethod
    def _weights(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None and any(not (w >= 0 and math.isfinite(w)) for w in v.values()):
            raise ValueError("weights must be finite and >= 0")
        if v is not None and not any(w > 0 for w in v.values()):
            raise ValueError("at least one weight must be > 0")
        return v


class RiskSceneFile(BaseModel):
    """The whole ``rules/risk_scenes.yaml``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    default_threshold: float | Literal["auto"] = "auto"
    default_action: Action = "review"
    top_k: int = Field(default=3, ge=1, le=32)
    dimension_weights: dict[DimensionName, float] = Field(
        default_factory=lambda: dict.fromkeys(DIMENSIONS, 1.0)
    )
    severity_actions: dict[Severity, Action] = Field(default_factory=dict)
    scenes: dict[str, SceneSpec] = Field(default_factory=dict)

    @field_validator("default_threshold")
    @classmethod
    def _threshold(cls, v: float | str) -> float | str:
        return _on_grid(v)

    @field_validator("scenes")
    @classmethod
    def _names(cls, v: dict[str, SceneSpec]) -> dict[str, SceneSpec]:
        out: dict[str, SceneSpec] = {}
        for name, spec in v.items():
            try:
                label = check_label(str(name))
            except ValueError as exc:
                raise ValueError(f"scene label {name!r}: {exc}") from None
            if label in out:
                raise ValueError(f"scene label {label!r} is listed twice")
            out[label] = spec
        return out


def default_rules_path() -> Path:
    return rules_dir() / "risk_scenes.yaml"


class SceneRules:
    """Per-scene thresholds compiled through the durable_rules adapter, with a verdict table."""

    def __init__(self, spec: RiskSceneFile, source: str = "") -> None:
        self.spec = spec
        self.source = source
        self._compiled: dict[tuple[str, float], CompiledRules] = {}
        self._tables: dict[tuple[str, float], np.ndarray] = {}
        self._grids: dict[tuple[Any, ...], np.ndarray] = {}
        self._lock = threading.Lock()
        self.engine_facts = 0

    @classmethod
    def load(cls, path: str | Path | None = None) -> SceneRules:
        p = Path(path) if path else default_rules_path()
        return cls(load_rule_file(p, RiskSceneFile), str(p))

    # ---------------------------------------------------------------- metadata
    def threshold(self, scene: str, calibrated: float | None = None) -> float:
        """The scene's threshold; ``auto`` takes ``calibrated`` (0.5 when there is none)."""
        s = self.spec.scenes.get(scene)
        t = s.threshold if s and s.threshold is not None else self.spec.default_threshold
        if t == "auto":
            return float(_on_grid(round(calibrated, 2))) if calibrated is not None else 0.5
        return float(t)

    def pinned(self, scene: str) -> bool:
        """Whether the rules fix the scene's threshold to a number (not ``auto``)."""
        s = self.spec.scenes.get(scene)
        t = s.threshold if s and s.threshold is not None else self.spec.default_threshold
        return t != "auto"

    def action(self, scene: str) -> str:
        s = self.spec.scenes.get(scene)
        if s and s.action:
            return s.action
        if s:
            return self.spec.severity_actions.get(s.severity, self.spec.default_action)
        return self.spec.default_action

    def meta(self, scene: str) -> dict[str, str]:
        s = self.spec.scenes.get(scene)
        return {"title": s.title if s and s.title else scene,
                "severity": s.severity if s else "medium", "action": self.action(scene)}

    def dimension_weights(self, scene: str) -> dict[str, float]:
        out = dict.fromkeys(DIMENSIONS, 1.0)
        out.update(self.spec.dimension_weights)
        s = self.spec.scenes.get(scene)
        if s and s.dimension_weights:
            out.update(s.dimension_weights)
        return out

    def rule(self, scene: str, calibrated: float | None = None) -> Rule:
        t = self.threshold(scene, calibrated)
        key = scene_key(scene)
        return Rule(
            name=f"scene_{key}",
            when=Condition(all=[
                Condition(field="scene", op="eq", value=key),
                Condition(field="match_degree", op="gte", value=t),
            ]),
            reason=f"match degree with {scene} at or above {t:.2f}",
            effect={"risky": True, "action": self.action(scene)},
        )

    # ---------------------------------------------------------------- deciding
    def _compiled_for(self, scene: str, t: float) -> CompiledRules:
        c = self._compiled.get((scene, t))
        if c is None:
            c = compile_rules([self.rule(scene, t)])
            self._compiled[(scene, t)] = c
        return c

    def new_grid(self, n_scenes: int) -> np.ndarray:
        """An empty verdict grid (scene × level) a caller may keep for one scene list."""
        return np.full((n_scenes, LEVELS), -1, dtype=np.int8)

    def decide(self, scenes: list[str], scene_idx: np.ndarray, degree: np.ndarray,
               calibrated: np.ndarray | None = None, grid: np.ndarray | None = None
               ) -> np.ndarray:
        """Risky verdicts for (scene index, match degree) pairs, decided by the rule engine.

        Parameters
        ----------
        scenes
            Scene names indexed by ``scene_idx``.
        scene_idx, degree
            The best scene and its match degree per event.
        calibrated
            Per scene index: the knowledge base's calibrated threshold (for ``auto``).
        grid
            The caller's verdict grid for this exact ``scenes``/``calibrated`` (from
            :meth:`new_grid`); without it one is kept per distinct scene list.
        """
        level = np.clip(np.floor(np.asarray(degree) / STEP + 1e-9), 0, LEVELS - 1)
        level = level.astype(np.int64)
        sidx = np.asarray(scene_idx, dtype=np.int64)
        with self._lock:
            if grid is None:
                key = (tuple(scenes),
                       None if calibrated is None else tuple(np.asarray(calibrated)))
                grid = self._grids.get(key)
                if grid is None:
                    grid = self.new_grid(len(scenes))
                    self._grids[key] = grid
            verdict = grid[sidx, level]
            unknown = verdict < 0
            if unknown.any():
                pairs = np.unique(sidx[unknown] * LEVELS + level[unknown])
                for s in np.unique(pairs // LEVELS):
                    name = scenes[int(s)]
                    t = self.threshold(name, None if calibrated is None else float(calibrated[s]))
                    grid[s] = self._levels(name, t, pairs[pairs // LEVELS == s] % LEVELS)
                verdict = grid[sidx, level]
        return verdict == 1

    def decide_one(self, scenes: list[str], scene_idx: np.ndarray, degree: np.ndarray,
                   calibrated: np.ndarray | None = None, grid: np.ndarray | None = None
                   ) -> np.ndarray:
        """:meth:`decide` for one event (1-element arrays): a verdict already in ``grid`` is
        read without the batched bookkeeping; anything else goes through :meth:`decide`."""
        if grid is not None:
            lv = float((np.floor(np.asarray(degree) / STEP + 1e-9))[0])
            if 0.0 <= lv < LEVELS:  # in range and not NaN (what the clip would leave alone)
                v = grid[int(scene_idx[0]), int(lv)]
                if v >= 0:
                    return np.array([v == 1])
        return self.decide(scenes, scene_idx, degree, calibrated, grid)

    def _levels(self, name: str, t: float, todo: np.ndarray) -> np.ndarray:
        """The verdict row of one (scene, threshold), asking the engine for ``todo`` levels."""
        table = self._tables.get((name, t))
        if table is None:
            table = np.full(LEVELS, -1, dtype=np.int8)
            self._tables[(name, t)] = table
        todo = todo[table[todo] < 0]
        if len(todo):
            key = scene_key(name)
            facts = [{"scene": key, "match_degree": round(int(k) * STEP, 2)} for k in todo]
            fired = self._compiled_for(name, t).evaluate(facts)
            self.engine_facts += len(facts)
            table[todo] = [1 if f else 0 for f in fired]
        return table

    def warm(self, scenes: list[str], calibrated: np.ndarray | None = None) -> None:
        """Ask the engine for every grid level of every scene (fills the verdict tables)."""
        for i in range(len(scenes)):
            self.decide(scenes, np.full(LEVELS, i), np.arange(LEVELS) * STEP, calibrated)
