"""Partner routes: merchant batches in, a partner's trust score out; scheduled rescoring.

An operator or the partner itself may call them (the auth middleware resolves the caller).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate, Response
from pydantic import ConfigDict, Field

from functions._auth import require_partner
from functions._http import Body, json_response, parse_body, path_id
from paver.errors import InvalidInput, NotFound
from paver.lazy import lazy_module
from paver.trust import MAX_BATCH_ROWS

if TYPE_CHECKING:
    from paver.trust import ingest, service
else:  # at its first call: every route shares one cold start (paver.lazy)
    ingest = lazy_module("paver.trust.ingest")
    service = lazy_module("paver.trust.service")

bp = Blueprint(__name__)


class MerchantBatch(Body):
    """Up to ``MAX_BATCH_ROWS`` merchant rows and metric rows (each validated row by row)."""

    # the handler refuses a batch without rows: say so in the published schema
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["merchants"], "properties": {"merchants": {"minItems": 1}}},
        {"required": ["metrics"], "properties": {"metrics": {"minItems": 1}}}]})

    merchants: list[Any] = Field(default_factory=list, max_length=MAX_BATCH_ROWS)
    metrics: list[Any] = Field(default_factory=list, max_length=MAX_BATCH_ROWS)


@bp.route("/partners/{partner_id}/merchants", methods=["POST"])
def post_merchants(partner_id: str) -> Response:
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    body = parse_body(bp, MerchantBatch)
    if not body.merchants and not body.metrics:
        raise InvalidInput("give 'merchants' and/or 'metrics' rows", field="body")
    if service.store.get_partner(pid) is None:
        raise NotFound(f"partner {pid!r} not found")
    source = f"api:/partners/{pid}/merchants"
    out: dict[str, Any] = {"partner_id": pid}
    if body.merchants:
        out["merchants"] = ingest.ingest_records(body.merchants, kind="merchants", source=source,
                                          partner_id=pid).to_dict()
    if body.metrics:
        out["metrics"] = ingest.ingest_records(body.metrics, kind="metrics", source=source,
                                        partner_id=pid).to_dict()
    return json_response(out)


@bp.route("/partners/{partner_id}/score", methods=["GET"])
def get_score(partner_id: str) -> dict:
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    return service.partner_score(pid)


@bp.schedule(Rate(1, unit=Rate.DAYS), name="rescore_partners")
def rescore(event: Any) -> dict:
    """Daily: rescore every partner with the active model (stored on the partner)."""
    return service.rescore_partners()
