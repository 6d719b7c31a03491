"""Explanations in the user's units: counts as counts, ages in days, amounts in currency.

Features are stored on the scales the distances need (``log1p`` counts, ``log1p`` days …).
:func:`to_user` turns a raw feature value back into the unit a risk analyst reads, and
:func:`driver_text` writes one driver as a sentence with the scene's typical value and the
population's; the API, the report and the console all show these same texts.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from iso4217 import Currency

#: Unit of every feature: how its raw value maps back to what it counts.
UNITS: dict[str, str] = {
    "log_amount": "amount", "a_out_degree": "count", "a_in_degree": "count",
    "b_in_degree": "count", "b_out_degree": "count", "a_out_burst": "count",
    "b_in_burst": "count", "pair_count": "count", "back_path": "loop",
    "b_forward_ratio": "share", "b_forward_delay": "hours", "a_fund_delay": "hours",
    "scatter_converge": "count", "gather_common_source": "count", "b_in_amount_cv": "number",
    "a_out_amount_cv": "number", "closes_loop": "flag", "layer_depth_in": "hops",
    "layer_ratio_in": "share", "layer_depth_out": "hops", "co_payers": "count",
    "chain_loop": "flag", "a_in_recent": "count", "b_out_soon": "count",
    "a_device_known": "flag", "a_device_new": "flag", "a_device_accounts": "count",
    "b_device_accounts": "count", "a_ip_accounts": "count", "b_ip_accounts": "count",
    "shared_device_ab": "flag", "a_device_count": "count", "a_ip_new": "flag",
    "a_net_risky": "flag", "b_net_risky": "flag", "region_mismatch": "flag",
    "region_distance_km": "km", "a_region_unusual": "flag",
    "night": "flag", "a_account_age": "days", "b_account_age": "days",
    "a_amount_ratio": "times", "new_payee": "flag", "channel_qr": "flag", "a_kyc": "level",
    "b_kyc": "level", "contact_link": "flag", "contact_recent": "flag",
    "common_contacts": "count", "a_contact_degree": "count", "b_contact_degree": "count",
    "b_recent_contacts": "count", "b_in_from_contacts": "share",
}


def to_user(feature: str, raw: float) -> float:
    """The raw value of ``feature`` (bare name) in its user unit (see :data:`UNITS`)."""
    unit = UNITS.get(feature, "number")
    if unit in ("count", "days", "hours", "amount", "km"):
        return max(0.0, math.expm1(raw))
    if unit == "share":
        return 100.0 * raw
    if unit == "flag":
        return 100.0 * raw  # a share of events for typical values, 0/100 for one event
    if unit == "times":
        return math.exp(raw)
    if unit == "level":
        return 3.0 * raw
    if unit == "loop":
        return 1.0 / raw if raw > 0 else 0.0  # transfers on the way back
    return raw


def _num(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v - round(v)) < 0.05:
        return str(round(v))
    return f"{v:.1f}"


@cache
def currency_code(currency: str) -> str:
    """The letters a reader knows for an ISO 4217 currency (``"156"`` → ``"CNY"``).

    Payments carry the numeric code (as EMVCo tag 53 does); transfer files usually the
    letters. Anything ISO 4217 does not know is shown as given.
    """
    code = currency.strip()
    if code.isdigit():
        return next((c.code for c in Currency if c.number == int(code)), code)
    return code


def fmt(feature: str, value: float, currency: str = "", single: bool = False) -> str:
    """A user-unit value as text (``single``: the value of one event, not a typical one)."""
    unit = UNITS.get(feature, "number")
    currency = currency_code(currency)
    if unit == "flag":
        if single:
            return "yes" if value >= 50 else "no"
        return f"{value:.0f}% of events"
    if unit == "amount":
        return f"{value:,.2f} {currency}".rstrip() if single or value < 1000 else \
            f"{value:,.0f} {currency}".rstrip()
    if unit == "days":
        return f"{_num(value)} days"
    if unit == "hours":
        return f"{_num(value)} h"
    if unit == "share":
        return f"{value:.0f}%"
    if unit == "times":
        return f"{value:.1f}×"
    if unit == "level":
        return f"level {_num(value)}"
    if unit == "loop":
        return "none" if value <= 0 else f"{_num(value)} transfers"
    if unit == "km":
        return f"{_num(value)} km"
    if unit in ("count", "hops"):
        return _num(value)
    return f"{value:.2f}"


def driver_text(feature: str, meaning: str, value: float, scene: str, scene_typical: float,
                population_typical: float, currency: str = "") -> str:
    """``meaning: value (typical for <scene>: …; for all traffic: …)`` in user units."""
    return (f"{meaning}: {fmt(feature, value, currency, single=True)} (typical for {scene}: "
            f"{fmt(feature, scene_typical, currency)}; for all traffic: "
            f"{fmt(feature, population_typical, currency)})")


def dimension_text(row: dict[str, Any], scene: str, runner_up: str | None) -> str:
    """One dimension's distance in words."""
    out = (f"{row['dimension']} relations: {row['distance']:.2f} from the nearest {scene} "
           f"pattern (0 = identical, 1 ≈ its samples' own spread)")
    if runner_up is not None and row.get("runner_up_distance") is not None:
        out += f", {row['runner_up_distance']:.2f} from {runner_up}"
    return out


def decision_lines(d: dict[str, Any]) -> list[str]:
    """A decision as the lines the console and the report print (same texts as the API)."""
    ex = d["explanation"]
    verdict = f"risky — {d['action']}" if d["risky"] else "not risky"
    lines = [f"{d['event_id']}: {verdict}; {ex['summary']}"]
    lines += [f"  {r['text']}" for r in ex["dimensions"]]
    lines += [f"  - {r['text']}" for r in ex["drivers"]]
    return lines
