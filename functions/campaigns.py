"""Campaign routes: create a campaign, run its partner selection, list its ranked partners.

Operators only (the auth middleware resolves the caller).
"""

from __future__ import annotations

from typing import Annotated, Any

from chalice import BadRequestError, Blueprint, ConflictError, NotFoundError, Response
from pydantic import BaseModel, ConfigDict, Field

from functions._auth import require_operator
from functions._http import json_response, parse_body, path_id
from paver.fields import Float, PlainText
from paver.trust import service
from paver.trust.selection import load_policy

bp = Blueprint(__name__)


def _policy_threshold(schema: dict[str, Any]) -> None:
    """Publish the range the selection policy (rules/) allows, which the service enforces."""
    allowed = load_policy().threshold
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "number":
            branch.update(minimum=allowed.min, maximum=allowed.max)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainText = Field(min_length=1, max_length=200)
    # a region as partners and merchants carry it (ingest bounds theirs to 40 characters)
    regions: list[Annotated[PlainText, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=50)
    threshold: Float | None = Field(default=None, ge=0, le=100,
                                    json_schema_extra=_policy_threshold)


@bp.route("/campaigns", methods=["POST"])
def post_campaign() -> Response:
    require_operator()
    body = parse_body(bp, CampaignIn)
    try:
        doc = service.create_campaign(body.name, body.regions, body.threshold)
    except service.PolicyError as exc:
        raise BadRequestError(f"threshold: {exc}") from exc
    return json_response(doc, status=201)


@bp.route("/campaigns/{campaign_id}/selection", methods=["POST"])
def post_selection(campaign_id: str) -> Response:
    require_operator()
    try:
        result = service.run_selection(path_id(campaign_id, "campaign_id"))
    except service.NotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    except service.NoModelError as exc:
        raise ConflictError(str(exc)) from exc
    except service.PolicyError as exc:
        raise BadRequestError(str(exc)) from exc
    return json_response(result)


@bp.route("/campaigns/{campaign_id}/partners", methods=["GET"])
def get_partners(campaign_id: str) -> Response:
    require_operator()
    try:
        return json_response(service.campaign_partners(path_id(campaign_id, "campaign_id")))
    except service.NotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
