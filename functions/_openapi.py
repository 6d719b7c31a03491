"""The API's OpenAPI (Swagger 2.0) description, generated from the Chalice app itself.

Chalice's own generator gives the paths, methods and path parameters; this module adds what
it cannot know: the JSON body of each route (the Pydantic model the handler passes to
``parse_body``, found in the view function's code), the query parameters, the bearer-token
security and the error responses. ``paver openapi`` writes it, e.g. for schemathesis.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

#: Page size and the opaque cursor a list route returned.
_PAGE: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "required": False, "type": "integer", "minimum": 1,
     "maximum": 100},
    {"name": "cursor", "in": "query", "required": False, "type": "string", "maxLength": 512}]

#: Query parameters the handlers read (Chalice routes do not declare them).
QUERY_PARAMS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/codes/{code_id}/image", "get"): [
        {"name": "format", "in": "query", "required": False, "type": "string",
         "enum": ["png", "svg"], "default": "png"}],
    ("/merchants", "get"): [
        {"name": "q", "in": "query", "required": False, "type": "string", "maxLength": 64},
        {"name": "partner", "in": "query", "required": False, "type": "string",
         "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"},
        *_PAGE],
    ("/codes", "get"): [
        {"name": "campaign", "in": "query", "required": False, "type": "string",
         "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"},
        {"name": "partner", "in": "query", "required": False, "type": "string",
         "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"},
        *_PAGE],
    ("/risk/alerts", "get"): [
        {"name": "status", "in": "query", "required": False, "type": "string",
         "enum": ["flagged", "cleared", "all"], "default": "flagged"},
        {"name": "scene", "in": "query", "required": False, "type": "string",
         "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"},
        {"name": "from", "in": "query", "required": False, "type": "string",
         "format": "date-time"},
        {"name": "to", "in": "query", "required": False, "type": "string",
         "format": "date-time"},
        *_PAGE],
    ("/risk/scenes", "get"): [
        {"name": "version", "in": "query", "required": False, "type": "string",
         "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"}],
}

#: Answers of one route beyond the shared ones (status → description).
EXTRA_RESPONSES: dict[tuple[str, str], dict[str, str]] = {
    ("/partners/{partner_id}/skins", "post"): {
        "422": "refused by the four-reader certification: the skin, with its failing "
               "cells in `failures`, is stored and never offered"},
}

#: Rows of ``list[Any]`` batch fields, validated row by row by the ingest models.
_ROW_MODELS = {"MerchantBatch": {"merchants": "MerchantRow", "metrics": "MetricRow"}}

_ERRORS = {
    "400": "invalid body, path or query parameter (the message names the field)",
    "401": "missing, expired or forged bearer token",
    "403": "outside the caller's tenant",
    "404": "not found",
    "409": "conflict with the current state",
    "413": "body too large",
    "415": "body is not application/json",
}
_PATH_ID = {"type": "string", "minLength": 1, "maxLength": 128,
            "pattern": r"^[\w.:-]{1,128}$"}


def body_model(view_function: Any) -> type[BaseModel] | None:
    """The Pydantic model a view passes to ``parse_body`` (None for routes without a body)."""
    code = view_function.__code__
    if "parse_body" not in code.co_names:
        return None
    found = [view_function.__globals__.get(n) for n in code.co_names]
    models = [m for m in found if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else None


def _swagger_schema(schema: Any) -> Any:
    """Pydantic's JSON Schema → Swagger 2.0 schema (refs to definitions, nullable as x-nullable)."""
    if isinstance(schema, list):
        return [_swagger_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _swagger_schema(v) for k, v in schema.items() if k != "$defs"}
    options = out.get("anyOf")
    if isinstance(options, list):
        non_null = [o for o in options if o != {"type": "null"}]
        if len(non_null) == 1 and len(non_null) < len(options):
            del out["anyOf"]
            out = {**non_null[0], **out, "x-nullable": True}
    return out


def _model_schema(model: type[BaseModel], definitions: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/definitions/{model}")
    for name, sub in schema.get("$defs", {}).items():
        definitions[name] = _swagger_schema(sub)
    definitions[model.__name__] = _swagger_schema(schema)
    return {"$ref": f"#/definitions/{model.__name__}"}


def _row_models() -> dict[str, type[BaseModel]]:
    from paver.trust.ingest import ROW_MODELS

    return {m.__name__: m for m in ROW_MODELS.values()}


def generate(app: Any) -> dict[str, Any]:
    """The Swagger 2.0 document of ``app`` (a :class:`chalice.Chalice`)."""
    from chalice.deploy.swagger import SwaggerGenerator

    class _Generator(SwaggerGenerator):
        def _uri(self, lambda_arn: str | None = None) -> str:  # no deployed Lambda here
            return "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/" \
                   "{api_handler_arn}/invocations"

    doc = copy.deepcopy(_Generator("us-east-1", {}).generate_swagger(app))
    doc["info"] = {"title": "Paver API", "version": _version(),
                   "description": "Trust-tiered rollout of aggregated payment codes and "
                                  "risk-scene identification."}
    doc["consumes"] = doc["produces"] = ["application/json"]
    doc["securityDefinitions"] = {"bearer": {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "Bearer token: `Authorization: Bearer <paver token>`"}}
    definitions = doc.setdefault("definitions", {})
    from functions._auth import PUBLIC_PATHS

    for path, methods in app.routes.items():
        for method, entry in methods.items():
            op = doc["paths"][path][method.lower()]
            op.pop("x-amazon-apigateway-integration", None)
            op["operationId"] = entry.view_name
            if entry.view_function.__doc__:
                op["summary"] = entry.view_function.__doc__.strip().splitlines()[0]
            params = [{"name": a, "in": "path", "required": True, **_PATH_ID}
                      for a in entry.view_args]
            params += QUERY_PARAMS.get((path, method.lower()), [])
            model = body_model(entry.view_function)
            if model is not None:
                params.append({"name": "body", "in": "body", "required": True,
                               "schema": _model_schema(model, definitions)})
            if params:
                op["parameters"] = params
            if path not in PUBLIC_PATHS:
                op["security"] = [{"bearer": []}]
            responses = {k: v for k, v in op.get("responses", {}).items()
                         if not k.startswith("4")}
            responses.setdefault("200", {"description": "success"})
            if method == "POST":
                responses.setdefault("201", {"description": "created"})
                responses.setdefault("202", {"description": "accepted"})
            for status, text in _ERRORS.items():
                if status == "401" and path in PUBLIC_PATHS:
                    continue
                responses[status] = {"description": text,
                                     "schema": {"$ref": "#/definitions/Error"}}
            for status, text in EXTRA_RESPONSES.get((path, method.lower()), {}).items():
                responses[status] = {"description": text}
            op["responses"] = responses
    rows = _row_models()
    for model_name, fields in _ROW_MODELS.items():
        if model_name in definitions:
            for fld, row in fields.items():
                items = _model_schema(rows[row], definitions)
                definitions[model_name]["properties"][fld]["items"] = items
    definitions["Error"] = {"type": "object", "properties": {
        "Code": {"type": "string"}, "Message": {"type": "string"}}}
    return doc


def _version() -> str:
    from paver import __version__

    return __version__
