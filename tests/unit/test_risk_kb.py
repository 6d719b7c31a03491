"""Knowledge base: clustering per scene and dimension, versioned storage, matching and rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paver.risk.events import DIMENSIONS
from paver.risk.features import N_FEATURES, SLICES
from paver.risk.kb import (
    KBError,
    KnowledgeBase,
    LocalKBRepository,
    build_knowledge_base,
    dimension_distances,
    ranking_alpha,
    scene_distance,
)
from paver.risk.matcher import Matcher
from paver.risk.scenes import LEVELS, STEP, RiskSceneFile, SceneRules
from paver.ruleengine import RuleFileError


def _toy(seed: int = 0) -> tuple[np.ndarray, list[str | None], list[str | None], list[str]]:
    """Normal rows around 0; scene 'alpha' in two tight blobs, 'beta' in one, far apart."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(0, 1, (400, N_FEATURES))
    alpha = np.concatenate([rng.normal(6, 0.2, (30, N_FEATURES)),
                            rng.normal(-6, 0.2, (30, N_FEATURES))])
    beta = rng.normal(0, 0.2, (40, N_FEATURES))
    beta[:, SLICES["transaction"]] += 10
    X = np.concatenate([normal, alpha, beta])
    scene = [None] * 400 + ["alpha"] * 60 + ["beta"] * 40
    group = [None] * 400 + [f"a{i // 6}" for i in range(60)] + [f"b{i // 4}" for i in range(40)]
    return X, scene, group, [f"t{i}" for i in range(len(X))]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    X, scene, group, ids = _toy()
    return build_knowledge_base(X, scene, group, ids, seed=0)


@pytest.fixture(scope="module")
def rules() -> SceneRules:
    return SceneRules.load()


def test_clusters_chosen_from_the_data(kb: KnowledgeBase) -> None:
    assert kb.scenes == ["alpha", "beta"]
    assert kb.clusters(0)["transaction"] == 2  # two blobs → k = 2 by silhouette
    assert kb.clusters(1)["transaction"] == 1  # one blob → k = 1
    assert list(kb.sample_count) == [60, 40]
    assert list(kb.group_count) == [10, 10]
    assert ((kb.thresholds > 0) & (kb.thresholds < 1)).all()
    assert len(kb.exemplar_txn) == 100


def test_round_trip_and_versions(kb: KnowledgeBase, tmp_path: Path) -> None:
    repo = LocalKBRepository(tmp_path / "kb")
    with pytest.raises(KBError, match="no knowledge base yet"):
        repo.load()
    v1 = repo.save(kb)
    X, scene, group, ids = _toy(seed=1)
    kb2 = build_knowledge_base(X, scene, group, ids, seed=1)
    v2 = repo.save(kb2)
    assert v1 != v2 and repo.latest() == v2
    assert repo.versions() == sorted([v1, v2])
    old = repo.load(v1)  # the previous version stays readable
    assert old.version == v1
    for d in DIMENSIONS:
        np.testing.assert_array_equal(old.centroids[d], kb.centroids[d])
    with pytest.raises(KBError):
        KnowledgeBase.from_bytes(b"not an npz")
    with pytest.raises(KBError, match="no knowledge-base version"):
        repo.load("nope")


def test_scene_ranking_scale_is_the_one_that_names_the_samples_scenes() -> None:
    # scene 0 has a tight boundary (1), scene 1 a wide one (10): relative to its own boundary
    # a sample of scene 0 at distances (2, 5) looks more like scene 1 (2/1 > 5/10)
    rho2 = np.array([1.0, 10.0])
    d2 = np.array([[2.0, 5.0], [1.0, 8.0], [20.0, 3.0], [30.0, 2.0]])
    scene = np.array([0, 0, 1, 1])
    chosen = ranking_alpha(d2, scene, rho2)
    assert chosen < 1.0  # the own-boundary ranking misnames scene 0's first sample
    rho = np.median(rho2) ** (1 - chosen) * rho2 ** chosen
    assert (np.argmin(d2 / rho, axis=1) == scene).all()
    # when every candidate names every sample right, the own-boundary ranking stays
    assert ranking_alpha(np.array([[0.5, 40.0], [40.0, 0.5]]), np.array([0, 1]), rho2) == 1.0
    assert ranking_alpha(np.array([[0.5], [2.0]]), np.array([0, 0]), rho2[:1]) == 1.0


def test_ranking_exponent_is_kept_and_old_versions_rank_as_before(kb: KnowledgeBase) -> None:
    alpha = kb.meta["ranking_alpha"]
    assert alpha in (0.0, 0.25, 0.5, 0.75, 1.0)
    again = KnowledgeBase.from_bytes(kb.to_bytes())
    np.testing.assert_allclose(again.degree_scale(), kb.degree_scale())
    old = KnowledgeBase.from_bytes(kb.to_bytes())
    old.meta = {k: v for k, v in old.meta.items() if k != "ranking_alpha"}
    np.testing.assert_allclose(old.degree_scale(), kb.rho2)  # built before: own boundaries


def test_too_few_samples_is_an_error() -> None:
    X = np.zeros((5, N_FEATURES))
    with pytest.raises(KBError, match="at least 3"):
        build_knowledge_base(X, [None, None, None, "x", "x"], [None] * 3 + ["g", "g"],
                             [str(i) for i in range(5)])


def test_matcher_products_equal_reference_distances(kb: KnowledgeBase,
                                                    rules: SceneRules) -> None:
    X, *_ = _toy(seed=2)
    m = Matcher(kb, rules, dtype=np.float64)
    res = m.match(X)
    ref = dimension_distances(kb, kb.scaled(X))
    np.testing.assert_allclose(res.dim_d2.transpose(0, 2, 1), ref, rtol=1e-6, atol=1e-8)
    d2 = scene_distance(kb, ref)
    np.testing.assert_allclose(res.degree, 1 / (1 + d2 / kb.degree_scale()[None]), rtol=1e-6)
    assert (np.diff(res.top_degree, axis=1) <= 0).all()  # ranked best first
    assert res.best[450] == 0 and res.best[-1] == 1
    assert res.risky[450:].mean() > 0.9 and res.risky[:400].mean() < 0.1
    m32 = Matcher(kb, rules)  # float32 products by default
    np.testing.assert_array_equal(m32.match(X).best, res.best)
    np.testing.assert_allclose(m32.match(X).degree, res.degree, rtol=1e-3, atol=1e-4)


def test_explanation_names_drivers_and_exemplar(kb: KnowledgeBase, rules: SceneRules) -> None:
    X, _scene, _group, ids = _toy(seed=3)
    m = Matcher(kb, rules)
    res = m.match(X[-1:])
    d = m.decision(res, 0, X[-1], "ev1")
    assert d["risky"] and d["scene"] == "beta" and 0 <= d["match_degree"] <= 1
    ex = d["explanation"]
    assert [s["scene"] for s in ex["top_scenes"]] == ["beta", "alpha"]
    assert ex["margin"] == pytest.approx(ex["top_scenes"][0]["match_degree"]
                                         - ex["top_scenes"][1]["match_degree"], abs=1e-3)
    dist = [r["distance"] for r in ex["dimensions"]]
    assert dist == sorted(dist)  # the nearest dimension first
    assert ex["drivers"] and ex["drivers"][0]["feature"].startswith("transaction.")
    from paver.risk.features import MEANINGS

    for drv in ex["drivers"]:  # every driver says in words what it measures
        assert drv["meaning"] == MEANINGS[drv["feature"].split(".", 1)[1]]
        assert drv["text"].startswith(drv["meaning"]) and "typical for beta" in drv["text"]
    assert ex["exemplar"]["scene"] == "beta" and ex["exemplar"]["txn_id"] in ids
    assert ex["rule"] == "scene_beta"


def test_rules_engine_decides_every_grid_level(rules: SceneRules) -> None:
    r = SceneRules(RiskSceneFile.model_validate(
        {"version": 1, "default_threshold": 0.5, "scenes": {"x": {"threshold": 0.37}}}))
    deg = np.arange(LEVELS) * STEP + 0.004  # every level, slightly above the grid point
    idx = np.array([0] * LEVELS + [1] * LEVELS)
    got = r.decide(["x", "y"], idx, np.concatenate([deg, deg]))
    want = np.concatenate([deg >= 0.37, deg >= 0.5])
    np.testing.assert_array_equal(got, want)
    facts = r.engine_facts
    assert facts == 2 * LEVELS  # each distinct fact asked once …
    r.decide(["x", "y"], idx, np.concatenate([deg, deg]))
    assert r.engine_facts == facts  # … and remembered
    cal = np.array([0.42, 0.61])
    auto = SceneRules(RiskSceneFile.model_validate({"version": 1}))
    np.testing.assert_array_equal(auto.decide(["x", "y"], idx, np.concatenate([deg, deg]), cal),
                                  np.concatenate([deg >= 0.42, deg >= 0.61]))
    assert auto.threshold("x", 0.42) == 0.42 and auto.threshold("x") == 0.5


def test_rule_file_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "risk_scenes.yaml"
    p.write_text("version: 1\nscenes:\n  fan_in:\n    threshold: 0.555\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"risk_scenes.yaml:4: scenes.fan_in.threshold"):
        SceneRules.load(p)
    p.write_text("version: 1\nscenes:\n  fan_in:\n    colour: red\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r":4: scenes.fan_in.colour"):
        SceneRules.load(p)


def test_shipped_rules_file_is_valid(rules: SceneRules) -> None:
    assert {"fan_in", "cycle", "account_takeover_new_device"} <= set(rules.spec.scenes)
    assert rules.action("account_takeover_new_device") == "block"
    assert rules.meta("unknown_scene")["action"] == rules.spec.default_action
