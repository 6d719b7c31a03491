"""Merchant routes: transactions through the code, merchant view, benefits; accrual stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalice import Blueprint, Response
from pydantic import ConfigDict, Field

from functions._auth import partner_scope, principal, require_merchant
from functions._http import Body, json_response, parse_body, path_id
from paver.accrual import merchants
from paver.accrual.transactions import TransactionIn, check_reporting_window, record_transaction
from paver.auth import issue_token
from paver.config import settings
from paver.console import merchants as search
from paver.console.pages import parse_limit
from paver.errors import Forbidden, InvalidInput
from paver.lazy import lazy_module

if TYPE_CHECKING:
    from paver.accrual import accrual
    from paver.console import progress
else:  # at its first call: every route shares one cold start (paver.lazy)
    accrual = lazy_module("paver.accrual.accrual")
    progress = lazy_module("paver.console.progress")

bp = Blueprint(__name__)
_STREAM = settings().transactions_stream


@bp.route("/transactions", methods=["POST"])
def post_transaction() -> Response:
    # Payments are reported by the platform or the acquiring partner, never by the merchant
    # that would earn milestone benefits from them: refused before the body is read; the
    # merchant the body names is then checked against the caller's tenant.
    if principal().role == "merchant":
        raise Forbidden("merchants cannot do this")
    body = parse_body(bp, TransactionIn)
    require_merchant(body.merchant_id, allow_merchant=False)
    check_reporting_window(body.timestamp)
    view, created = record_transaction(body)
    return json_response({**view, "replayed": not created}, status=201 if created else 200)


@bp.route("/merchants", methods=["GET"])
def search_merchants() -> Response:
    """Search merchants by id, name or city (a partner: its own; a merchant: itself)."""
    p = principal()
    params = bp.current_request.query_params or {}
    q = params.get("q", "")
    if len(q) > search.MAX_QUERY_CHARS:
        raise InvalidInput(f"at most {search.MAX_QUERY_CHARS} characters", field="q")
    partner = params.get("partner")  # given empty: refused
    if partner is not None:
        path_id(partner, "partner")
    partner = partner_scope(partner)
    return json_response(search.search(
        q, partner_id=partner, merchant_id=p.id if p.role == "merchant" else None,
        limit=parse_limit(params.get("limit")), cursor=params.get("cursor")))


@bp.route("/merchants/{merchant_id}/milestones", methods=["GET"])
def get_milestones(merchant_id: str) -> dict:
    """Each milestone's benefit, whether granted and the progress toward it."""
    return _merchant_read(progress.milestones_view, merchant_id)


class SigninLinkIn(Body):
    model_config = ConfigDict(extra="forbid")
    ttl: int = Field(default=7 * 24 * 3600, ge=300, le=7 * 24 * 3600)


@bp.route("/merchants/{merchant_id}/signin-link", methods=["POST"])
def post_signin_link(merchant_id: str) -> Response:
    """A sign-in link to the merchant page a partner hands its merchant (token in the
    fragment: never sent to a server, never in logs)."""
    mid = path_id(merchant_id, "merchant_id")
    require_merchant(mid, allow_merchant=False)
    body = parse_body(bp, SigninLinkIn)
    token = issue_token("merchant", mid, ttl_s=body.ttl)
    return json_response({"merchant_id": mid, "path": f"/m/#token={token}",
                          "expires_in": body.ttl}, status=201)


@bp.route("/merchants/{merchant_id}", methods=["GET"])
def get_merchant(merchant_id: str) -> dict:
    return _merchant_read(merchants.merchant_view, merchant_id)


@bp.route("/merchants/{merchant_id}/benefits", methods=["GET"])
def get_benefits(merchant_id: str) -> dict:
    return _merchant_read(merchants.benefits_view, merchant_id)


def _merchant_read(view: Callable[[str], dict], merchant_id: str) -> dict:
    """A merchant read view for a caller allowed to see the merchant (404 when gone)."""
    mid = path_id(merchant_id, "merchant_id")
    require_merchant(mid)
    return view(mid)


@bp.on_dynamodb_record(stream_arn=_STREAM, batch_size=100, starting_position="TRIM_HORIZON",
                       name="accrual")
def accrual_stream(event) -> dict:
    """Accrue each new transaction exactly once; report only failed records for retry."""
    return accrual.process_stream(r.to_dict() for r in event).response()
