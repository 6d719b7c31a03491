"""The risk-scene knowledge base (claim 9): per-scene, per-dimension clusters of risky samples.

Building
--------
1. Features are scaled by the training population (median and standard deviation of every
   feature over all training rows, risky and normal).
2. For each scene and each dimension type, the scene's risky samples are clustered with k-means;
   ``k`` is chosen from the data by the silhouette score over ``k = 2..k_max`` (``k = 1`` when
   there are too few samples or no clear structure, silhouette < 0.25). Each cluster keeps its
   centroid and a per-feature spread (shrunk towards a floor, so a feature constant within the
   scene still tolerates small deviations).
3. The distance of an event to a scene in one dimension is the smallest mean squared
   standardised deviation to the scene's clusters in that dimension; the scene distance ``D²``
   is the weighted mean over dimensions.
4. The **match degree** of a scene is ``1 / (1 + D² / ρ_s)``; the best scene of an event is
   the one of the highest degree. ``ρ_s = ρ₀^(1−α) · ρ²_s^α`` with ``ρ₀`` the median of the
   scenes' boundaries below: ``α = 1`` ranks scenes by distance relative to each one's own
   boundary (a wide scene is not outranked by a tight one), ``α = 0`` by plain distance (a
   scene far from normal traffic, hence with a wide boundary, does not take over its
   neighbours). ``α`` is chosen from the labelled samples (step 6).
5. Calibration: the boundary ``ρ²`` of a scene is the distance that best separates its samples
   (out-of-fold distances: clusters refitted without the sample's group) from the normal
   training rows (best F1); with no normal rows, 1.5 × the 95th percentile of the samples'
   distances. Its **calibrated threshold** is the match degree at that boundary, on the 0.01
   grid; ``rules/risk_scenes.yaml`` uses it where a threshold is ``auto``.
6. Scene ranking: ``α`` (0, ¼, ½, ¾ or 1) is the one that names the labelled risky samples'
   scenes best (mean recall over scenes; own-scene distances out of fold as in step 5, distances
   to other scenes as built); ties keep the larger ``α``. Samples an analyst confirmed under
   another scene than the alert named (:mod:`paver.risk.feedback`) are what teaches it where
   two scenes meet.

Storage: :meth:`KnowledgeBase.to_bytes` / :meth:`from_bytes` (``npz`` arrays + JSON metadata,
no pickle); :class:`LocalKBRepository` (a directory, ``--kb DIR``) and
:class:`paver.risk.aws_kb.S3KBRepository` (S3 artifact + ``RiskScenes`` rows) keep every
version readable and point ``latest`` at the newest.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from paver.errors import Conflict, InvalidInput, NotFound, PaverError
from paver.risk.events import DIMENSIONS
from paver.risk.features import FEATURE_NAMES, FEATURES, N_FEATURES, SLICES

SIGMA_FLOOR = 0.3
BINARY_SPREADS = True
RELEVANCE_PRIOR = 1.0
RELEVANCE_OTHERS = 8.0
RELEVANCE_CAP = 25.0
SHRINK = 2.0
K_MAX = 8
MIN_SILHOUETTE = 0.25
MAX_EXEMPLARS = 200
MAX_CALIBRATION_NORMALS = 20000
#: Training rows whose features and match degrees make the drift reference.
MAX_DRIFT_ROWS = 20000
#: ``learned``: per-scene feature weights fitted to separate the scene's samples from every
#: other training row (see :func:`learn_weights`); ``fisher``: the closed-form relevance.
WEIGHTING = "learned"
LEARN_C = 0.1
TERM_CAP = 25.0
WEIGHT_FLOOR = 0.05
MAX_LEARNING_NORMALS = 20000
#: A normal event below a scene's boundary is flagged whichever scene flags it, so every scene's
#: boundary is set as if each of its false positives counted this many times.
NEG_WEIGHT = 2.0
FORMAT = 2


class KBError(PaverError):
    """The knowledge base cannot be built or read (message says why); raised as one of the
    kinds below, which say whose move it is."""


class NoKnowledgeBase(KBError, NotFound):
    """No knowledge base has been built yet, or no such version (404)."""


class KBBuildError(KBError, InvalidInput):
    """The labelled samples cannot make a knowledge base (400: too few, wrong shape)."""


class KBIncompatible(KBError, Conflict):
    """The stored artifact is unreadable or from another format or feature set (409: rebuild)."""


@dataclass
class KnowledgeBase:
    """Scene relation data: cluster centroids and spreads per scene and dimension.

    Attributes
    ----------
    scenes
        Scene names, in index order.
    center, scale
        Population scaling of the raw features (length :data:`N_FEATURES`).
    centroids, spreads
        Per dimension: arrays ``(S, K, F_d)`` in scaled units (padded clusters are invalid).
    valid
        Per dimension: ``(S, K)`` booleans.
    rho2, thresholds
        Calibrated boundary distance and the match degree at it (0.01 grid), per scene.
    rho0
        Scale of the match degree (``1 / (1 + D² / rho0)``).
    dim_weights
        ``(S, 4)`` weights of the dimensions in the scene distance.
    sample_count, group_count
        Training risky samples (transactions) and pattern instances per scene.
    exemplars, exemplar_scene, exemplar_txn
        A sample of labelled training rows (scaled features), their scene index and txn id.
    """

    scenes: list[str]
    center: np.ndarray
    scale: np.ndarray
    centroids: dict[str, np.ndarray]
    spreads: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    rho2: np.ndarray
    thresholds: np.ndarray
    rho0: float
    dim_weights: np.ndarray
    sample_count: np.ndarray
    group_count: np.ndarray
    exemplars: np.ndarray
    exemplar_scene: np.ndarray
    exemplar_txn: list[str]
    version: str = ""
    created_at: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_scenes(self) -> int:
        return len(self.scenes)

    def clusters(self, s: int) -> dict[str, int]:
        return {d: int(self.valid[d][s].sum()) for d in DIMENSIONS}

    def scene_summary(self) -> list[dict[str, Any]]:
        return [
            {"scene": name, "sample_count": int(self.sample_count[i]),
             "group_count": int(self.group_count[i]), "clusters": self.clusters(i),
             "calibrated_threshold": float(self.thresholds[i])}
            for i, name in enumerate(self.scenes)
        ]

    # ------------------------------------------------------------------ serialisation
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {
            "center": self.center, "scale": self.scale, "rho2": self.rho2,
            "thresholds": self.thresholds, "rho0": np.array([self.rho0]),
            "dim_weights": self.dim_weights, "sample_count": self.sample_count,
            "group_count": self.group_count, "exemplars": self.exemplars,
            "exemplar_scene": self.exemplar_scene,
        }
        for d in DIMENSIONS:
            arrays[f"centroids_{d}"] = self.centroids[d]
            arrays[f"spreads_{d}"] = self.spreads[d]
            arrays[f"valid_{d}"] = self.valid[d]
        meta = {
            "format": FORMAT, "scenes": self.scenes, "feature_names": list(FEATURE_NAMES),
            "exemplar_txn": self.exemplar_txn, "version": self.version,
            "created_at": self.created_at, "meta": self.meta,
        }
        arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> KnowledgeBase:
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            meta = json.loads(bytes(z["meta_json"]).decode("utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise KBIncompatible(f"not a knowledge-base artifact: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise KBIncompatible(f"knowledge-base format {meta.get('format')} is not supported")
        if list(meta["feature_names"]) != list(FEATURE_NAMES):
            raise KBIncompatible("knowledge base was built with other features: rebuild it")
        return cls(
            scenes=list(meta["scenes"]), center=z["center"], scale=z["scale"], rho2=z["rho2"],
            thresholds=z["thresholds"], rho0=float(z["rho0"][0]),
            centroids={d: z[f"centroids_{d}"] for d in DIMENSIONS},
            spreads={d: z[f"spreads_{d}"] for d in DIMENSIONS},
            valid={d: z[f"valid_{d}"] for d in DIMENSIONS},
            dim_weights=z["dim_weights"], sample_count=z["sample_count"],
            group_count=z["group_count"], exemplars=z["exemplars"],
            exemplar_scene=z["exemplar_scene"], exemplar_txn=list(meta["exemplar_txn"]),
            version=meta["version"], created_at=meta["created_at"], meta=meta["meta"],
        )

    def scaled(self, X: np.ndarray) -> np.ndarray:
        return (X - self.center) / self.scale

    def degree_scale(self) -> np.ndarray:
        """Per scene: the ``ρ`` of its match degree ``1 / (1 + D² / ρ)``.

        Per-scene knowledge bases use ``ρ₀^(1−α) · ρ²^α`` (module steps 4 and 6; ``α = 1``, each
        scene's own boundary, when the version was built without ``ranking_alpha``: a degree
        of 0.5 is then the boundary of every scene); older ones share ``rho0``.
        """
        if self.meta.get("degree_scale") == "per_scene":
            alpha = float(self.meta.get("ranking_alpha", 1.0))  # absent: built before step 6
            return self.rho0 ** (1.0 - alpha) * np.asarray(self.rho2, dtype=np.float64) ** alpha
        return np.full(self.n_scenes, self.rho0)


# ---------------------------------------------------------------------------------------------
# Distances (shared by building and matching)


def dimension_distances(kb: KnowledgeBase, Z: np.ndarray) -> np.ndarray:
    """Squared distances ``(n, S, 4)`` of scaled rows ``Z`` to every scene in every dimension."""
    n = Z.shape[0]
    out = np.empty((n, kb.n_scenes, len(DIMENSIONS)))
    for s in range(0, n, 2048):
        rows = slice(s, min(n, s + 2048))
        for j, d in enumerate(DIMENSIONS):
            zd = Z[rows, SLICES[d]]
            mu, sd, ok = kb.centroids[d], kb.spreads[d], kb.valid[d]
            diff = (zd[:, None, None, :] - mu[None]) / sd[None]
            d2 = np.mean(diff * diff, axis=-1)
            d2 = np.where(ok[None], d2, np.inf)
            out[rows, :, j] = d2.min(axis=-1)
    return out


def scene_distance(kb: KnowledgeBase, dim_d2: np.ndarray) -> np.ndarray:
    w = kb.dim_weights
    return (dim_d2 * w[None]).sum(-1) / w.sum(-1)[None]


def match_degree(d2: np.ndarray, rho0: float | np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + d2 / rho0)


# ---------------------------------------------------------------------------------------------
# Building


def _kmeans(Zd: np.ndarray, seed: int, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cluster rows; return (labels, centroids). ``k=None`` chooses k by silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(Zd)
    uniq = np.unique(Zd, axis=0)
    k_max = min(K_MAX, n // 5, len(uniq))
    if k is None:
        best_k, best_s, best_lab = 1, MIN_SILHOUETTE, None
        for kk in range(2, k_max + 1):
            km = KMeans(n_clusters=kk, n_init=3, random_state=seed).fit(Zd)
            if len(np.unique(km.labels_)) < 2:
                continue
            s = silhouette_score(Zd, km.labels_, sample_size=min(n, 2000), random_state=seed)
            if s > best_s:
                best_k, best_s, best_lab = kk, s, km.labels_
        if best_lab is None:
            return np.zeros(n, dtype=int), Zd.mean(axis=0, keepdims=True)
        k = best_k
        labels = best_lab
    else:
        k = max(1, min(k, len(uniq)))
        if k == 1:
            return np.zeros(n, dtype=int), Zd.mean(axis=0, keepdims=True)
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(Zd).labels_
    cents = np.stack([Zd[labels == c].mean(axis=0) for c in range(k) if (labels == c).any()])
    remap = {c: i for i, c in enumerate(c for c in range(k) if (labels == c).any())}
    return np.array([remap[c] for c in labels]), cents


def _spreads(Zd: np.ndarray, labels: np.ndarray, cents: np.ndarray,
             binary: np.ndarray | None = None, scale: np.ndarray | None = None) -> np.ndarray:
    """Per-cluster, per-feature spread (scaled units).

    Continuous features: the cluster's standard deviation shrunk towards ``SIGMA_FLOOR``.
    Binary (0/1) features: the Laplace-smoothed Bernoulli deviation ``√(p(1−p))`` with
    ``p = (ones + 1) / (n + 2)``, so a value never seen in a small cluster costs a bounded
    amount instead of an arbitrarily large one.
    """
    out = np.empty_like(cents)
    for c in range(len(cents)):
        m = Zd[labels == c]
        var = m.var(axis=0) if len(m) > 1 else np.zeros(cents.shape[1])
        n = len(m)
        out[c] = np.maximum(np.sqrt((n * var + SHRINK * SIGMA_FLOOR**2) / (n + SHRINK)),
                            SIGMA_FLOOR)
        if binary is not None and scale is not None and binary.any():
            raw = m[:, binary] * scale[binary]  # back to 0/1 (centred): ones = raw > min
            ones = (raw > raw.min(axis=0, initial=np.inf) + 0.5).sum(axis=0) if n else 0
            p = (ones + 1.0) / (n + 2.0)
            out[c, binary] = np.sqrt(p * (1 - p)) / scale[binary]
    return out


Ref = list[tuple[np.ndarray, np.ndarray, float]]


def relevance(Zs: np.ndarray, refs: Ref) -> np.ndarray:
    """Per-feature relevance of a scene: separation of its samples from reference populations.

    ``RELEVANCE_PRIOR + Σ_ref w_ref (μ_s − μ_ref)² / (σ_s² + σ_ref²)`` over the references
    (normal training rows, weight 1; every other scene, weight ``RELEVANCE_OTHERS / (S−1)``),
    normalised to mean 1 within each dimension. It divides the squared spreads, so features in
    which the scene differs from normal traffic and from the other scenes weigh more.
    """
    mu = Zs.mean(axis=0)
    var = Zs.var(axis=0)
    r = np.full(Zs.shape[1], RELEVANCE_PRIOR)
    for ref_mean, ref_var, w in refs:
        r = r + w * np.minimum(RELEVANCE_CAP, (mu - ref_mean) ** 2 / (var + ref_var + 1e-3))
    out = np.empty_like(r)
    for d in DIMENSIONS:
        sl = SLICES[d]
        out[sl] = r[sl] / r[sl].mean()
    return out


def feature_terms(Z: np.ndarray, fit: Any) -> np.ndarray:
    """Per row and feature: the squared standardised deviation from the scene's nearest
    cluster in that feature's dimension (the terms whose mean is the dimension distance)."""
    cents, sprs = fit
    T = np.empty_like(Z)
    for d in DIMENSIONS:
        sl = SLICES[d]
        t = ((Z[:, None, sl] - cents[d][None]) / sprs[d][None]) ** 2
        near = t.mean(-1).argmin(1)
        T[:, sl] = t[np.arange(len(Z)), near]
    return T


def learn_weights(Z: np.ndarray, is_scene: np.ndarray, fit: Any) -> np.ndarray:
    """Per-feature weights of one scene's distance, learned from labelled rows.

    A logistic regression (balanced classes) predicts "this row is the scene" from the row's
    :func:`feature_terms` (capped at :data:`TERM_CAP`); a feature whose deviation from the
    scene's clusters makes a row less likely to be the scene gets the weight
    ``−coefficient`` (negative coefficients are cut to 0), normalised to mean 1 and floored at
    :data:`WEIGHT_FLOOR`. The weights multiply the feature's term in the distance, so the
    distance stays a sum of per-feature deviations one can read off.
    """
    from sklearn.linear_model import LogisticRegression

    T = np.minimum(feature_terms(Z, fit), TERM_CAP)
    lr = LogisticRegression(C=LEARN_C, class_weight="balanced", max_iter=500)
    w = np.maximum(0.0, -lr.fit(T, is_scene).coef_[0])
    if w.sum() <= 0:
        return np.ones(Z.shape[1])
    return np.maximum(w / w.mean(), WEIGHT_FLOOR)


def _fit_scene(Z: np.ndarray, seed: int, ks: Mapping[str, int] | None = None,
               ref: Ref | None = None, binary: np.ndarray | None = None,
               scale: np.ndarray | None = None, weights: np.ndarray | None = None,
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    cents: dict[str, np.ndarray] = {}
    sprs: dict[str, np.ndarray] = {}
    if weights is not None:
        rel = weights
    else:
        rel = relevance(Z, ref) if ref else np.ones(Z.shape[1])
        if binary is not None:
            rel = np.where(binary, 1.0, rel)  # binary spreads are already calibrated
    for d in DIMENSIONS:
        sl = SLICES[d]
        zd = Z[:, sl]
        lab, c = _kmeans(zd, seed, None if ks is None else ks[d])
        cents[d] = c
        b = None if binary is None else binary[sl]
        sc = None if scale is None else scale[sl]
        sprs[d] = _spreads(zd, lab, c, b, sc) / np.sqrt(rel[sl])
    return cents, sprs


def _pack(fits: Sequence[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]
          ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    S = len(fits)
    cents, sprs, valid = {}, {}, {}
    for d in DIMENSIONS:
        fd = len(FEATURES[d])
        k = max(1, max(len(f[0][d]) for f in fits)) if fits else 1
        C = np.zeros((S, k, fd))
        P = np.ones((S, k, fd))
        V = np.zeros((S, k), dtype=bool)
        for s, (c, p) in enumerate(fits):
            C[s, : len(c[d])] = c[d]
            P[s, : len(p[d])] = p[d]
            V[s, : len(c[d])] = True
        cents[d], sprs[d], valid[d] = C, P, V
    return cents, sprs, valid


def _best_f1_cut(pos: np.ndarray, neg: np.ndarray, neg_weight: float = 1.0) -> float:
    """The distance cut (``d ≤ cut`` is positive) with the best F1 (each negative below the
    cut counting ``neg_weight`` false positives)."""
    vals = np.concatenate([pos, neg])
    is_pos = np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)])
    order = np.argsort(vals, kind="stable")
    v, p = vals[order], is_pos[order]
    tp = np.cumsum(p)
    fp = np.cumsum(~p) * neg_weight
    last = np.r_[v[1:] != v[:-1], True]  # cut after a run of equal values
    f1 = np.where(last, 2 * tp / (tp + fp + len(pos)), -1)
    i = int(np.argmax(f1))
    nxt = v[i + 1] if i + 1 < len(v) else v[i] * 2 + 1e-9
    return float(max(1e-6, (v[i] + nxt) / 2 if np.isfinite(nxt) else v[i] * 2))


def build_knowledge_base(
    X: np.ndarray,
    scene: Sequence[str | None],
    group: Sequence[str | None],
    txn_id: Sequence[str],
    dim_weights: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 0,
    min_samples: int = 3,
    calibration_folds: int = 3,
) -> KnowledgeBase:
    """Cluster each scene's risky samples per dimension and calibrate its match degree.

    Parameters
    ----------
    X
        Raw feature rows (n × :data:`N_FEATURES`) of the training transactions.
    scene, group
        Per row: the scene (``None`` = normal) and the pattern instance.
    txn_id
        Per row, kept for exemplars.
    dim_weights
        ``{scene: {dimension: weight}}``; missing scenes/dimensions weigh 1.
    """
    t_start = time.perf_counter()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != N_FEATURES:
        raise KBBuildError(f"expected feature rows of width {N_FEATURES}, got {X.shape}")
    scene_arr = np.array([s or "" for s in scene], dtype=object)
    group_arr = np.array([g or "" for g in group], dtype=object)
    names = sorted({s for s in scene_arr if s})
    counts = {s: int((scene_arr == s).sum()) for s in names}
    dropped = [s for s in names if counts[s] < min_samples]
    names = [s for s in names if counts[s] >= min_samples]
    if not names:
        raise KBBuildError(
            f"no scene has at least {min_samples} labelled risky samples"
            + (f" (too few: {', '.join(dropped)})" if dropped else "")
        )
    center = np.median(X, axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-3, scale, 1.0)
    Z = (X - center) / scale
    binary = np.isin(X, (0.0, 1.0)).all(axis=0) & (X.std(axis=0) > 0) if BINARY_SPREADS \
        else np.zeros(X.shape[1], dtype=bool)
    rng = np.random.default_rng(seed)
    ref_rows = Z[scene_arr == ""] if (scene_arr == "").sum() >= 10 else Z
    stats = {name: (Z[scene_arr == name].mean(axis=0), Z[scene_arr == name].var(axis=0))
             for name in names}
    refs: dict[str, Ref] = {
        name: [(ref_rows.mean(axis=0), ref_rows.var(axis=0), 1.0)] + [
            (*stats[o], RELEVANCE_OTHERS / max(1, len(names) - 1)) for o in names if o != name]
        for name in names
    }
    fits = []
    learned: list[np.ndarray | None] = []
    weights = np.ones((len(names), len(DIMENSIONS)))
    if WEIGHTING == "learned":
        risky_rows = np.flatnonzero(scene_arr != "")
        normal_rows = np.flatnonzero(scene_arr == "")
        if len(normal_rows) > MAX_LEARNING_NORMALS:
            normal_rows = np.sort(rng.choice(normal_rows, MAX_LEARNING_NORMALS, replace=False))
        learn_rows = np.concatenate([risky_rows, normal_rows])
    for s, name in enumerate(names):
        dim_learned = np.ones(len(DIMENSIONS))
        if WEIGHTING == "learned":
            plain = _fit_scene(Z[scene_arr == name], seed, binary=binary, scale=scale)
            w = learn_weights(Z[learn_rows], scene_arr[learn_rows] == name, plain)
            # within a dimension the weights keep mean 1 (dimension distances stay comparable
            # in explanations); each dimension's share goes to its dimension weight
            for j, d in enumerate(DIMENSIONS):
                dim_learned[j] = w[SLICES[d]].mean()
                w[SLICES[d]] /= dim_learned[j]
            dim_learned /= dim_learned.mean()
            learned.append(w)
            fits.append(_fit_scene(Z[scene_arr == name], seed,
                                   {d: len(plain[0][d]) for d in DIMENSIONS},
                                   binary=binary, scale=scale, weights=w))
        else:
            learned.append(None)
            fits.append(_fit_scene(Z[scene_arr == name], seed, ref=refs[name], binary=binary,
                                   scale=scale))
        for j, d in enumerate(DIMENSIONS):
            weights[s, j] = float((dim_weights or {}).get(name, {}).get(d, 1.0)) * dim_learned[j]
    cents, sprs, valid = _pack(fits)
    kb = KnowledgeBase(
        scenes=names, center=center, scale=scale, centroids=cents, spreads=sprs, valid=valid,
        rho2=np.ones(len(names)), thresholds=np.full(len(names), 0.5), rho0=1.0,
        dim_weights=weights,
        sample_count=np.array([counts[s] for s in names]),
        group_count=np.array([len({g for g in group_arr[scene_arr == s]}) for s in names]),
        exemplars=np.zeros((0, N_FEATURES)), exemplar_scene=np.zeros(0, dtype=np.int64),
        exemplar_txn=[],
    )
    # calibration
    normal = np.flatnonzero(scene_arr == "")
    if len(normal) > MAX_CALIBRATION_NORMALS:
        normal = np.sort(rng.choice(normal, MAX_CALIBRATION_NORMALS, replace=False))
    neg_d2 = scene_distance(kb, dimension_distances(kb, Z[normal])) if len(normal) else None
    rho2 = np.ones(len(names))
    risky = np.flatnonzero(scene_arr != "")
    risky_d2 = scene_distance(kb, dimension_distances(kb, Z[risky]))  # own scene: out of fold
    risky_scene = np.array([names.index(v) if v in names else -1 for v in scene_arr[risky]])
    for s, name in enumerate(names):
        rows = np.flatnonzero(scene_arr == name)
        pos = _oof_distances(Z, rows, group_arr[rows], kb, s, fits[s], seed, calibration_folds,
                             refs[name], binary, scale, learned[s])
        risky_d2[risky_scene == s, s] = pos
        if neg_d2 is not None:
            rho2[s] = _best_f1_cut(pos, neg_d2[:, s], NEG_WEIGHT)
        else:
            rho2[s] = 1.5 * float(np.quantile(pos, 0.95))
    kb.rho2 = np.maximum(rho2, 1e-6)
    kb.rho0 = float(np.median(kb.rho2))
    alpha = ranking_alpha(risky_d2[risky_scene >= 0], risky_scene[risky_scene >= 0], kb.rho2)
    kb.meta = {"degree_scale": "per_scene", "ranking_alpha": alpha}
    kb.thresholds = np.clip(np.round(match_degree(kb.rho2, kb.degree_scale()), 2), 0.01, 0.99)
    # exemplars
    ex_rows: list[int] = []
    for name in names:
        rows = np.flatnonzero(scene_arr == name)
        if len(rows) > MAX_EXEMPLARS:
            rows = np.sort(rng.choice(rows, MAX_EXEMPLARS, replace=False))
        ex_rows.extend(rows.tolist())
    kb.exemplars = Z[ex_rows]
    kb.exemplar_scene = np.array([names.index(scene_arr[r]) for r in ex_rows], dtype=np.int64)
    kb.exemplar_txn = [str(txn_id[r]) for r in ex_rows]
    kb.created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kb.meta = {
        "degree_scale": "per_scene", "ranking_alpha": alpha, "weighting": WEIGHTING,
        "feature_weights": ({name: np.round(w, 4).tolist() for name, w in
                             zip(names, learned, strict=True)} if WEIGHTING == "learned"
                            else None),
        "population_mean": np.round(X.mean(axis=0), 6).tolist(),
        "seed": seed, "training_rows": len(X), "normal_rows": int((scene_arr == "").sum()),
        "dropped_scenes": dropped, "build_seconds": round(time.perf_counter() - t_start, 3),
        "sigma_floor": SIGMA_FLOOR, "k_max": K_MAX,
    }
    kb.meta["drift_reference"] = drift_reference(kb, X, rng)
    return stamp_version(kb)


#: Candidate exponents of the scenes' own boundaries in their degree scale (module step 6).
RANKING_ALPHAS = (1.0, 0.75, 0.5, 0.25, 0.0)


def ranking_alpha(d2: np.ndarray, scene: np.ndarray, rho2: np.ndarray) -> float:
    """The ``α`` of :data:`RANKING_ALPHAS` whose degree scale names the samples' scenes best.

    ``d2`` holds the labelled risky samples' distances to every scene (``(n, S)``, their own
    scene's out of fold), ``scene`` their scene index; the score is the mean recall over
    scenes (a small scene counts as much as a large one). With one scene there is nothing to
    rank: 1.
    """
    if d2.shape[1] < 2 or not len(d2):
        return 1.0
    rho0 = float(np.median(rho2))
    best, best_score = 1.0, -1.0
    for alpha in RANKING_ALPHAS:  # larger first: a tie keeps the larger
        named = np.argmin(d2 / (rho0 ** (1.0 - alpha) * rho2 ** alpha), axis=1)
        score = float(np.mean([np.mean(named[scene == s] == s) for s in np.unique(scene)]))
        if score > best_score + 1e-9:
            best, best_score = alpha, score
    return best


def best_match_degree(kb: KnowledgeBase, Z: np.ndarray) -> np.ndarray:
    """The best scene's match degree of scaled rows ``Z`` (what a decision stores)."""
    d2 = scene_distance(kb, dimension_distances(kb, Z))
    return match_degree(d2, kb.degree_scale()).max(axis=1)


def drift_reference(kb: KnowledgeBase, X: np.ndarray, rng: np.random.Generator
                    ) -> list[dict[str, Any]]:
    """Drift profiles (:mod:`paver.drift`) of the training population: its best match degree
    (the output) and every raw relation feature (the inputs), at most
    :data:`MAX_DRIFT_ROWS` rows."""
    from paver import drift

    rows = np.arange(len(X))
    if len(rows) > MAX_DRIFT_ROWS:
        rows = np.sort(rng.choice(rows, MAX_DRIFT_ROWS, replace=False))
    # rounded as decisions store them (4 decimals): a value on a bin edge (ties are common)
    # must land in the same bin in the reference as when read back from a decision
    Xr = np.round(X[rows], 4)
    cols = {"match_degree": np.round(best_match_degree(kb, kb.scaled(X[rows])), 4),
            **{name: Xr[:, j] for j, name in enumerate(FEATURE_NAMES)}}
    return [p.to_dict() for p in drift.profiles(cols)]


def stamp_version(kb: KnowledgeBase) -> KnowledgeBase:
    """Give ``kb`` a new version: its time of making and a digest of its content."""
    kb.version = ""
    kb.created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha1(kb.to_bytes()).hexdigest()[:8]
    kb.version = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{digest}"
    return kb


def _oof_distances(Z: np.ndarray, rows: np.ndarray, groups: np.ndarray, kb: KnowledgeBase,
                   s: int, fit: Any, seed: int, folds: int,
                   ref: Ref, binary: np.ndarray, scale: np.ndarray,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Scene distances of a scene's samples with clusters refitted without their group."""
    ug = sorted(set(groups))
    ks = {d: len(fit[0][d]) for d in DIMENSIONS}
    if len(ug) < 3:
        one = _single_scene_kb(kb, s, fit)
        return scene_distance(one, dimension_distances(one, Z[rows]))[:, 0]
    order = np.random.default_rng(seed).permutation(len(ug))
    fold_of = {ug[i]: j % folds for j, i in enumerate(order)}
    fold = np.array([fold_of[g] for g in groups])
    out = np.empty(len(rows))
    for f in range(min(folds, len(ug))):
        test = fold == f
        train_rows = rows[~test]
        fit_f = _fit_scene(Z[train_rows], seed, {d: min(ks[d], max(1, len(train_rows) // 5))
                                                 for d in DIMENSIONS}, ref, binary, scale,
                           weights)
        one = _single_scene_kb(kb, s, fit_f)
        out[test] = scene_distance(one, dimension_distances(one, Z[rows[test]]))[:, 0]
    return out


def _single_scene_kb(kb: KnowledgeBase, s: int, fit: Any) -> KnowledgeBase:
    cents, sprs, valid = _pack([fit])
    return KnowledgeBase(
        scenes=[kb.scenes[s]], center=kb.center, scale=kb.scale, centroids=cents, spreads=sprs,
        valid=valid, rho2=np.ones(1), thresholds=np.full(1, 0.5), rho0=1.0,
        dim_weights=kb.dim_weights[s : s + 1],
        sample_count=kb.sample_count[s : s + 1], group_count=kb.group_count[s : s + 1],
        exemplars=np.zeros((0, N_FEATURES)), exemplar_scene=np.zeros(0, dtype=np.int64),
        exemplar_txn=[],
    )


# ---------------------------------------------------------------------------------------------
# Repositories


class LocalKBRepository:
    """Versions under ``root/versions/<version>.npz``; ``root/LATEST`` names the newest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, kb: KnowledgeBase) -> str:
        vdir = self.root / "versions"
        vdir.mkdir(parents=True, exist_ok=True)
        path = vdir / f"{kb.version}.npz"
        path.write_bytes(kb.to_bytes())
        (vdir / f"{kb.version}.json").write_text(
            json.dumps({"version": kb.version, "created_at": kb.created_at,
                        "scenes": kb.scene_summary(), "meta": kb.meta}, indent=2),
            encoding="utf-8",
        )
        tmp = self.root / "LATEST.tmp"
        tmp.write_text(kb.version + "\n", encoding="utf-8")
        tmp.replace(self.root / "LATEST")
        return kb.version

    def versions(self) -> list[str]:
        vdir = self.root / "versions"
        return sorted(p.stem for p in vdir.glob("*.npz")) if vdir.is_dir() else []

    def latest(self) -> str | None:
        p = self.root / "LATEST"
        return p.read_text(encoding="utf-8").strip() if p.is_file() else None

    def load(self, version: str | None = None) -> KnowledgeBase:
        v = version or self.latest()
        if not v:
            raise NoKnowledgeBase(
                f"{self.root}: no knowledge base yet (run `paver risk build` first)")
        path = self.root / "versions" / f"{v}.npz"
        if not path.is_file():
            raise NoKnowledgeBase(f"{self.root}: no knowledge-base version {v!r}")
        return KnowledgeBase.from_bytes(path.read_bytes())
