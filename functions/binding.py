"""Store-photo upload (presigned) and the binding handler the photos bucket notifies."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chalice import Blueprint
from pydantic import ConfigDict, Field, model_validator

from functions._auth import require_merchant
from functions._http import Body, json_response, parse_body, path_id
from paver.binding import MAX_PHOTO_BYTES
from paver.errors import InvalidInput, NotFound
from paver.fields import Int, Position
from paver.lazy import lazy_module
from paver.storage.s3_events import s3_records

if TYPE_CHECKING:
    from paver.binding import service
    from paver.console import attempts
else:  # at its first call: every route shares one cold start (paver.lazy)
    service = lazy_module("paver.binding.service")
    attempts = lazy_module("paver.console.attempts")

bp = Blueprint(__name__)
log = logging.getLogger(__name__)


_POSITION = ("device_lat", "device_lon", "device_accuracy_m")


class PhotoUploadRequest(Body):
    """A store-photo upload request; the merchant page adds the phone's position (browser
    geolocation, WGS-84) and its accuracy when the merchant allows it."""

    # published: the phone's position comes whole (all three numbers) or not at all
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"properties": {f: {"type": "null"} for f in _POSITION}},
        {"required": list(_POSITION),
         "properties": {f: {"type": "number"} for f in _POSITION}}]})
    content_type: str = Field(max_length=40)
    size: Int = Field(gt=0, le=MAX_PHOTO_BYTES)
    device_lat: Position | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    device_lon: Position | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    device_accuracy_m: Position | None = Field(default=None, ge=0, le=5000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _position_whole(self) -> PhotoUploadRequest:
        given = [f for f in _POSITION if getattr(self, f) is not None]
        if given and len(given) != 3:
            missing = sorted(set(_POSITION) - set(given))
            raise ValueError(f"{', '.join(missing)}: give the phone's position with "
                             "device_lat, device_lon and device_accuracy_m together")
        return self

    def device(self) -> service.DevicePosition | None:
        if self.device_lat is None or self.device_lon is None:
            return None
        return service.DevicePosition(self.device_lat, self.device_lon,
                                      self.device_accuracy_m or 0.0)


@bp.route("/merchants/{merchant_id}/photos", methods=["POST"])
def request_photo_upload(merchant_id: str):
    mid = path_id(merchant_id, "merchant_id")
    require_merchant(mid)
    body = parse_body(bp, PhotoUploadRequest)
    upload = service.request_upload(mid, body.content_type, body.size, device=body.device())
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
    for bucket, key in s3_records(event):
        try:
            results.append(service.handle_uploaded(bucket, key).to_dict())
        except (InvalidInput, NotFound) as exc:
            log.error("binding: %s", exc)  # not retryable: the key or merchant is wrong
            results.append({"key": key, "outcome": "rejected", "error": str(exc)})
    return {"results": results}


@bp.route("/merchants/{merchant_id}/binding", methods=["GET"])
def binding_view(merchant_id: str) -> dict:
    """Every binding attempt with its reasons in words, distance and store photo link."""
    mid = path_id(merchant_id, "merchant_id")
    require_merchant(mid)
    return {"merchant_id": mid, "attempts": attempts.attempts_view(mid)}
