"""Quality floors of scene identification that a constant or a random matcher fails.

Data: a generated window with the eight AMLworld laundering typologies (``scene_set="amlworld"``,
seed 13, 600 ordinary accounts, 10 instances per typology), split by pattern instance (seed 1,
half for training); retrospective mode. Normal events flagged as a scene count against it.
The floors are far below what Paver reaches there and far above what a matcher without
information reaches, so both directions are checked on the same data and the same metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from paver.risk.evaluate import evaluate_dataset
from paver.risk.matcher import Matcher, MatchResult
from paver.risk.scenes import SceneRules
from paver.risk.screening import Dataset, dataset_features, load_dataset
from paver_dev.world import transfers

MACRO_F1_FLOOR = 0.45
DETECTION_F1_FLOOR = 0.80


@pytest.fixture(scope="module")
def typologies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, np.ndarray]:
    d = tmp_path_factory.mktemp("amlworld")
    transfers.generate(np.random.default_rng(13), 600, instances_per_scene=10,
                       scene_set="amlworld").write(d)
    ds = load_dataset(d / "transactions.csv", d / "labels.csv")
    return ds, dataset_features(ds, "retrospective")[0]


def _passes(res: dict[str, Any]) -> bool:
    return (res["macro_f1"] >= MACRO_F1_FLOOR
            and res["detection"]["f1"] >= DETECTION_F1_FLOOR)


class ConstantMatcher(Matcher):
    """Names the same scene for every event and always calls it risky."""

    def match(self, X: np.ndarray, decide: bool = True) -> MatchResult:
        res = super().match(X, decide)
        res.top[:] = np.arange(res.top.shape[1])[None]
        res.risky[:] = True
        return res


class RandomMatcher(Matcher):
    """A random scene, risky as often as labelled risky events occur in the window (~5 %)."""

    def match(self, X: np.ndarray, decide: bool = True) -> MatchResult:
        res = super().match(X, decide)
        rng = np.random.default_rng(0)
        res.top[:, 0] = rng.integers(0, self.kb.n_scenes, len(res.top))
        res.risky[:] = rng.random(len(res.top)) < 0.05
        return res


def test_paver_clears_the_floors(typologies: tuple[Dataset, np.ndarray]) -> None:
    ds, X = typologies
    res = evaluate_dataset(ds, SceneRules.load(), 0.5, 1, features=X)
    assert res["mode"] == "retrospective"
    assert set(res["per_scene"]) == set(transfers.TYPOLOGIES)
    assert _passes(res), (res["macro_f1"], res["detection"])


@pytest.mark.parametrize("stub", [ConstantMatcher, RandomMatcher])
def test_a_matcher_without_information_fails_the_floors(
        typologies: tuple[Dataset, np.ndarray], stub: type[Matcher]) -> None:
    ds, X = typologies
    res = evaluate_dataset(ds, SceneRules.load(), 0.5, 1, features=X, matcher_factory=stub)
    assert not _passes(res), (res["macro_f1"], res["detection"])
    assert res["macro_f1"] < MACRO_F1_FLOOR / 2


def test_flagged_normals_lower_precision(typologies: tuple[Dataset, np.ndarray]) -> None:
    ds, X = typologies
    res = evaluate_dataset(ds, SceneRules.load(), 0.5, 1, features=X,
                           matcher_factory=ConstantMatcher)
    flagged_as = res["normal_flagged_as"]
    assert sum(flagged_as.values()) == res["test"]["normal_rows"]  # every normal is flagged
    scene = next(iter(flagged_as))
    assert res["per_scene"][scene]["precision"] < 0.1  # and counts against that scene
