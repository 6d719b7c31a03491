"""Risk alerts: the stored screening decisions for analysts (operators only).

- ``GET /risk/alerts?status=&scene=&from=&to=&limit=&cursor=``: newest first; ``status`` is
  ``flagged`` (default), ``cleared`` or ``all``; ``from``/``to`` are ISO-8601 times.
- ``GET /risk/alerts/{event_id}``: one decision with its relation groups.
"""

from __future__ import annotations

from chalice import BadRequestError, Blueprint, NotFoundError, Response

from functions._auth import require_operator
from functions._http import json_response, path_id
from paver.console.pages import PageInputError, parse_limit
from paver.risk import alerts
from paver.risk.events import check_label

bp = Blueprint(__name__)


@bp.route("/risk/alerts", methods=["GET"])
def list_alerts() -> Response:
    """Flagged (or all) screening decisions, newest first, filtered by scene and time."""
    require_operator()
    params = bp.current_request.query_params or {}
    scene = params.get("scene")
    try:
        if scene is not None:  # a scene label as users write it ("fan-out", "分散转入")
            try:
                scene = check_label(scene)
            except ValueError as exc:
                raise alerts.AlertInputError(f"scene: {exc}") from exc
        return json_response(alerts.list_alerts(
            status=params.get("status", "flagged"), scene=scene,
            since=alerts.parse_time(params.get("from"), "from"),
            until=alerts.parse_time(params.get("to"), "to"),
            limit=parse_limit(params.get("limit"), default=50), cursor=params.get("cursor")))
    except (alerts.AlertInputError, PageInputError) as exc:
        raise BadRequestError(str(exc)) from exc


@bp.route("/risk/alerts/{event_id}", methods=["GET"])
def get_alert(event_id: str) -> Response:
    """One decision with its explanation and relation groups."""
    require_operator()
    out = alerts.get_alert(path_id(event_id, "event_id"))
    if out is None:
        raise NotFoundError(f"event_id: no decision for {event_id!r}")
    return json_response(out)
