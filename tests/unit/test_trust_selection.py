"""Selection policy: validated file, claim 7 threshold, floors, regions, cap, tiers, reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from paver.ruleengine import RuleFileError
from paver.trust.selection import PolicyError, decide, load_policy, tier_of


def _fact(pid: str, overall: float, **kw: float) -> dict:
    base = {"risk": 80.0, "trust": 80.0, "quality": 80.0, "value": 80.0, "coverage": 1.0,
            "fraud_rate": 1.0, "uscc_valid_share": 0.95}
    return {"partner_id": pid, "overall": overall, **base, **kw}


def test_policy_file_loads() -> None:
    p = load_policy()
    assert p.threshold.default == 60 and p.floors.risk == 60 and p.tiers[-1].min_overall == 0


def test_threshold_is_strict_and_floors_block() -> None:
    p = load_policy()
    got = {d.partner_id: d for d in decide([
        _fact("at", 60.0), _fact("above", 60.1), _fact("risky", 90.0, risk=59.9),
        _fact("fraud", 85.0, fraud_rate=31.0), _fact("nofraud_data", 70.0, fraud_rate=float("nan")),
    ], p)}
    assert not got["at"].selected and "threshold_not_met" in got["at"].rules_fired
    assert "not above the threshold 60" in got["at"].reasons[0]
    assert got["above"].selected and "selected" in got["above"].rules_fired
    assert not got["risky"].selected and got["risky"].rules_fired[0] == "risk_floor"
    assert "risk score 59.9 is below the floor 60" in got["risky"].reasons
    assert not got["fraud"].selected and "fraud_spike" in got["fraud"].rules_fired
    assert "31.0 per 10,000" in got["fraud"].reasons[0]
    # fail closed: an exclusion that cannot be checked for lack of data blocks, and says why
    assert not got["nofraud_data"].selected
    assert "no data for fraud_rate: cannot clear fraud_spike" in got["nofraud_data"].reasons
    assert [d.rank for d in sorted(got.values(), key=lambda d: d.rank)] == [1, 2, 3, 4, 5]


def test_regions_cap_and_override() -> None:
    p = load_policy()
    facts = [_fact(f"P{i:02d}", 95 - i) for i in range(12)]
    facts[0]["coverage"] = 0.1
    ds = decide(facts, p, regions=["east"])
    chosen = [d.partner_id for d in ds if d.selected]
    assert "P00" not in chosen and len(chosen) == p.cap
    assert ds[0].rules_fired[0] == "outside_regions"
    capped = [d for d in ds if "cap" in d.rules_fired]
    assert [d.partner_id for d in capped] == ["P11"]
    ds = decide(facts, p, threshold=90)
    assert [d.partner_id for d in ds if d.selected] == ["P00", "P01", "P02", "P03", "P04"]
    with pytest.raises(PolicyError, match="outside the allowed"):
        decide(facts, p, threshold=99)


def test_tiers_through_rules() -> None:
    p = load_policy()
    assert tier_of(p, [_fact("a", 85), _fact("b", 85, trust=50), _fact("c", 55),
                       _fact("d", 10)]) == ["A", "B", "C", "D"]


def test_bad_policy_file_names_line_and_field(tmp_path: Path) -> None:
    good = (Path(__file__).resolve().parents[2] / "rules" / "partner_selection.yaml").read_text()
    bad = tmp_path / "p.yaml"
    bad.write_text(good.replace("  risk: 60\n", "  risk: high\n"))
    with pytest.raises(RuleFileError) as exc:
        load_policy(bad)
    line = next(i for i, ln in enumerate(bad.read_text().splitlines(), 1) if "risk: high" in ln)
    assert f"p.yaml:{line}: floors.risk" in str(exc.value)
    bad.write_text(good.replace("field: fraud_rate", "field: fraud_ratio"))
    with pytest.raises(RuleFileError, match=r"unknown field.*fraud_ratio"):
        load_policy(bad)
    bad.write_text(good.replace("min_overall: 0", "min_overall: 5"))
    with pytest.raises(RuleFileError, match="last tier"):
        load_policy(bad)


def test_a_blocking_rule_without_data_fails_closed() -> None:
    from paver.trust.selection import decide, load_policy

    policy = load_policy()
    good = {"risk": 90.0, "trust": 90.0, "quality": 90.0, "value": 90.0, "overall": 90.0,
            "coverage": 1.0, "fraud_rate": 1.0, "uscc_valid_share": 1.0}
    facts = [{**good, "partner_id": "P1"},
             {**good, "partner_id": "P2", "fraud_rate": float("nan"),
              "uscc_valid_share": float("nan")}]
    by_id = {d.partner_id: d for d in decide(facts, policy)}
    assert by_id["P1"].selected
    assert not by_id["P2"].selected
    assert any("no data for fraud_rate" in r for r in by_id["P2"].reasons)
