"""Static pages: the operations console (``/console/``) and the merchant page (``/m/``).

The assets ship inside the ``paver`` package (``paver/assets/web``), so the packaged Lambda
serves them too; a deployment may also put them in S3 behind CloudFront (``infra/web.py``).
Public routes: the pages hold no data, every API call they make carries the bearer token.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from paver.config import settings
from paver.errors import NotFound
from paver.web import CONTENT_TYPES, read_asset

bp = Blueprint(__name__)


def _csp() -> str:
    # The merchant page uploads store photos straight to S3 (presigned POST).
    s3 = settings().endpoint_url or "https://*.amazonaws.com"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: blob: {s3}; "
            f"connect-src 'self' {s3}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'; object-src 'none'")


def _asset(app: str, name: str) -> Response:
    found = read_asset(app, name)
    if found is None:
        raise NotFound(f"asset: no {name!r}")
    data, suffix = found
    return Response(body=data.decode("utf-8"), status_code=200, headers={
        "Content-Type": CONTENT_TYPES[suffix], "Cache-Control": "no-cache",
        "Content-Security-Policy": _csp(), "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


def _index(app: str) -> Response:
    # Relative asset URLs need the trailing slash: /console → /console/ (the raw path keeps
    # API Gateway's stage prefix, so the redirect works behind it too).
    raw = str((bp.current_request.context or {}).get("path") or "")
    if raw and not raw.endswith("/"):
        return Response(body="", status_code=301, headers={"Location": raw + "/"})
    return _asset(app, "index.html")


@bp.route("/console", methods=["GET"])
def console_index() -> Response:
    return _index("console")


@bp.route("/console/{asset}", methods=["GET"])
def console_asset(asset: str) -> Response:
    return _asset("console", asset)


@bp.route("/m", methods=["GET"])
def merchant_index() -> Response:
    return _index("m")


@bp.route("/m/{asset}", methods=["GET"])
def merchant_asset(asset: str) -> Response:
    return _asset("m", asset)
