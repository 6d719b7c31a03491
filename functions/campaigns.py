"""Campaign routes: create a campaign, run its partner selection, list its ranked partners.

Operators only (the auth middleware resolves the caller).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalice import Blueprint, Response
from pydantic import ConfigDict, Field

from functions._auth import require_operator
from functions._http import Body, json_response, parse_body, path_id
from paver.console import overrides
from paver.fields import Float, PlainText
from paver.lazy import lazy_module

if TYPE_CHECKING:
    from paver.trust import selection, service
else:  # at its first call: every route shares one cold start (paver.lazy)
    service = lazy_module("paver.trust.service")
    selection = lazy_module("paver.trust.selection")

bp = Blueprint(__name__)


_VERSION = r"^[0-9]{8}T[0-9]{6,12}Z-[0-9a-f]{8}$"  # paver.trust.training.new_version


def _policy_threshold(schema: dict[str, Any]) -> None:
    """Publish the range the selection policy (rules/) allows, which the service enforces."""
    allowed = selection.load_policy().threshold
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "number":
            branch.update(minimum=allowed.min, maximum=allowed.max)


class CampaignIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainText = Field(min_length=1, max_length=200)
    # a region as partners and merchants carry it (ingest bounds theirs to 40 characters)
    regions: list[Annotated[PlainText, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=50)
    threshold: Float | None = Field(default=None, ge=0, le=100,
                                    json_schema_extra=_policy_threshold)
    #: a registered trust model version to score with (default: the active model)
    model_version: str | None = Field(default=None, max_length=40, pattern=_VERSION)


class SelectionIn(Body):
    """Optional body of a selection run: score with this registered model version; with
    ``dry_run``, a candidate selection rules document (``rules``, the content of
    ``rules/partner_selection.yaml`` as JSON) is tried instead and nothing is stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    model_version: str | None = Field(default=None, max_length=40, pattern=_VERSION)
    # A candidate rules document can only be tried: with it (or dry_run) nothing is stored.
    dry_run: Literal[True] | None = None
    rules: dict[str, Any] | None = None


@bp.route("/campaigns", methods=["POST"])
def post_campaign() -> Response:
    require_operator()
    body = parse_body(bp, CampaignIn)
    doc = service.create_campaign(body.name, body.regions, body.threshold,
                                  model_version=body.model_version)
    return json_response(doc, status=201)


@bp.route("/campaigns/{campaign_id}/selection", methods=["POST"])
def post_selection(campaign_id: str) -> Response:
    require_operator()
    body = parse_body(bp, SelectionIn)
    cid = path_id(campaign_id, "campaign_id")
    if body.dry_run or body.rules is not None:
        return json_response(service.campaign_what_if(cid, body.rules,
                                                      model_version=body.model_version))
    return json_response(service.run_selection(cid, model_version=body.model_version))


@bp.route("/campaigns/{campaign_id}/partners", methods=["GET"])
def get_partners(campaign_id: str) -> Response:
    require_operator()
    return json_response(service.campaign_partners(path_id(campaign_id, "campaign_id")))


@bp.route("/campaigns", methods=["GET"])
def list_campaigns() -> Response:
    """Every campaign, newest first."""
    require_operator()
    return json_response({"items": service.list_campaigns()})


class OverrideIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    selected: bool
    note: str = Field(min_length=3, max_length=overrides.MAX_NOTE_CHARS)


@bp.route("/campaigns/{campaign_id}/partners/{partner_id}/override", methods=["POST"])
def post_override(campaign_id: str, partner_id: str) -> Response:
    """Override a partner's selection decision with a note (kept in the audit trail)."""
    operator = require_operator()
    body = parse_body(bp, OverrideIn)
    return json_response(overrides.override(
        path_id(campaign_id, "campaign_id"), path_id(partner_id, "partner_id"), body.selected,
        body.note, by=operator.id))
