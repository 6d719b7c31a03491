"""Risk alerts: the stored screening decisions for analysts (operators only).

- ``GET /risk/alerts?status=&scene=&from=&to=&limit=&cursor=``: newest first; ``status`` is
  ``flagged`` (default), ``cleared``, ``all``, or a case status of the flagged ones (``open``,
  ``confirmed``, ``dismissed``, ``escalated``); ``from``/``to`` are ISO-8601 times.
- ``GET /risk/alerts/{event_id}``: one decision with its relation groups.
- ``POST /risk/alerts/{event_id}/decision`` ``{"decision": "confirm|dismiss|escalate",
  "scene": …, "note": …}``: the signed-in analyst decides the alert's case (audited; a retry
  changes nothing; 409 with the current case when another analyst decided first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint, Response
from pydantic import ConfigDict, Field

from functions._auth import require_operator
from functions._http import Body, json_response, parse_body, path_id
from paver.console.pages import parse_limit
from paver.errors import NotFound
from paver.lazy import lazy_module
from paver.risk.events import MAX_LABEL

if TYPE_CHECKING:
    from paver.risk import alerts, cases
else:  # at its first call: every route shares one cold start (paver.lazy)
    alerts = lazy_module("paver.risk.alerts")
    cases = lazy_module("paver.risk.cases")

bp = Blueprint(__name__)


@bp.route("/risk/alerts", methods=["GET"])
def list_alerts() -> Response:
    """Flagged (or all) screening decisions, newest first, filtered by scene and time."""
    require_operator()
    params = bp.current_request.query_params or {}
    return json_response(alerts.list_alerts(
        status=params.get("status", "flagged"), scene=alerts.parse_scene(params.get("scene")),
        since=alerts.parse_time(params.get("from"), "from"),
        until=alerts.parse_time(params.get("to"), "to"),
        limit=parse_limit(params.get("limit"), default=50), cursor=params.get("cursor")))


@bp.route("/risk/alerts/{event_id}", methods=["GET"])
def get_alert(event_id: str) -> Response:
    """One decision with its explanation and relation groups."""
    require_operator()
    out = alerts.get_alert(path_id(event_id, "event_id"))
    if out is None:
        raise NotFound(f"event_id: no decision for {event_id!r}")
    return json_response(out)


class CaseDecisionIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: str = Field(pattern=r"^(confirm|dismiss|escalate)$")
    # a label as written: some visible text, no control characters (spaces around are trimmed)
    scene: str | None = Field(default=None, min_length=1, max_length=MAX_LABEL,
                              pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$")
    note: str = Field(default="", max_length=1000)


@bp.route("/risk/alerts/{event_id}/decision", methods=["POST"])
def post_decision(event_id: str) -> Response:
    """The signed-in analyst confirms, dismisses or escalates the alert (audited, once)."""
    analyst = require_operator()
    body = parse_body(bp, CaseDecisionIn)
    case, changed = cases.decide(path_id(event_id, "event_id"), body.decision, body.scene,
                                 analyst.id, body.note)
    return json_response({**case, "changed": changed}, status=201 if changed else 200)
