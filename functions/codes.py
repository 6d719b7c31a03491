"""Rollout and code routes: fan-out, progress, code lookup/image, status, merchant skin choice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint, Response
from pydantic import ConfigDict, Field

from functions._auth import (
    partner_scope,
    principal,
    require_code,
    require_merchant,
    require_operator,
    require_partner,
)
from functions._http import Body, json_response, parse_body, path_id
from paver.config import settings
from paver.console.pages import parse_limit
from paver.errors import Forbidden
from paver.lazy import lazy_module
from paver.rollout.status import STATUSES

if TYPE_CHECKING:
    from paver.console import codes as codes_list
    from paver.console import sheet
    from paver.rollout import service
else:  # at its first call: every route shares one cold start (paver.lazy)
    codes_list = lazy_module("paver.console.codes")
    sheet = lazy_module("paver.console.sheet")
    service = lazy_module("paver.rollout.service")

bp = Blueprint(__name__)


class StatusChange(Body):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(pattern="^(" + "|".join(STATUSES) + ")$")


class SkinChoice(Body):
    model_config = ConfigDict(extra="forbid")
    skin: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")


@bp.route("/campaigns/{campaign_id}/rollout", methods=["POST"])
def start_rollout(campaign_id: str) -> Response:
    require_operator()
    result = service.start_rollout(path_id(campaign_id, "campaign_id"))
    return json_response({"campaign_id": campaign_id, **result}, status=202)


@bp.route("/campaigns/{campaign_id}/progress", methods=["GET"])
def progress(campaign_id: str) -> dict:
    require_operator()
    return service.campaign_progress(path_id(campaign_id, "campaign_id"))


@bp.route("/codes/{code_id}", methods=["GET"])
def get_code(code_id: str) -> dict:
    return service.code_view(require_code(path_id(code_id, "code_id")))


@bp.route("/codes/{code_id}/image", methods=["GET"])
def get_code_image(code_id: str) -> Response:
    params = bp.current_request.query_params or {}
    fmt = params.get("format", "png")
    code = require_code(path_id(code_id, "code_id"))
    data, content_type = service.code_image(code, fmt)
    # PNG is a binary type (base64 through API Gateway); SVG is text.
    body = data.decode("utf-8") if content_type.startswith("image/svg") else data
    return Response(body=body, status_code=200, headers={"Content-Type": content_type})


@bp.route("/codes/{code_id}/status", methods=["PUT"])
def set_status(code_id: str) -> dict:
    code = require_code(path_id(code_id, "code_id"), change=True)
    body = parse_body(bp, StatusChange)
    return service.code_view(service.set_status(code.code_id, body.status))


@bp.route("/merchants/{merchant_id}/skin", methods=["PUT"])
def choose_skin(merchant_id: str) -> dict:
    require_merchant(path_id(merchant_id, "merchant_id"))
    body = parse_body(bp, SkinChoice)
    return service.code_view(service.reskin(merchant_id, body.skin))


@bp.on_sqs_message(queue=settings().queue_name("rollout"), batch_size=10)
def rollout_worker(event) -> dict:
    """Issue the codes of each message; report failed messages for retry (partial batch)."""
    return service.process_records(r.to_dict() for r in event)


@bp.route("/codes", methods=["GET"])
def list_codes() -> Response:
    """A campaign's, a partner's or (operator) all codes, page by page (a partner: its own)."""
    p = principal()
    if p.role == "merchant":
        raise Forbidden("merchants read their own code at /codes/{code_id}")
    params = bp.current_request.query_params or {}
    campaign = params.get("campaign")  # given empty is given: refused, not ignored
    partner = params.get("partner")
    if campaign is not None:
        path_id(campaign, "campaign")
    if partner is not None:
        path_id(partner, "partner")
    partner = partner_scope(partner)  # a partner lists its own; the operator may list all
    return json_response(codes_list.list_codes(
        campaign, partner, limit=parse_limit(params.get("limit")), cursor=params.get("cursor")))


@bp.route("/campaigns/{campaign_id}/partners/{partner_id}/sheet", methods=["GET"])
def partner_sheet(campaign_id: str, partner_id: str) -> Response:
    """The print-ready PDF sheet (A4, crop marks) of a partner's codes in a campaign."""
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    pdf = sheet.partner_sheet(path_id(campaign_id, "campaign_id"), pid)
    return Response(body=pdf, status_code=200, headers={
        "Content-Type": "application/pdf",
        "Content-Disposition": f'attachment; filename="codes-{pid}-{campaign_id}.pdf"'})
