"""Risk alerts: the stored screening decisions for analysts (operators only).

- ``GET /risk/alerts?status=&scene=&from=&to=&limit=&cursor=``: newest first; ``status`` is
  ``flagged`` (default), ``cleared`` or ``all``; ``from``/``to`` are ISO-8601 times.
- ``GET /risk/alerts/{event_id}``: one decision with its relation groups.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from functions._auth import require_operator
from functions._http import json_response, path_id
from paver.console.pages import parse_limit
from paver.errors import NotFound
from paver.risk import alerts

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
