"""Partner features: vectorised, correct on hand-made rows, USCC check agrees with KYB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc

from paver.kyb.uscc import valid_uscc_mask as uscc_valid
from paver.kyb.uscc import validate_uscc
from paver.trust.features import (
    DIMENSION_FEATURES,
    FEATURE_NAMES,
    describe,
    partner_features,
    region_coverage,
)
from paver_dev.world.partners import generate

_ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHA + "IOSVZaln -", min_size=0, max_size=24))
def test_uscc_check_agrees_with_kyb(code: str) -> None:
    # the trust features and KYB give one answer for every code, however it is written
    ours = bool(uscc_valid(pd.Series([code]))[0])
    assert ours == validate_uscc(code)[0]


def test_a_hyphenated_credential_is_valid_for_the_trust_features_too() -> None:
    code = "91110000600037341L"
    hyphenated = "9111-0000-6000-37341L"
    assert validate_uscc(code)[0] and validate_uscc(hyphenated)[0]
    assert uscc_valid(pd.Series([code, hyphenated, "9111 0000 6000 37341l"])).tolist() == [
        True, True, True]


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"\A(?:[1-8][0-9]|9[123])[0-9]{6}\Z"),  # legal authority / entity type
       st.text(alphabet=_ALPHA, min_size=9, max_size=9))
def test_valid_codes_pass(head: str, body: str) -> None:
    code = head + body + uscc.calc_check_digit(head + body)
    assert uscc_valid(pd.Series([code, code[:-1] + ("0" if code[-1] != "0" else "1")])).tolist() \
        == [True, False]


def _merchants() -> pd.DataFrame:
    good = "91330100MA27XK1234"
    good = good[:-1] + uscc.calc_check_digit(good[:-1])
    return pd.DataFrame({
        "merchant_id": ["a1", "a2", "b1"],
        "partner_id": ["A", "A", "B"],
        "name_zh": ["王记面馆", "王记面馆", "李记超市"],
        "uscc": [good, good, "BROKEN"],
        "lat": [30.27, 30.27, 0.0], "lon": [120.15, 120.15, 0.0],
        "city": ["Hangzhou", "Hangzhou", "Beijing"],
        "region": ["east", "east", "north"],
        "location_verified": ["true", "false", "true"],
        "legal_rep": ["王伟", "", "李娜"], "contact_phone": ["13800000000", "", ""],
        "address": ["x", "", ""],
        "registered_at": ["2023-12-15", "2024-06-01", "2020-01-01"],
    })


def _metrics() -> pd.DataFrame:
    rows = []
    for m, months in (("a1", range(1, 13)), ("a2", range(6, 9)), ("b1", range(1, 13))):
        for mo in months:
            rows.append({"merchant_id": m, "partner_id": m[0].upper(), "month": f"2024-{mo:02d}",
                         "txn_count": 100, "amount": 5000.0, "active_days": 20,
                         "refunds": 1, "complaints": 1 if m == "b1" else 0,
                         "chargebacks": 0, "fraud_reports": 2 if m == "b1" else 0,
                         "risk_hits": 0})
    rows.append({"merchant_id": "ghost", "partner_id": "A", "month": "2024-05", "txn_count": 9e9,
                 "amount": 9e9})
    return pd.DataFrame(rows)


def test_features_on_hand_made_rows() -> None:
    f = partner_features(_merchants(), _metrics())
    assert list(f.columns) == list(FEATURE_NAMES)
    a, b = f.loc["A"], f.loc["B"]
    assert a["merchant_count"] == 2 and b["merchant_count"] == 1
    assert a["uscc_valid_share"] == 1.0 and b["uscc_valid_share"] == 0.0
    assert a["location_verified_share"] == 0.5
    assert a["geo_consistent_share"] == 1.0 and b["geo_consistent_share"] == 0.0
    assert a["kyb_completeness"] == pytest.approx((1.0 + 0.25) / 2)
    assert a["duplicate_share"] == 0.5 and b["duplicate_share"] == 0.0
    assert a["txn_volume"] == 100 * 15  # the ghost merchant's row is ignored
    assert b["fraud_rate"] == pytest.approx(2 / 100 * 10_000)
    assert b["complaint_rate"] == pytest.approx(1 / 100 * 1_000)
    assert a["active_share"] == 0.5  # a2 stopped in August
    assert a["retention"] == 1.0 and a["dormant_share"] == 0.5
    assert a["merchant_tenure_months"] == pytest.approx(np.median([12, 6]))
    assert b["growth"] == pytest.approx(0.0)


def test_categorical_and_string_keys_agree() -> None:
    w = generate(np.random.default_rng(5), 8, 6)
    cat = partner_features(w.merchants, w.metrics, w.partners)
    plain = w.metrics.astype({"merchant_id": str, "partner_id": str, "month": str})
    pd.testing.assert_frame_equal(cat, partner_features(w.merchants, plain, w.partners))
    assert cat.notna().to_numpy().mean() > 0.95
    assert set().union(*DIMENSION_FEATURES.values()) == set(FEATURE_NAMES)


def test_partner_without_merchants_gets_a_row_of_nan() -> None:
    f = partner_features(_merchants(), _metrics(), partner_ids=["A", "NONE"])
    assert f.loc["NONE", "merchant_count"] == 0 and np.isnan(f.loc["NONE", "volume"])


def test_region_coverage_and_describe() -> None:
    cov = region_coverage(_merchants(), ["east"], ["A", "B"])
    assert cov.tolist() == [1.0, 0.0]
    assert region_coverage(_merchants(), [], ["A"]).tolist() == [1.0]
    assert describe("complaint_rate", 3.1) == "3.10 complaints per 1,000 transactions"
    assert describe("volume", float("nan")) == "volume: no data"


def test_geo_consistency_uses_the_shipped_gazetteer_not_the_world() -> None:
    """Cities the synthetic world never uses are known; a shared romanised name is resolved by
    the Chinese name when given (Suzhou: 苏州 in Jiangsu, 宿州 in Anhui, ~240 km apart)."""
    merchants = pd.DataFrame([
        # Lhasa (not a world city): at the centre, and 100 km away
        {"merchant_id": "a1", "partner_id": "A", "city": "Lhasa", "lat": 29.65, "lon": 91.13},
        {"merchant_id": "a2", "partner_id": "A", "city": "拉萨市", "lat": 30.55, "lon": 91.13},
        # Suzhou by romanised name only: either Suzhou is fine
        {"merchant_id": "b1", "partner_id": "B", "city": "Suzhou", "lat": 33.64, "lon": 116.98},
        {"merchant_id": "b2", "partner_id": "B", "city": "suzhou", "lat": 31.30, "lon": 120.60},
        # Suzhou 苏州 at 宿州's coordinates: inconsistent; an unknown city does not count
        {"merchant_id": "c1", "partner_id": "C", "city": "Suzhou", "city_zh": "苏州",
         "lat": 33.64, "lon": 116.98},
        {"merchant_id": "c2", "partner_id": "C", "city": "Atlantis", "lat": 0.0, "lon": 0.0},
    ])
    metrics = pd.DataFrame(columns=["merchant_id", "month", "txn_count"])
    geo = partner_features(merchants, metrics)["geo_consistent_share"]
    assert geo["A"] == pytest.approx(0.5)
    assert geo["B"] == pytest.approx(1.0)
    assert geo["C"] == pytest.approx(0.0)


def test_gazetteer_covers_the_prefecture_level_cities() -> None:
    from paver.gazetteer import cities

    table = cities()
    assert len(table) >= 290  # 293 prefecture-level cities + 4 municipalities, less 三沙
    assert len({c.adcode for c in table}) == len(table)
    assert all(18 <= c.lat <= 54 and 73 <= c.lon <= 135 for c in table)  # inside China
    beijing = next(c for c in table if c.adcode == "110000")
    assert (beijing.name, beijing.name_zh) == ("Beijing", "北京")


def test_fed_risk_decisions_count_as_hits_and_fraud_reports() -> None:
    merchants = pd.DataFrame([
        {"merchant_id": "m1", "partner_id": "A", "risk_alerts": 0, "risk_confirmed": 0},
        {"merchant_id": "m2", "partner_id": "A", "risk_alerts": 0, "risk_confirmed": 0},
    ])
    metrics = pd.DataFrame([
        {"merchant_id": m, "month": f"2024-{mo:02d}", "txn_count": 100, "amount": 1000.0,
         "risk_hits": 1, "fraud_reports": 0}
        for m in ("m1", "m2") for mo in range(1, 13)])
    clean = partner_features(merchants, metrics).loc["A"]
    merchants.loc[0, ["risk_alerts", "risk_confirmed"]] = [12, 3]
    fed = partner_features(merchants, metrics).loc["A"]
    # 24 hits + 12 alerts over 24 active merchant-months; 3 cases over 2,400 transactions
    assert clean["risk_hit_rate"] == pytest.approx(100.0)
    assert fed["risk_hit_rate"] == pytest.approx(150.0)
    assert (clean["fraud_rate"], fed["fraud_rate"]) == (0, pytest.approx(12.5))
    assert (clean["fraud_merchant_share"], fed["fraud_merchant_share"]) == (0, 0.5)
    assert fed["incident_trend"] > clean["incident_trend"]
    assert fed["volume"] == clean["volume"]  # nothing else moves
