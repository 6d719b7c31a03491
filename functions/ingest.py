"""S3 ingest: a CSV/JSONL file dropped under ``ingest/`` → validated rows + a report beside it.

``handle_s3_event`` is a plain function (the S3 notification is wired in ``infra/``, since
Chalice's ``on_s3_event`` cannot be packaged to SAM); the Blueprint exposes it as the
``ingest`` Lambda function taking the raw S3 event.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from paver.lazy import lazy_module

ingest_core = lazy_module("paver.trust.ingest")  # row models, USCC check: at the first file

bp = Blueprint(__name__)


def handle_s3_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Ingest every object of the event under ``ingest/``; reports (``*.report.json``) and
    other keys are skipped, so the report written beside a file never triggers itself."""
    return ingest_core.handle_event(event)


@bp.lambda_function(name="ingest")
def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_s3_event(event, context)
