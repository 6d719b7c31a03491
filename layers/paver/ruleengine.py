"""The one adapter around durable_rules: declarative rule files → compiled rulesets → verdicts.

Rules are data (YAML under ``rules/``). A rule has a ``name`` and a ``when`` condition::

    when: {all: [{field: overall, op: gte, value: 70}, {field: region, op: in, value: [east]}]}

Conditions nest with ``all`` / ``any``; leaf ops are ``eq ne lt lte gt gte in``.

durable_rules quirks handled here (see ARCHITECTURE.md): one ``Host`` per process; a ruleset name
is registered once (names carry a content hash); definitions are deep-copied because the engine
deletes ``run``; the host's dispatch loops are not started (all posts are synchronous); an
event is consumed by at most one rule, so each rule gets its own ruleset with
its negation beside it (every post is handled and every rule that holds is reported); stateless
``post`` on a fixed sid (a ruleset holds at most 1,024 sids); the C core is not thread-safe, so
posts are serialised by a lock.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from paver.errors import PaverError
from paver.yaml_source import load_with_lines, located_errors, yaml_error_line

M = TypeVar("M", bound=BaseModel)
Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in"]
_DURABLE_OP = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte", "ne": "$neq"}
_NEGATE = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_SID = "paver"
_BATCH = 500


class RuleFileError(PaverError, ValueError):
    """A rule file is malformed; the message names the file, line and field."""


class Condition(BaseModel):
    """A leaf comparison or an ``all``/``any`` group of conditions."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    op: Op | None = None
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        leaf = self.field is not None or self.op is not None
        groups = [g for g in (self.all, self.any) if g is not None]
        if leaf and groups:
            raise ValueError("a condition is either a comparison (field/op/value) or all/any")
        if not leaf and len(groups) != 1:
            raise ValueError("give exactly one of: field+op+value, all, any")
        if leaf:
            if self.field is None or self.op is None:
                raise ValueError("a comparison needs both 'field' and 'op'")
            if self.op == "in":
                if not isinstance(self.value, list) or not self.value:
                    raise ValueError("'in' needs a non-empty list as value")
                _check_scalars(self.value)
            else:
                _check_scalars([self.value])
                if self.op != "eq" and self.op != "ne" and not _is_number(self.value):
                    raise ValueError(f"'{self.op}' needs a number as value")
        elif not groups[0]:
            raise ValueError("'all'/'any' needs at least one condition")
        return self

    def fields(self) -> set[str]:
        if self.field is not None:
            return {self.field}
        out: set[str] = set()
        for c in self.all or self.any or []:
            out |= c.fields()
        return out

    def holds(self, fact: Mapping[str, Any]) -> bool:
        """Plain-Python reading of the condition (used to explain, never to decide)."""
        if self.all is not None:
            return all(c.holds(fact) for c in self.all)
        if self.any is not None:
            return any(c.holds(fact) for c in self.any)
        v = fact.get(self.field or "")
        op = self.op
        if op == "in":
            return v in self.value
        if op == "eq":
            return v == self.value
        if op == "ne":
            return v != self.value
        if v is None:
            return False
        return {"lt": v < self.value, "lte": v <= self.value, "gt": v > self.value,
                "gte": v >= self.value}[op or "eq"]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_scalars(values: Iterable[Any]) -> None:
    for v in values:
        if not isinstance(v, str | int | float | bool):
            raise ValueError(f"value {v!r} must be a string, number or boolean")


class Rule(BaseModel):
    """A named rule: a condition and what it means when it holds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    when: Condition
    reason: str = ""
    effect: dict[str, Any] = Field(default_factory=dict)


def require_fields(rule: Rule, allowed: frozenset[str]) -> None:
    """Refuse a rule that tests a fact its policy never provides (a typo would never fire)."""
    unknown = rule.when.fields() - allowed
    if unknown:
        raise ValueError(f"unknown fact(s) {sorted(unknown)}; use {sorted(allowed)}")


def _to_durable(c: Condition, negate: bool = False) -> dict[str, Any]:
    """Compile a condition (or its negation, by De Morgan) to durable_rules' JSON."""
    if c.all is not None or c.any is not None:
        group = c.all if c.all is not None else c.any
        assert group is not None
        use_and = (c.all is not None) != negate
        parts = [_to_durable(x, negate) for x in group]
        return {"$and" if use_and else "$or": parts}
    assert c.field is not None and c.op is not None
    if c.op == "in":
        if negate:
            return {"$and": [{"$neq": {c.field: v}} for v in c.value]}
        return {"$or": [{c.field: v} for v in c.value]}
    op = _NEGATE[c.op] if negate else c.op
    if op == "eq":
        return {c.field: c.value}
    return {_DURABLE_OP[op]: {c.field: c.value}}


class _Engine:
    """The process-wide durable_rules host (it starts two timer threads: make one)."""

    def __init__(self) -> None:
        self._host: Any = None
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        self._hits: list[int] = []

    def host(self) -> Any:
        if self._host is None:
            from durable.engine import Host

            class _SyncHost(Host):  # type: ignore[misc,valid-type]
                """A Host without its dispatch/timer loops.

                Every post here is synchronous and its action completes inside ``post``; the
                loops (a new timer thread per ruleset every 0.2 s) only compete for the GIL and
                would touch the thread-unsafe C core outside our lock.
                """

                def _run(self) -> None:
                    return None

            self._host = _SyncHost()
        return self._host

    def register(self, rule: Rule) -> str:
        definition = {
            "hit": {"all": [{"m": _to_durable(rule.when)}]},
            "miss": {"all": [{"m": _to_durable(rule.when, negate=True)}]},
        }
        digest = hashlib.sha1(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]
        name = f"{rule.name}_{digest}"
        with self._lock:
            if name not in self._registered:
                body = copy.deepcopy(definition)
                body["hit"]["run"] = self._on_hit
                body["miss"]["run"] = self._on_miss
                self.host().set_rulesets({name: body})
                self._registered.add(name)
        return name

    def _on_hit(self, c: Any) -> None:
        self._hits.append(int(c.m["_i"]))

    def _on_miss(self, c: Any) -> None:  # every post must be handled by one of the pair
        return None

    def run(self, name: str, facts: Sequence[Mapping[str, Any]]) -> set[int]:
        from durable.engine import MessageNotHandledException, MessageObservedException

        unhandled = (MessageNotHandledException, MessageObservedException)

        with self._lock:
            self._hits = []
            host = self.host()
            for start in range(0, len(facts), _BATCH):
                chunk = [
                    {**f, "sid": _SID, "_i": start + i}
                    for i, f in enumerate(facts[start : start + _BATCH])
                ]
                try:
                    host.post_batch(name, chunk)
                except unhandled:
                    # A fact missing a field matches neither side: fall back one by one.
                    for msg in chunk:
                        with contextlib.suppress(*unhandled):
                            host.post(name, msg)
            return set(self._hits)


_ENGINE = _Engine()


@dataclass(frozen=True)
class CompiledRules:
    """Rules registered with the engine, ready to evaluate facts."""

    rules: tuple[Rule, ...]
    names: tuple[str, ...]

    def evaluate(self, facts: Sequence[Mapping[str, Any]]) -> list[list[Rule]]:
        """For each fact, the rules whose condition holds, in file order."""
        fired: list[list[Rule]] = [[] for _ in facts]
        if not facts:
            return fired
        for rule, name in zip(self.rules, self.names, strict=True):
            for i in sorted(_ENGINE.run(name, facts)):
                fired[i].append(rule)
        return fired

    def first(self, fact: Mapping[str, Any]) -> Rule | None:
        """The first rule (file order) that holds for one fact, or ``None``."""
        hits = self.evaluate([fact])[0]
        return hits[0] if hits else None


def compile_rules(rules: Sequence[Rule]) -> CompiledRules:
    """Register rules with the process-wide durable_rules host (idempotent per content)."""
    names = tuple(_ENGINE.register(r) for r in rules)
    return CompiledRules(rules=tuple(rules), names=names)


# ---------------------------------------------------------------------------------------------
# Rule files: YAML, validated with Pydantic, errors mapped back to line numbers.


def load_rule_file(path: str | Path, model: type[M]) -> M:
    """Load a YAML rule file into ``model``; any problem raises :class:`RuleFileError`.

    The message names the file, the line and the dotted field path, e.g.
    ``rules/partner_selection.yaml:12: floors.risk: Input should be a valid number``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"{p}: cannot read rule file: {exc}") from exc
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        raise RuleFileError(f"{p}{f':{line}' if line else ''}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleFileError(f"{p}:1: the rule file must be a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError("\n".join(
            f"{p}:{line}: {field or '(top level)'}: {msg}"
            for line, field, msg in located_errors(exc, lines))) from exc


def load_policy_rules(path: str | Path, model: type[M],
                      rules_of: Callable[[M], Sequence[Rule]]) -> tuple[M, CompiledRules]:
    """Load and validate a policy file, and compile the rules it holds (``rules_of``)."""
    policy = load_rule_file(path, model)
    return policy, compile_rules(rules_of(policy))


def rules_dir() -> Path:
    """Where the ``rules/`` data lives: beside the package in the repo, or at the zip root."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent.parent / "rules", here.parent / "rules"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("rules/ directory not found next to the paver package")
