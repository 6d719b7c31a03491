"""The partner world: deterministic, documented columns, realistic registration data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import uscc

from paver.trust.features import _haversine_km
from paver_dev.world.partners import CITIES, DIMENSIONS, generate

MERCHANT_COLUMNS = {
    "merchant_id", "partner_id", "partner_merchant_id", "partner_guid", "name", "name_zh", "mcc",
    "city", "city_zh", "region", "lat", "lon", "uscc", "legal_rep", "contact_phone", "address",
    "location_verified", "level", "registered_at",
}


@pytest.fixture(scope="module")
def world():
    return generate(np.random.default_rng(42), 40, 25)


def test_same_seed_same_world_other_seed_other_world(tmp_path: Path) -> None:
    a = generate(np.random.default_rng(1), 6, 5).write(tmp_path / "a")
    generate(np.random.default_rng(1), 6, 5).write(tmp_path / "b")
    generate(np.random.default_rng(2), 6, 5).write(tmp_path / "c")
    assert a == {"partners.csv": 6, "merchants.csv": 30, "metrics.csv": a["metrics.csv"],
                 "partner_truth.csv": 6}
    for name in a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = (tmp_path / "c/merchants.csv").read_bytes()
    assert (tmp_path / "a/merchants.csv").read_bytes() != other


def test_columns_and_ground_truth(world) -> None:
    assert set(world.merchants.columns) == MERCHANT_COLUMNS
    assert set(world.partners["kind"]) == {"rural_bank", "city_bank", "service_provider"}
    assert world.partners["region"].nunique() >= 3
    truth = world.truth
    for d in (*DIMENSIONS, "overall"):
        assert set(truth[f"outcome_{d}"]) == {0, 1}
    assert world.partners["guid"].str.len().max() <= 32
    assert world.merchants["merchant_id"].is_unique


def test_registration_data_is_realistic(world) -> None:
    m = world.merchants
    assert m["name"].map(lambda s: s.isascii()).all() and m["name"].str.len().max() <= 25
    assert m["name_zh"].str.contains("[\u4e00-\u9fff]").all()
    assert m["city"].str.len().max() <= 15 and m["mcc"].str.fullmatch(r"\d{4}").all()
    given = m.loc[m["uscc"] != "", "uscc"]
    valid = given.map(uscc.is_valid)
    assert 0.75 < valid.mean() < 0.995  # mostly valid, some broken
    centres = {c[0]: (c[2], c[3]) for cs in CITIES.values() for c in cs}
    lat0 = m["city"].map(lambda c: centres[c][0])
    lon0 = m["city"].map(lambda c: centres[c][1])
    km = _haversine_km(m["lat"].to_numpy(), m["lon"].to_numpy(), lat0.to_numpy(),
                       lon0.to_numpy())
    assert np.median(km) < 10 and (km < 50).mean() > 0.9
    assert m["partner_merchant_id"].str.fullmatch(r"\d{15}").all()
    assert (m.groupby("partner_id")["partner_guid"].nunique() == 1).all()


def test_metrics_are_monthly_and_non_negative(world) -> None:
    k = world.metrics
    assert set(k["month"].astype(str)) <= {f"2024-{i:02d}" for i in range(1, 13)}
    num = k.drop(columns=["merchant_id", "partner_id", "month"])
    assert (num >= 0).all().all()
    assert not k.duplicated(subset=["merchant_id", "month"]).any()
    assert (k["active_days"] <= 31).all()


def test_outcomes_follow_the_latents(world) -> None:
    t = world.truth
    for d in DIMENSIONS:
        assert t.groupby(f"outcome_{d}")[d].mean().diff().iloc[-1] > 0.5


def test_history_prefix_and_bad_arguments() -> None:
    h = generate(np.random.default_rng(3), 3, 2, id_prefix="H")
    assert list(h.partners["partner_id"]) == ["H0001", "H0002", "H0003"]
    assert h.merchants["merchant_id"].str.startswith("H").all()
    with pytest.raises(ValueError, match="n_partners"):
        generate(np.random.default_rng(0), 0, 5)
    with pytest.raises(ValueError, match="merchants_per_partner"):
        generate(np.random.default_rng(0), 2, 0)
    assert isinstance(h.metrics, pd.DataFrame)
