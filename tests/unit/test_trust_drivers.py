"""A partner's model drivers in words (console and demo report)."""

from __future__ import annotations

from paver.trust.drivers import driver_lines


def _d(feature: str, points: float, text: str) -> dict[str, object]:
    return {"feature": feature, "points": points, "text": text}


EXPLANATION = {
    "overall": [_d("risk", -12.3, "risk score 48 lowers the overall score by 12.3 points"),
                _d("trust", 4.0, "trust score 94 raises the overall score by 4.0 points"),
                _d("value", 1.0, "value score 75 raises the overall score by 1.0 points")],
    "risk": [_d("complaint_rate", -20.0, "complaints per 1,000 payments: 3.1"),
             _d("chargeback_rate", -5.0, "chargebacks: 0.4%"),
             _d("tenure", 1.0, "months with the platform: 30")],
    "trust": [_d("kyc", 9.0, "verified merchants: 98%")],
}


def test_names_the_strongest_dimension_and_what_moved_it() -> None:
    assert driver_lines(EXPLANATION) == [
        "risk score 48 lowers the overall score by 12.3 points",
        "trust score 94 raises the overall score by 4.0 points",
        "risk: complaints per 1,000 payments: 3.1",
        "risk: chargebacks: 0.4%",
    ]


def test_without_an_explanation_there_is_nothing_to_say() -> None:
    assert driver_lines(None) == [] and driver_lines({}) == []
