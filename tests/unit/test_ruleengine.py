from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from paver.ruleengine import Condition, Rule, RuleFileError, compile_rules, load_rule_file


def _rule(name: str, when: dict) -> Rule:
    return Rule.model_validate({"name": name, "when": when})


def test_every_rule_that_holds_is_reported() -> None:
    rules = compile_rules([
        _rule("high", {"field": "overall", "op": "gte", "value": 70}),
        _rule("risky_region", {"all": [
            {"field": "risk", "op": "lt", "value": 60},
            {"field": "region", "op": "in", "value": ["east", "west"]},
        ]}),
    ])
    facts = [
        {"overall": 80, "risk": 50, "region": "east"},
        {"overall": 60, "risk": 70, "region": "east"},
        {"overall": 70, "risk": 10, "region": "north"},
    ]
    fired = [[r.name for r in hits] for hits in rules.evaluate(facts)]
    assert fired == [["high", "risky_region"], [], ["high"]]


def test_fact_missing_a_field_matches_neither_side() -> None:
    rules = compile_rules([_rule("low_risk", {"field": "risk", "op": "lt", "value": 60})])
    assert rules.evaluate([{"overall": 1}]) == [[]]
    assert rules.first({"risk": 10}).name == "low_risk"


_leaf = st.builds(
    lambda f, op, v: {"field": f, "op": op, "value": v},
    st.sampled_from(["a", "b"]),
    st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]),
    st.integers(-3, 3),
)
_cond = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None)
@given(_cond, st.lists(st.fixed_dictionaries({"a": st.integers(-4, 4),
                                              "b": st.integers(-4, 4)}),
                       min_size=1, max_size=8))
def test_engine_agrees_with_the_plain_reading(when: dict, facts: list[dict]) -> None:
    rule = _rule("r", when)
    fired = compile_rules([rule]).evaluate(facts)
    assert [bool(x) for x in fired] == [rule.when.holds(f) for f in facts]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"field": "a", "op": "gte", "value": "x"}, "needs a number"),
        ({"field": "a", "op": "in", "value": []}, "non-empty list"),
        ({"all": []}, "at least one"),
        ({"field": "a", "op": "eq", "value": 1,
          "all": [{"field": "a", "op": "eq", "value": 2}]},
         "either a comparison"),
    ],
)
def test_bad_conditions_are_explained(when: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Condition.model_validate(when)


class _Policy(BaseModel):
    threshold: float
    rules: list[Rule]


def test_rule_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(
        "threshold: 70\n"
        "rules:\n"
        "  - name: ok\n"
        "    when: {field: overall, op: gte, value: 70}\n"
        "  - name: bad\n"
        "    when:\n"
        "      field: overall\n"
        "      op: bigger\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError) as err:
        load_rule_file(f, _Policy)
    text = str(err.value)
    assert f"{f}:8: rules.1.when.op" in text


def test_rule_file_not_yaml_or_not_mapping(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="not valid YAML"):
        load_rule_file(f, _Policy)
    f.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="mapping at the top level"):
        load_rule_file(f, _Policy)
    f.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(RuleFileError, match="cannot read"):
        load_rule_file(f, _Policy)


def test_policies_refuse_rules_on_unknown_facts(tmp_path: Path) -> None:
    from paver.accrual.milestones import BenefitsPolicy

    f = tmp_path / "benefits.yaml"
    f.write_text(
        "version: 1\n"
        "milestones:\n"
        "  - name: typo\n"
        "    when: {field: txn_cuont, op: gte, value: 1}\n"
        "    effect: {benefit: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError, match=r"benefits.yaml:3: milestones.0: .*txn_cuont"):
        load_rule_file(f, BenefitsPolicy)


def test_every_benefit_granted_is_explained_in_words(tmp_path: Path) -> None:
    from paver.accrual.milestones import BenefitsPolicy, benefit_text, load_policy
    from paver.binding.policy import load_policy as load_binding_policy

    f = tmp_path / "benefits.yaml"
    f.write_text(
        "version: 1\n"
        "milestones:\n"
        "  - name: first\n"
        "    when: {field: txn_count, op: gte, value: 1}\n"
        "    effect: {benefit: mystery_box}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError, match=r"benefits: no title/means for mystery_box"):
        load_rule_file(f, BenefitsPolicy)
    granted = {str(m.effect["benefit"]) for m in load_policy()[0].milestones}
    granted.add(load_binding_policy()[0].upgrade_benefit)
    for kind in granted:
        text = benefit_text(kind)
        assert text.means and "_" not in text.title, kind
