"""The API's OpenAPI 3.1 description, generated from the Chalice app and its Pydantic models.

The routes, methods and path parameters come from the Chalice app; the JSON body of each route
is the Pydantic model the view passes to ``parse_body`` (found in the view function's code),
and its schema is Pydantic's own JSON Schema, which OpenAPI 3.1 takes as it is (JSON Schema
2020-12: ``anyOf`` with ``null``, numeric ``exclusiveMinimum``), so every bound and pattern the
model enforces is the one published. What the models cannot say is added here: the rows of
``list[Any]`` batch fields (validated row by row), path and query parameters, the bearer-token
security, the success statuses each view returns and the error responses. ``paver openapi``
writes it; a test validates it with openapi-spec-validator and runs schemathesis against
``paver serve`` with it.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from functions._errors import HTTP_ERRORS
from paver.fields import NOT_TEXT, _plain_text
from paver.risk.alerts import STATUSES as ALERT_STATUSES

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"

#: What ``functions._http.path_id`` accepts for every id in a path.
PATH_ID_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 128,
                                  "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"}

#: Page size and the opaque cursor a list route returned.
_PAGE: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "The `cursor` of the previous page, as returned (opaque; any other value "
                    "is refused with 400)",
     "schema": {"type": "string", "maxLength": 512, "pattern": "^[A-Za-z0-9_-]*$"}}]

#: Query parameters the handlers read (Chalice routes do not declare them).
QUERY_PARAMS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/codes/{code_id}/image", "get"): [
        {"name": "format", "in": "query", "required": False,
         "schema": {"type": "string", "enum": ["png", "svg"], "default": "png"}}],
    ("/merchants", "get"): [
        {"name": "q", "in": "query", "required": False,
         "schema": {"type": "string", "maxLength": 64}},
        {"name": "partner", "in": "query", "required": False, "schema": PATH_ID_SCHEMA},
        *_PAGE],
    ("/codes", "get"): [
        {"name": "campaign", "in": "query", "required": False, "schema": PATH_ID_SCHEMA},
        {"name": "partner", "in": "query", "required": False, "schema": PATH_ID_SCHEMA},
        *_PAGE],
    ("/risk/alerts", "get"): [
        {"name": "status", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(ALERT_STATUSES), "default": "flagged"}},
        # a scene label as users write it (paver.risk.events.check_label)
        {"name": "scene", "in": "query", "required": False,
         "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                    "pattern": "^[^\\x00-\\x1f\\x7f]+$"}},
        {"name": "from", "in": "query", "required": False,
         "schema": {"type": "string", "format": "date-time"}},
        {"name": "to", "in": "query", "required": False,
         "schema": {"type": "string", "format": "date-time"}},
        *_PAGE],
    # the window of the risk decisions drift reads (default: the last 7 days)
    ("/drift", "get"): [
        {"name": "from", "in": "query", "required": False,
         "schema": {"type": "string", "format": "date-time"}},
        {"name": "to", "in": "query", "required": False,
         "schema": {"type": "string", "format": "date-time"}}],
    ("/risk/scenes", "get"): [
        {"name": "version", "in": "query", "required": False,
         "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"}}],
}

#: Answers of one route beyond the shared ones (status → description).
EXTRA_RESPONSES: dict[tuple[str, str], dict[str, str]] = {
    ("/partners/{partner_id}/skins", "post"): {
        "422": "refused by the four-reader certification: the skin, with its failing "
               "cells in `failures`, is stored and never offered"},
}

#: Responses that are not JSON: (path, method) → media type → schema.
MEDIA: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("/codes/{code_id}/image", "get"): {
        "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
        "image/svg+xml": {"schema": {"type": "string"}}},
    ("/campaigns/{campaign_id}/partners/{partner_id}/sheet", "get"): {
        "application/pdf": {"schema": {"type": "string",
                                       "contentMediaType": "application/pdf"}}},
}

#: Static pages (the console and the merchant page): served by the app, not part of the API.
NOT_API = frozenset({"/console", "/console/{asset}", "/m", "/m/{asset}"})

#: Answers of one route beyond the shared ones (status → description).
EXTRA_RESPONSES: dict[tuple[str, str], dict[str, str]] = {
    ("/partners/{partner_id}/skins", "post"): {
        "422": "refused by the four-reader certification: the skin, with its failing "
               "cells in `failures`, is stored and never offered"},
}

#: Rows of ``list[Any]`` batch fields, validated row by row by the ingest models (published as
#: ``x-row-schema`` of the items: a bad row does not fail the request, it is reported).
_ROW_MODELS = {"MerchantBatch": {"merchants": "MerchantRow", "metrics": "MetricRow"}}

#: Every error status a route may answer: the core's categories (one mapping for every route,
#: ``functions._errors``) and what the gateway refuses before a handler runs.
_ERRORS = {
    **{str(status): text for status, _code, text in HTTP_ERRORS.values()},
    "413": "body too large",
    "415": "body is not application/json",
}
_SUCCESS = {200: "success", 201: "created", 202: "accepted"}
_STATUS_RE = re.compile(r"status(?:_code)?=([^,)\n]+)")


def body_model(view_function: Any) -> type[BaseModel] | None:
    """The Pydantic model a view passes to ``parse_body`` (None for routes without a body)."""
    view_function = inspect.unwrap(view_function)  # functions._errors wraps every route
    code = view_function.__code__
    if "parse_body" not in code.co_names:
        return None
    found = [view_function.__globals__.get(n) for n in code.co_names]
    models = [m for m in found if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else None


def success_statuses(view_function: Any) -> list[int]:
    """The 2xx statuses a view returns: the literals it passes as ``status=``/``status_code=``
    (``201 if created else 200`` gives both), 200 when it returns a plain value."""
    source = inspect.getsource(view_function)
    found = {int(n) for expr in _STATUS_RE.findall(source)
             for n in re.findall(r"\b(2\d\d)\b", expr)}
    return sorted(found or {200})


def _row_models() -> dict[str, type[BaseModel]]:
    from paver.trust.ingest import ROW_MODELS

    return {m.__name__: m for m in ROW_MODELS.values()}


_PLAIN_TEXT_MARK = "x-paver-plain-text"
_WS_CHARS = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                      + "".join(map(chr, range(0x2000, 0x200B))))


def _text_class(blank: bool = True) -> str:
    """The published class of :data:`paver.fields.PlainText` characters: the Basic
    Multilingual Plane without control, format, surrogate and private-use characters (a
    whitelist: generators read neither astral escapes nor a class of 700 unassigned gaps;
    astral text, which the API takes, is left out of what is published)."""
    ranges, start = [], None
    for cp in range(0x10001):
        ok = cp <= 0xFFFF and unicodedata.category(chr(cp)) not in NOT_TEXT and (
            blank or chr(cp) not in _WS_CHARS)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            ranges.append(f"\\u{start:04x}" if start == cp - 1
                          else f"\\u{start:04x}-\\u{cp - 1:04x}")
            start = None
    return "[" + "".join(ranges) + "]"


def _link_plain_text(node: Any) -> None:
    """Replace the marker of :data:`paver.fields.PlainText` by a ``$ref`` to its schema."""
    if isinstance(node, dict):
        if node.pop(_PLAIN_TEXT_MARK, False):
            node["$ref"] = _REF.format(model="PlainText")
        for value in node.values():
            _link_plain_text(value)
    elif isinstance(node, list):
        for value in node:
            _link_plain_text(value)


class _PublishedSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, with decimals stated as tightly as they are validated: a
    decimal string matches the places and bounds (Pydantic's own string branch is any
    string), and a decimal number is a multiple of its smallest place."""

    def get_decimal_pattern(self, schema: core_schema.DecimalSchema) -> str | None:
        places = schema.get("decimal_places")
        low = schema.get("gt", schema.get("ge"))
        high = schema.get("lt", schema.get("le"))
        if places is None or low is None or low < 0 or high is None:
            return self.build_decimal_pattern(schema)
        digits = max(1, len(str(int(high))) - 1)  # below the bound's magnitude: never over it
        nonzero = "(?=.*[1-9])" if "gt" in schema else ""
        fraction = rf"(\.[0-9]{{1,{places}}})?" if places else ""
        return rf"^{nonzero}[0-9]{{1,{digits}}}{fraction}$"

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        if schema.get("config", {}).get("str_strip_whitespace"):
            for prop in out.get("properties", {}).values():
                branches = prop.get("anyOf", [prop])
                if any(b.get("type") == "number" for b in branches):
                    continue  # a decimal's text is not stripped
                for branch in branches:
                    if branch.get(_PLAIN_TEXT_MARK):
                        _stripped_plain_text(branch)
                    elif branch.get("type") == "string":
                        _stripped(branch)
        return out

    def function_after_schema(
            self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        out = super().function_after_schema(schema)
        if schema["function"].get("function") is _plain_text:  # paver.fields.PlainText
            return {_PLAIN_TEXT_MARK: True, **out}  # a $ref once Pydantic is done
        return out

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        out = super().decimal_schema(schema)
        places = schema.get("decimal_places")
        if places is not None and "anyOf" in out:
            out["anyOf"][0].setdefault("multipleOf", 10.0 ** -places)
        return out


#: What Pydantic strips with ``str_strip_whitespace`` (Rust's ``trim``: Unicode White_Space).
_WS = "[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
_NON_WS = "[^" + _WS[1:]
#: ``^<one class>+$`` or ``^<one class>{a}$`` / ``{a,b}$``: bounds can be folded into it
_SIMPLE = re.compile(r"^\^(\[[^\]]+\]|\\d)(?:\+|\{(\d+)(?:,(\d+))?\})\$$")


def _stripped_plain_text(branch: dict[str, Any]) -> None:
    """Stripped :data:`paver.fields.PlainText`: one pattern (two would make generators filter
    each other's output): no refused character, and a non-blank one when it may not be empty.
    The length bounds count surrounding whitespace here (a slightly stricter statement)."""
    del branch[_PLAIN_TEXT_MARK]
    text = _text_class()
    if branch.get("minLength", 0) >= 1:
        branch["pattern"] = f"^{text}*{_text_class(blank=False)}{text}*$"
    else:
        branch["pattern"] = f"^{text}*$"


def _stripped(branch: dict[str, Any]) -> None:
    """A string a model strips before checking it: surrounding whitespace is allowed, and the
    length bounds and pattern hold for what is inside (stated in the pattern, since JSON
    Schema's ``minLength``/``maxLength`` count the whitespace too)."""
    lo, hi = branch.get("minLength", 0), branch.get("maxLength")
    pattern = branch.get("pattern")
    if pattern is None:
        if lo == 0 and hi is None:
            return
        inner = [""] if lo == 0 else []
        if lo <= 1 and (hi is None or hi >= 1):
            inner.append(_NON_WS)
        if hi is None or hi >= 2:
            inner.append(f"{_NON_WS}[\\s\\S]{{{max(lo - 2, 0)},{'' if hi is None else hi - 2}}}"
                         f"{_NON_WS}")
        core = "(?:" + "|".join(inner) + ")"
    elif m := _SIMPLE.match(pattern):
        atom, a, b = m.groups()
        low = max(lo, int(a) if a else 1)
        highs = [x for x in (hi, int(b or a) if a else None) if x is not None]
        core = f"{atom}{{{low},{min(highs) if highs else ''}}}"
    elif pattern.startswith("^") and pattern.endswith("$"):
        branch["pattern"] = f"^{_WS}*(?:{pattern[1:-1]}){_WS}*$"
        return
    else:
        return
    branch.pop("minLength", None)
    branch.pop("maxLength", None)
    branch["pattern"] = f"^{_WS}*{core}{_WS}*$"


#: Pydantic's constraint names, as it leaves them on ``Annotated[float, <validator>] | None``
#: fields (it cannot push them into a validated type), and their JSON Schema keywords.
_BOUNDS = {"ge": ("minimum", max), "gt": ("exclusiveMinimum", max),
           "le": ("maximum", min), "lt": ("exclusiveMaximum", min)}


def _json_schema_bounds(node: Any) -> None:
    """Restate leftover ``ge``/``le``/``gt``/``lt`` as JSON Schema bounds (generators ignore
    unknown keywords and would send 1e233 as a latitude); the tighter bound wins."""
    if isinstance(node, dict):
        if node.get("type") in ("number", "integer"):
            for key, (keyword, tighter) in _BOUNDS.items():
                if key in node:
                    value = node.pop(key)
                    node[keyword] = tighter(value, node[keyword]) if keyword in node else value
        for value in node.values():
            _json_schema_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _json_schema_bounds(value)


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """Validation-mode JSON Schemas of ``models`` (and what they reference), by name."""
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=_REF,
                                schema_generator=_PublishedSchema)
    defs = dict(top.get("$defs", {}))
    _json_schema_bounds(defs)
    return defs


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _accepts_empty(model: type[BaseModel]) -> bool:
    try:
        model.model_validate({})
    except ValidationError:
        return False
    return True


def api_routes(app: Any) -> list[tuple[str, dict[str, Any]]]:
    """The API's routes (``(path, {method: entry})``): the static pages are left out."""
    return [(path, methods) for path, methods in app.routes.items() if path not in NOT_API]


def generate(app: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app`` (a :class:`chalice.Chalice`)."""
    from functions._auth import PUBLIC_PATHS

    error = {"$ref": "#/components/schemas/Error"}
    paths: dict[str, dict[str, Any]] = {}
    models: dict[str, type[BaseModel]] = {}
    for path, methods in api_routes(app):
        for method, entry in methods.items():
            key = (path, method.lower())
            op: dict[str, Any] = {"operationId": entry.view_name}
            doc = entry.view_function.__doc__
            if doc:
                op["summary"] = doc.strip().splitlines()[0]
            params = [{"name": a, "in": "path", "required": True, "schema": dict(PATH_ID_SCHEMA)}
                      for a in entry.view_args]
            params += QUERY_PARAMS.get(key, [])
            if params:
                op["parameters"] = params
            model = body_model(entry.view_function)
            if model is not None:
                models[model.__name__] = model
                # parse_body reads no body as {}: a body is required only if {} is refused
                op["requestBody"] = {"required": not _accepts_empty(model), "content": _json(
                    {"$ref": _REF.format(model=model.__name__)})}
            op["security"] = [] if path in PUBLIC_PATHS else [{"bearer": []}]
            responses: dict[str, Any] = {}
            for status in success_statuses(entry.view_function):
                responses[str(status)] = {
                    "description": _SUCCESS.get(status, "success"),
                    "content": MEDIA.get(key, _json({"type": "object"}))}
            errors = dict(_ERRORS)
            if path in PUBLIC_PATHS:
                errors.pop("401")
            for status, text in errors.items():
                responses[status] = {"description": text, "content": _json(error)}
            for status, text in EXTRA_RESPONSES.get(key, {}).items():
                responses[status] = {"description": text, "content": _json(error)}
            op["responses"] = responses
            paths.setdefault(path, {})[method.lower()] = op
    rows = _row_models()
    used_rows = {r for fields in _ROW_MODELS.values() for r in fields.values()}
    schemas = _schemas([*models.values(), *(rows[r] for r in sorted(used_rows))])
    for model_name, fields in _ROW_MODELS.items():
        if model_name in schemas:
            for fld, row in fields.items():
                # rows are validated one by one: a bad row is rejected and reported in the
                # reply's ``<field>.errors`` (naming the row and field), the others are stored
                schemas[model_name]["properties"][fld]["items"] = {
                    "description": f"one row, validated on its own against {row} (like a "
                                   f"CSV cell, a number may also come as its text; a missing "
                                   f"partner_id is the URL's); a row that fails is rejected "
                                   f"and listed in the reply's `{fld}.errors`, the others "
                                   f"are stored",
                    "x-row-schema": {"$ref": _REF.format(model=row)}}
    _link_plain_text(schemas)
    schemas["PlainText"] = {
        "type": "string", "pattern": f"^{_text_class()}*$",
        "description": "text without control, format, surrogate, private-use or unassigned "
                       "characters (paver.fields.PlainText); the pattern publishes the Basic "
                       "Multilingual Plane part of it"}
    schemas["Error"] = {"type": "object", "required": ["Code", "Message"], "properties": {
        "Code": {"type": "string"}, "Message": {"type": "string"}}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Paver API", "version": _version(),
                 "description": "Trust-tiered rollout of aggregated payment codes and "
                                "risk-scene identification."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "`Authorization: Bearer <paver token>` (`paver token`)"}}},
    }


def _version() -> str:
    from paver import __version__

    return __version__
