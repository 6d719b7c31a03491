"""Match relation data against the knowledge base (claims 7–8) and explain the decision.

For each event: the feature distance to every scene in every dimension (one matrix product per
dimension over all scenes' clusters: ``Σ w(z−μ)² = (z²)·w − 2 z·(wμ) + Σ wμ²``, then the
minimum over each scene's clusters), the scene distance, the **match degree** per scene
(:func:`paver.risk.kb.match_degree`), scenes ranked by it, the best scene named, and the rule of
that scene (``rules/risk_scenes.yaml`` through :class:`paver.risk.scenes.SceneRules`) deciding
whether the event is risky. Batches run in row blocks that stay in cache; products are float32
by default (float64 on request).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paver.risk.events import DIMENSIONS, scene_key
from paver.risk.explain import UNITS, dimension_text, driver_text, to_user
from paver.risk.features import (
    FEATURE_MEANINGS,
    FEATURE_NAMES,
    FEATURES,
    N_FEATURES,
    SLICES,
)
from paver.risk.kb import KnowledgeBase
from paver.risk.scenes import SceneRules

N_DRIVERS = 5
_BARE = [name.split(".", 1)[1] for name in FEATURE_NAMES]
BLOCK = 4096


@dataclass
class MatchTimings:
    distances: float = 0.0
    ranking: float = 0.0
    rules: float = 0.0


@dataclass
class MatchResult:
    """Per-event arrays of one batch (``n`` events, ``S`` scenes, ``k`` = top-k)."""

    dim_d2: np.ndarray  # (n, 4, S): distance per dimension and scene
    degree: np.ndarray  # (n, S)
    top: np.ndarray  # (n, k) scene indices, best first
    top_degree: np.ndarray  # (n, k)
    risky: np.ndarray  # (n,)
    timings: MatchTimings = field(default_factory=MatchTimings)

    @property
    def best(self) -> np.ndarray:
        return self.top[:, 0]

    @property
    def best_degree(self) -> np.ndarray:
        return self.top_degree[:, 0]

    @property
    def margin(self) -> np.ndarray:
        if self.top_degree.shape[1] < 2:
            return self.top_degree[:, 0].copy()
        return self.top_degree[:, 0] - self.top_degree[:, 1]


class Matcher:
    """Knowledge base + scene rules, precomputed for fast batched matching.

    Parameters
    ----------
    kb
        The knowledge base.
    rules
        Scene thresholds and metadata.
    dtype
        ``float32`` (default) or ``float64`` for the distance products.
    """

    def __init__(self, kb: KnowledgeBase, rules: SceneRules, dtype: Any = np.float32) -> None:
        self.kb = kb
        self.rules = rules
        self.dtype = dtype
        S = kb.n_scenes
        self.top_k = min(rules.spec.top_k, S)
        self._w2: list[np.ndarray] = []
        self._w1: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        for d in DIMENSIONS:
            mu, sd, ok = kb.centroids[d], kb.spreads[d], kb.valid[d]
            if not ok.any(axis=1).all():
                raise ValueError(f"every scene needs a cluster in dimension {d}")
            fd = mu.shape[-1]
            w = 1.0 / (sd * sd) / fd  # the mean over features folded into the weights
            cols = np.argwhere(ok)  # (scene, cluster), ordered by scene
            ws, ms = w[cols[:, 0], cols[:, 1]], mu[cols[:, 0], cols[:, 1]]
            self._w2.append(np.ascontiguousarray(ws.T, dtype=dtype))
            self._w1.append(np.ascontiguousarray((-2.0 * ws * ms).T, dtype=dtype))
            self._c.append((ws * ms * ms).sum(-1).astype(dtype))
            self._starts.append(np.searchsorted(cols[:, 0], np.arange(S)))
        dw = kb.dim_weights / kb.dim_weights.sum(-1, keepdims=True)
        self._dw = dw
        self._dwT = np.ascontiguousarray(dw.T, dtype=dtype)  # (4, S)
        self._inv_rho = (1.0 / kb.degree_scale()).astype(dtype)
        self._center = kb.center.astype(dtype)
        self._inv_scale = (1.0 / kb.scale).astype(dtype)
        self._slices = [SLICES[d] for d in DIMENSIONS]
        # explanation helpers (float64)
        ex = [np.flatnonzero(kb.exemplar_scene == s) for s in range(S)]
        self._ex_rows = [np.ascontiguousarray(kb.exemplars[e]) for e in ex]
        self._ex_txn = [[kb.exemplar_txn[int(k)] for k in e] for e in ex]
        self._inv_scale64 = 1.0 / kb.scale
        k_max = max(kb.centroids[d].shape[1] for d in DIMENSIONS)
        self._pad = []
        for sc in range(S):
            mu_pad = np.zeros((len(DIMENSIONS) * k_max, N_FEATURES))
            isd_pad = np.zeros_like(mu_pad)
            bad = np.ones(len(DIMENSIONS) * k_max, dtype=bool)
            for j, d in enumerate(DIMENSIONS):
                kd = kb.centroids[d].shape[1]
                rows = slice(j * k_max, j * k_max + kd)
                mu_pad[rows, SLICES[d]] = kb.centroids[d][sc]
                isd_pad[rows, SLICES[d]] = 1.0 / kb.spreads[d][sc]
                bad[rows] = ~kb.valid[d][sc]
            self._pad.append((mu_pad, isd_pad, bad))
        self._dw_list = np.round(dw, 4).tolist()
        pop = np.asarray(kb.meta.get("population_mean") or kb.center, dtype=np.float64)
        # flags and shares: the population's mean (a median of 0/1 hides how common it is)
        mean_wise = np.array([UNITS.get(_BARE[f]) in ("flag", "share")
                              for f in range(N_FEATURES)])
        self._population = np.where(mean_wise, pop, kb.center).tolist()
        self._thresholds = [rules.threshold(kb.scenes[s], float(kb.thresholds[s]))
                            for s in range(S)]
        self._grid = rules.new_grid(S)
        self._dim_rows = np.arange(len(DIMENSIONS)) * k_max
        self._meta = [rules.meta(kb.scenes[s]) for s in range(S)]
        self._rule_names = [f"scene_{scene_key(kb.scenes[s])}" for s in range(S)]

    # ---------------------------------------------------------------- batched matching
    def scaled(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=self.dtype) - self._center) * self._inv_scale

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Per-dimension scene distances ``(n, 4, S)`` of raw feature rows."""
        X = np.atleast_2d(X)
        n, S = X.shape[0], self.kb.n_scenes
        out = np.empty((n, len(DIMENSIONS), S), dtype=self.dtype)
        minimum = np.minimum.reduceat
        for s in range(0, n, BLOCK):
            Z = self.scaled(X[s : s + BLOCK])
            Z2 = Z * Z
            o = out[s : s + BLOCK]
            for j, sl in enumerate(self._slices):
                q = Z2[:, sl] @ self._w2[j]
                q += Z[:, sl] @ self._w1[j]
                q += self._c[j]
                minimum(q, self._starts[j], axis=1, out=o[:, j])
        np.maximum(out, 0.0, out=out)
        return out

    def match(self, X: np.ndarray, decide: bool = True) -> MatchResult:
        """Match raw feature rows ``X`` (n × F) against every scene."""
        t0 = time.perf_counter()
        dim_d2 = self.distances(X)
        d2 = np.einsum("njs,js->ns", dim_d2, self._dwT)
        degree = 1.0 / (1.0 + d2 * self._inv_rho)
        t1 = time.perf_counter()
        n, S = degree.shape
        k = self.top_k
        if n == 1:  # one event (the per-event path): no batched bookkeeping
            top = np.argsort(-degree, axis=1, kind="stable")[:, :k]
            top_degree = degree[0, top[0]][None]
        elif n <= 4:  # a few events: plain indexing is cheaper than the batched calls
            top = np.argsort(-degree, axis=1, kind="stable")[:, :k]
            top_degree = degree[np.arange(n)[:, None], top]
        elif k == 1:
            top = degree.argmax(axis=1)[:, None]
        elif k < S:
            top = np.argpartition(-degree, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(S), (n, S))
        if n > 4:
            td = np.take_along_axis(degree, top, axis=1)
            order = np.argsort(-td, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_degree = np.take_along_axis(td, order, axis=1)
        t2 = time.perf_counter()
        if not decide:
            risky = np.zeros(n, dtype=bool)
        elif n == 1:
            risky = self.rules.decide_one(self.kb.scenes, top[:, 0], top_degree[:, 0],
                                          self.kb.thresholds, grid=self._grid)
        else:
            risky = self.rules.decide(self.kb.scenes, top[:, 0], top_degree[:, 0],
                                      self.kb.thresholds, grid=self._grid)
        t3 = time.perf_counter()
        return MatchResult(dim_d2, degree, top, top_degree, risky,
                           MatchTimings(t1 - t0, t2 - t1, t3 - t2))

    def warm_rules(self) -> int:
        """Ask the rule engine for every (scene, match-degree level) once; returns facts asked.

        Afterwards no decision waits for the engine (about 3,200 facts for 32 scenes).
        """
        from paver.risk.scenes import LEVELS, STEP

        before = self.rules.engine_facts
        S = self.kb.n_scenes
        self.rules.decide(self.kb.scenes, np.repeat(np.arange(S), LEVELS),
                          np.tile(np.arange(LEVELS) * STEP, S), self.kb.thresholds,
                          grid=self._grid)
        return self.rules.engine_facts - before

    def threshold(self, s: int) -> float:
        """The threshold scene ``s`` is decided with (YAML number, or the KB's calibrated one)."""
        return self._thresholds[s]

    # ---------------------------------------------------------------- explanations
    def explain(self, res: MatchResult, i: int, x_raw: np.ndarray, currency: str = ""
                ) -> dict[str, Any]:
        """The explanation of event ``i`` of a batch (``x_raw`` its raw feature row), every
        value in the user's units with a sentence (:mod:`paver.risk.explain`)."""
        kb = self.kb
        top_idx = res.top[i].tolist()
        s = top_idx[0]
        x = np.asarray(x_raw, dtype=np.float64)
        z = (x - kb.center) * self._inv_scale64
        top_deg = res.top_degree[i].tolist()
        runner = top_idx[1] if len(top_idx) > 1 else None
        d2 = res.dim_d2[i].tolist()  # [dimension][scene]
        # nearest cluster of the scene in every dimension at once (padded block layout)
        mu_pad, isd_pad, bad = self._pad[s]
        diff = z - mu_pad
        diff *= isd_pad
        dd = (diff * diff).sum(-1)
        dd[bad] = np.inf
        near = dd.reshape(len(DIMENSIONS), -1).argmin(axis=1)
        mu_near = mu_pad[self._dim_rows + near].sum(axis=0)
        near_l = near.tolist()
        dw = self._dw_list[s]
        dims = [{
            "dimension": d, "distance": round(d2[j][s], 4),
            "runner_up_distance": round(d2[j][runner], 4) if runner is not None else None,
            "weight": dw[j], "cluster": near_l[j],
        } for j, d in enumerate(DIMENSIONS)]
        dims.sort(key=_by_distance)
        for row in dims:
            row["text"] = dimension_text(row, kb.scenes[s],
                                         kb.scenes[runner] if runner is not None else None)
        # support of each feature: how much nearer the scene's cluster than the population
        support = z * z - (z - mu_near) ** 2
        cand = np.argpartition(-support, N_DRIVERS)[:N_DRIVERS]
        cand = cand[np.argsort(-support[cand])].tolist()
        sup = support.tolist()
        typ = (mu_near * kb.scale + kb.center).tolist()
        xs = x.tolist()
        pop = self._population
        scene_label = kb.scenes[s]
        drivers = []
        for f in cand:
            if sup[f] <= 0:
                continue
            bare = _BARE[f]
            v, st, pt = (to_user(bare, xs[f]), to_user(bare, typ[f]), to_user(bare, pop[f]))
            drivers.append({
                "feature": FEATURE_NAMES[f], "meaning": FEATURE_MEANINGS[f],
                "unit": UNITS.get(bare, "number"), "value": round(v, 4) + 0.0,
                "scene_typical": round(st, 4) + 0.0, "population_typical": round(pt, 4) + 0.0,
                "support": round(sup[f], 4),
                "text": driver_text(bare, FEATURE_MEANINGS[f], v, scene_label, st, pt,
                                    currency),
            })
        exemplar = None
        ex = self._ex_rows[s]
        if len(ex):
            dist = ex - z
            dist *= dist
            dist = dist.sum(-1)
            e = int(dist.argmin())
            exemplar = {"txn_id": self._ex_txn[s][e], "scene": kb.scenes[s],
                        "distance": round(math.sqrt(dist[e]), 4)}
        scenes = kb.scenes
        summary = (f"closest to {scenes[s]} (match degree {top_deg[0]:.2f}, decided at "
                   f"{self._thresholds[s]:.2f})")
        if runner is not None:
            summary += f"; next {scenes[runner]} ({top_deg[1]:.2f})"
        return {
            "summary": summary,
            "top_scenes": [{"scene": scenes[j], "match_degree": round(m, 4)}
                           for j, m in zip(top_idx, top_deg, strict=True)],
            "margin": round(top_deg[0] - top_deg[1] if runner is not None else top_deg[0], 4),
            "runner_up": scenes[runner] if runner is not None else None,
            "dimensions": dims,
            "drivers": drivers,
            "exemplar": exemplar,
            "rule": self._rule_names[s],
            "threshold": self._thresholds[s],
        }

    def decision(self, res: MatchResult, i: int, x_raw: np.ndarray, event_id: str,
                 partial: bool = False, extra: dict[str, Any] | None = None,
                 currency: str = "") -> dict[str, Any]:
        """The decision record of event ``i``: verdict, best scene, degree and explanation."""
        s = int(res.top[i, 0])
        risky = bool(res.risky[i])
        meta = self._meta[s]
        out = {
            "event_id": event_id,
            "risky": risky,
            "scene": self.kb.scenes[s],
            "match_degree": round(float(res.top_degree[i, 0]), 4),
            "threshold": self._thresholds[s],
            "action": meta["action"] if risky else "allow",
            "severity": meta["severity"],
            "kb_version": self.kb.version,
            "partial": partial,
            "explanation": self.explain(res, i, x_raw, currency),
        }
        if extra:
            out.update(extra)
        return out


def _by_distance(r: dict[str, Any]) -> Any:
    return r["distance"]


def feature_dict(x_raw: np.ndarray) -> dict[str, dict[str, float]]:
    """Raw features grouped by dimension (for API responses)."""
    vals = np.round(np.asarray(x_raw, dtype=np.float64), 4).tolist()
    return {d: dict(zip(FEATURES[d], vals[SLICES[d]], strict=True)) for d in DIMENSIONS}
