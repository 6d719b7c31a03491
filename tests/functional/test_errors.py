"""One error model: every domain error maps to one status, every route answers through the one
mapping (``functions/_errors.py``), and no route keeps its own except ladder."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import textwrap
from decimal import Decimal
from typing import Any

import pytest
from chalice import Response

import paver
from functions._errors import HTTP_ERRORS, error_response, http_error, mapped
from paver import errors

#: Tooling packages that import optional developer dependencies (they define no HTTP errors).
_SKIP = ("paver.cli", "paver.demo", "paver.serve", "paver.local_", "paver.packaging")


def _core_error_classes() -> set[type[errors.PaverError]]:
    for info in pkgutil.walk_packages(paver.__path__, "paver."):
        if not info.name.startswith(_SKIP):
            importlib.import_module(info.name)
    seen: set[type[errors.PaverError]] = set()
    todo = [errors.PaverError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return seen


def test_every_domain_error_has_at_most_one_category() -> None:
    classes = _core_error_classes()
    assert len(classes) > 30  # the walk found the domain classes, not only the categories
    for cls in classes:
        categories = [c for c in cls.__mro__ if c in HTTP_ERRORS]
        # more than one would make the status depend on the order of the bases
        assert len(categories) <= 1, (cls, categories)
        status = http_error(cls)
        assert status == ((HTTP_ERRORS[categories[0]][:2]) if categories else None), cls


@pytest.mark.parametrize(("path", "name", "status"), [
    ("paver.errors", "UnknownMerchant", 404),
    ("paver.accrual.transactions", "TransactionConflict", 409),
    ("paver.accrual.transactions", "TransactionInputError", 400),
    ("paver.rollout.service", "RolloutError", 400),
    ("paver.rollout.service", "NothingSelected", 409),
    ("paver.rollout.service", "QueueUnavailable", 503),
    ("paver.rollout.status", "IllegalTransition", 409),
    ("paver.trust.service", "UnknownModelVersion", 404),
    ("paver.trust.artifacts", "NoModelError", 409),
    ("paver.trust.selection", "PolicyError", 400),
    ("paver.risk.service", "DatasetNotFound", 404),
    ("paver.risk.service", "RiskInputError", 400),
    ("paver.risk.kb", "NoKnowledgeBase", 404),
    ("paver.risk.kb", "KBBuildError", 400),
    ("paver.console.sheet", "SheetEmpty", 404),
    ("paver.console.overrides", "OverrideConflict", 409),
    ("paver.partner_skins", "SkinSpecError", 400),
    ("paver.auth", "CredentialError", 401),
])
def test_status_of_domain_errors(path: str, name: str, status: int) -> None:
    assert http_error(getattr(importlib.import_module(path), name))[0] == status


def test_one_class_per_concept() -> None:
    from paver.accrual import merchants, transactions
    from paver.binding import service as binding
    from paver.rollout import service as rollout
    from paver.trust import service as trust

    assert merchants.UnknownMerchant is transactions.UnknownMerchant is binding.UnknownMerchant
    assert trust.NotFoundError is errors.NotFound
    assert not hasattr(rollout, "NotFound") or rollout.NotFound is errors.NotFound


def test_token_secret_fault_is_not_the_callers() -> None:
    from paver.auth import TokenSecretError

    assert http_error(TokenSecretError) is None  # a fault of ours: 500, never a 401


def _body(resp: Response) -> Any:
    return json.loads(resp.body)


def test_mapping_answers_with_chalice_error_shape() -> None:
    def view() -> None:
        raise errors.InvalidInput("must be positive", field="amount")

    resp = mapped(view)()
    assert resp.status_code == 400
    assert _body(resp) == {"Code": "BadRequestError", "Message": "amount: must be positive"}
    assert errors.InvalidInput("threshold: too high").field == "threshold"

    resp = error_response(errors.Conflict("moved on", current={"status": "active"}))
    assert (resp.status_code, _body(resp)["Current"]) == (409, {"status": "active"})
    resp = error_response(errors.Unauthorized("token expired"))
    assert resp.status_code == 401 and "Bearer" in resp.headers["WWW-Authenticate"]


def test_fault_of_ours_is_left_to_chalice() -> None:
    def view() -> None:
        raise errors.PaverError("table missing")

    with pytest.raises(errors.PaverError):
        mapped(view)()


def test_one_serialisation_path_numbers_are_numbers() -> None:
    resp = mapped(lambda: {"score": Decimal("71.25"), "count": Decimal("3")})()
    assert resp.headers["Content-Type"] == "application/json"
    assert _body(resp) == {"score": 71.25, "count": 3}
    raw = Response(body="x", status_code=202)
    assert mapped(lambda: raw)() is raw


def _handlers_named(tree: ast.AST) -> list[str]:
    """Names each ``except`` clause of ``tree`` catches."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for part in ast.walk(node.type):
                if isinstance(part, ast.Attribute):
                    names.append(part.attr)
                elif isinstance(part, ast.Name):
                    names.append(part.id)
    return names


def test_every_route_answers_through_the_one_mapping() -> None:
    import chalice

    from app import app

    domain = {c.__name__ for c in _core_error_classes()} | {
        c.__name__ for c in vars(errors).values() if isinstance(c, type)}
    chalice_errors = {n for n, c in vars(chalice).items()
                      if isinstance(c, type) and issubclass(c, chalice.ChaliceViewError)}
    routes = [(path, method, entry) for path, methods in app.routes.items()
              for method, entry in methods.items()]
    assert len(routes) > 30
    for path, method, entry in routes:
        view = entry.view_function
        assert getattr(view, "__paver_errors__", False), (method, path)  # installed once
        inner = inspect.unwrap(view)
        tree = ast.parse(textwrap.dedent(inspect.getsource(inner)))
        caught = set(_handlers_named(tree))
        assert not caught & (domain | chalice_errors), (method, path, caught)
        # a route refuses with the core's classes, never with Chalice's own
        assert not set(inner.__code__.co_names) & chalice_errors, (method, path)
