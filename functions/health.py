"""``GET /health``: stage, versions and whether each table is reachable."""

from __future__ import annotations

from chalice import Blueprint

from paver.health import health_report

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> dict:
    return health_report()
