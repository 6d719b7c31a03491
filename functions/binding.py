"""Store-photo upload (presigned) and the binding handler the photos bucket notifies."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from chalice import BadRequestError, Blueprint, NotFoundError
from pydantic import BaseModel, ConfigDict, Field

from functions._auth import require_merchant
from functions._http import json_response, parse_body, path_id
from paver.binding import service
from paver.fields import Int

bp = Blueprint(__name__)
log = logging.getLogger(__name__)


class PhotoUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content_type: str = Field(max_length=40)
    size: Int = Field(gt=0, le=service.MAX_PHOTO_BYTES)


@bp.route("/merchants/{merchant_id}/photos", methods=["POST"])
def request_photo_upload(merchant_id: str):
    body = parse_body(bp, PhotoUploadRequest)
    require_merchant(path_id(merchant_id, "merchant_id"))
    try:
        upload = service.request_upload(path_id(merchant_id, "merchant_id"), body.content_type,
                                        body.size)
    except service.UnknownMerchant as exc:
        raise NotFoundError(str(exc)) from exc
    except service.BindingInputError as exc:
        raise BadRequestError(str(exc)) from exc
    return json_response(upload, status=201)


@bp.route("/merchants/{merchant_id}/attempts", methods=["GET"])
def binding_attempts(merchant_id: str) -> dict:
    require_merchant(path_id(merchant_id, "merchant_id"))
    return {"merchant_id": merchant_id,
            "attempts": service.attempts(path_id(merchant_id, "merchant_id"))}


@bp.lambda_function(name="binding")
def on_photo_uploaded(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated on the photos bucket (wired in infra/): decide each attempt."""
    results = []
    for rec in event.get("Records", []):
        try:
            bucket = rec["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(rec["s3"]["object"]["key"])
        except (KeyError, TypeError):
            log.error("binding: malformed S3 record skipped")
            continue
        try:
            results.append(service.handle_uploaded(bucket, key).to_dict())
        except (service.BindingInputError, service.UnknownMerchant) as exc:
            log.error("binding: %s", exc)  # not retryable: the key or merchant is wrong
            results.append({"key": key, "outcome": "rejected", "error": str(exc)})
    return {"results": results}
