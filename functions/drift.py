"""Model drift (operators only).

- ``GET /drift?from=&to=``: the population stability index of every trust scorer's inputs and
  score (training partners against the partners as scored now) and of the risk knowledge
  base's match degrees and relation features (its training population against the decisions
  of ``from``…``to``, ISO-8601, default the last 7 days) → ``{"trust", "risk", "threshold",
  "drifted", "level", "window"}`` (:mod:`paver.drift_report`). Each call also sends each
  model's worst PSI to CloudWatch (an Embedded Metric Format line; the template's alarm).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint, Response

from functions._auth import require_operator
from functions._http import json_response
from paver.lazy import lazy_module

if TYPE_CHECKING:
    from paver import drift_report
    from paver.risk import alerts
else:  # at its first call: every route shares one cold start (paver.lazy)
    alerts = lazy_module("paver.risk.alerts")
    drift_report = lazy_module("paver.drift_report")

bp = Blueprint(__name__)


@bp.route("/drift", methods=["GET"])
def get_drift() -> Response:
    """Both models' drift, per feature, with the worst and whether it passed the threshold."""
    require_operator()
    params = bp.current_request.query_params or {}
    # from after to is an empty window (no risk data), as in the other windowed reports
    return json_response(drift_report.drift_report(
        alerts.parse_time(params.get("from"), "from"), alerts.parse_time(params.get("to"), "to")))
