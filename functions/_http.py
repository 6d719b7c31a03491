"""Shared edge helpers for handlers: parse and validate bodies, map domain errors to HTTP."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from chalice import BadRequestError, Blueprint, Response
from pydantic import BaseModel, ValidationError

from paver.fields import JSON_BODY, is_id

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 1_000_000


def parse_body(bp: Blueprint, model: type[M]) -> M:
    """Validate the JSON body of the current request against ``model`` (400 names the field)."""
    req = bp.current_request
    raw = req.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequestError(f"body: larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"body: not valid JSON ({exc})") from exc
    except RecursionError as exc:  # e.g. "[[[[..." nested deeper than the parser's stack
        raise BadRequestError("body: JSON nested too deeply") from exc
    try:
        # a JSON body: counts and measures are JSON numbers, as published (paver.fields)
        return model.model_validate(data, context=JSON_BODY)
    except ValidationError as exc:
        raise BadRequestError("; ".join(_field_errors(exc))) from exc


def _field_errors(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    ]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        body=json.dumps(body, default=str, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def path_id(value: str, field: str = "id") -> str:
    """Validate an id taken from the URL path (ids are short, printable, no separators)."""
    # ASCII only: str.isalnum() also takes "١" (Arabic-Indic digits) and other scripts
    if not is_id(value):
        raise BadRequestError(f"{field}: 1-128 letters, digits or -_.: characters")
    return value
