"""Explanations in the user's units: counts as counts, ages in days, amounts in currency."""

from __future__ import annotations

import math

import pytest

from paver.risk.explain import UNITS, decision_lines, driver_text, fmt, to_user
from paver.risk.features import MEANINGS


def test_every_feature_has_a_unit() -> None:
    assert set(MEANINGS) <= set(UNITS)


@pytest.mark.parametrize(("feature", "raw", "user", "text"), [
    ("a_out_degree", math.log1p(1), 1.0, "1"),  # was shown as 0.6931
    ("b_account_age", math.log1p(5.7), 5.7, "5.7 days"),  # was 1.9075
    ("log_amount", math.log1p(18000), 18000.0, "18,000.00 CNY"),
    ("b_forward_delay", math.log1p(3), 3.0, "3 h"),
    ("b_in_from_contacts", 0.25, 25.0, "25%"),
    ("a_kyc", 2 / 3, 2.0, "level 2"),
    ("back_path", 1 / 3, 3.0, "3 transfers"),
    ("a_amount_ratio", math.log(4.0), 4.0, "4.0×"),
])
def test_values_in_user_units(feature: str, raw: float, user: float, text: str) -> None:
    assert to_user(feature, raw) == pytest.approx(user)
    assert fmt(feature, to_user(feature, raw), "CNY", single=True) == text


@pytest.mark.parametrize(("given", "shown"), [("156", "CNY"), ("840", "USD"), ("CNY", "CNY"),
                                              ("001", "001"), ("", "")])
def test_amounts_name_the_currency_as_people_read_it(given: str, shown: str) -> None:
    # Code payments carry ISO 4217's number (EMVCo tag 53): "9,000.00 156" read as nonsense.
    assert fmt("log_amount", 9000.0, given, single=True) == f"9,000.00 {shown}".rstrip()


def test_driver_sentence_names_scene_and_population() -> None:
    t = driver_text("a_out_degree", MEANINGS["a_out_degree"], 12, "Gather Scatter", 9.4, 1)
    assert t == ("how many different accounts the sender pays: 12 (typical for Gather Scatter: "
                 "9.4; for all traffic: 1)")
    flag = driver_text("a_device_new", MEANINGS["a_device_new"], 100, "fan-out", 83, 2)
    assert "yes (typical for fan-out: 83% of events; for all traffic: 2% of events)" in flag


def test_decision_lines_are_the_api_texts() -> None:
    d = {"event_id": "e1", "risky": True, "action": "hold", "explanation": {
        "summary": "closest to fan-out (match degree 0.71, decided at 0.50)",
        "dimensions": [{"text": "transaction relations: 0.40 from the nearest fan-out"}],
        "drivers": [{"text": "payments the sender made within a day of this one: 9"}]}}
    assert decision_lines(d) == [
        "e1: risky — hold; closest to fan-out (match degree 0.71, decided at 0.50)",
        "  transaction relations: 0.40 from the nearest fan-out",
        "  - payments the sender made within a day of this one: 9"]
