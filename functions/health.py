"""``GET /health``: liveness for anyone; stage, versions and tables for operators only."""

from __future__ import annotations

from chalice import Blueprint

from functions._auth import optional_principal
from paver.health import health_report, liveness

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> dict:
    # Versions and table names help an attacker more than a load balancer: detail needs an
    # operator token (a wrong token is 401 like on any route).
    p = optional_principal()
    return health_report() if p is not None and p.role == "operator" else liveness()
