"""Shared edge helpers for handlers: parse and validate bodies and path ids (refusals are
:class:`paver.errors.InvalidInput`, answered by ``functions._errors``), serialise replies."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, ValidationError

from paver.errors import InvalidInput
from paver.fields import JSON_BODY, is_id

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 1_000_000


class Body(BaseModel):
    """Base of the routes' body models: each is built at its route's first request, not at
    ``import app`` (a dozen models are a noticeable part of every cold start)."""

    model_config = ConfigDict(defer_build=True)  # merged with each model's own config


def parse_body(bp: Blueprint, model: type[M]) -> M:
    """Validate the JSON body of the current request against ``model`` (400 names the field)."""
    raw = checked_body(bp.current_request)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"not valid JSON ({exc})", field="body") from exc
    except RecursionError as exc:  # e.g. "[[[[..." nested deeper than the parser's stack
        raise InvalidInput("JSON nested too deeply", field="body") from exc
    try:
        # a JSON body: counts and measures are JSON numbers, as published (paver.fields)
        return model.model_validate(data, context=JSON_BODY)
    except ValidationError as exc:
        raise InvalidInput("; ".join(_field_errors(exc))) from exc


def checked_body(request: Any) -> bytes:
    """The raw body of ``request``, refused when larger than :data:`MAX_BODY_BYTES`."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput(f"larger than {MAX_BODY_BYTES} bytes", field="body")
    return raw


def _field_errors(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    ]


def _json_value(value: Any) -> Any:
    """What ``json`` cannot write itself: a Decimal (DynamoDB's numbers) is a JSON number, as
    the published schemas say of numbers; anything else its text (times, ids)."""
    if not isinstance(value, Decimal):
        return str(value)
    if value.is_finite() and value == value.to_integral_value():
        return int(value)
    return float(value)


def json_response(body: Any, status: int = 200) -> Response:
    """The JSON reply of every route (``functions._errors`` sends plain return values here)."""
    return Response(
        body=json.dumps(body, default=_json_value, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def path_id(value: str, field: str = "id") -> str:
    """Validate an id taken from the URL path (ids are short, printable, no separators)."""
    # ASCII only: str.isalnum() also takes "١" (Arabic-Indic digits) and other scripts
    if not is_id(value):
        raise InvalidInput("1-128 letters, digits or -_.: characters", field=field)
    return value
