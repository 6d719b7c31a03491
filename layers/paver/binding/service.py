"""The binding flow: presigned photo upload → checks → rules → bind, upgrade, benefit; audit.

Every attempt is stored under its own id (``attribute_not_exists``): none overwrites another.
Binding itself is one DynamoDB transaction: the credential claim (unique per USCC), the
merchant's bound flag and level (conditional on not being bound yet) and the attempt row.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from paver.accrual.milestones import grant_once
from paver.aws import client
from paver.binding.policy import load_policy
from paver.config import Settings
from paver.emv import decode
from paver.kyb.exif import NoPositionError, read_gps
from paver.kyb.geo import distance_to_registered
from paver.kyb.photo import PhotoError, decode_qr_payloads, open_photo
from paver.kyb.uscc import normalize_uscc, validate_uscc
from paver.rollout.service import PLATFORM_GUID, code_id_for
from paver.storage.models import BindingAttempt, Code, IdempotencyRecord, Merchant
from paver.storage.registry import bind, connection

log = logging.getLogger(__name__)

#: Content types a store photo may be uploaded as, and the key suffix used for each.
UPLOAD_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
                "image/heic": "heic", "image/heif": "heif"}
MAX_PHOTO_BYTES = 15 * 1024 * 1024
UPLOAD_EXPIRES_S = 600
_KEY_RE = re.compile(r"^photos/(?P<merchant>[A-Za-z0-9_.:-]{1,128})/(?P<attempt>[a-f0-9]{32})"
                     r"\.(?P<ext>jpg|png|webp|heic|heif)$")


class UnknownMerchant(LookupError):
    pass


class BindingInputError(ValueError):
    """Bad upload request or object key; the message names the field."""


def _merchant(merchant_id: str) -> Merchant:
    try:
        return Merchant.get(merchant_id, consistent_read=True)
    except DoesNotExist as exc:
        raise UnknownMerchant(f"merchant {merchant_id!r} not found") from exc


def request_upload(merchant_id: str, content_type: str, size: int,
                   cfg: Settings | None = None) -> dict[str, Any]:
    """A presigned S3 POST for one store photo, limited in type and size."""
    cfg = bind(cfg)
    if content_type not in UPLOAD_TYPES:
        raise BindingInputError(f"content_type: one of {', '.join(UPLOAD_TYPES)}")
    if not 0 < size <= MAX_PHOTO_BYTES:
        raise BindingInputError(f"size: between 1 and {MAX_PHOTO_BYTES} bytes")
    _merchant(merchant_id)
    attempt_id = uuid.uuid4().hex
    key = f"photos/{merchant_id}/{attempt_id}.{UPLOAD_TYPES[content_type]}"
    post = client("s3", cfg).generate_presigned_post(
        Bucket=cfg.bucket_name("photos"), Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, size]],
        ExpiresIn=UPLOAD_EXPIRES_S,
    )
    return {"attempt_id": attempt_id, "key": key, "url": post["url"], "fields": post["fields"],
            "expires_in": UPLOAD_EXPIRES_S, "max_bytes": size}


def parse_photo_key(key: str) -> tuple[str, str]:
    m = _KEY_RE.match(key)
    if not m:
        raise BindingInputError(f"key: {key!r} is not photos/<merchant>/<attempt>.<ext>")
    return m["merchant"], m["attempt"]


@dataclass
class Evidence:
    """What the checks found (stored with the attempt; no raw personal data)."""

    photo_ok: bool = False
    photo_error: str | None = None
    position_found: bool = False
    position_reason: str | None = None
    lat: float | None = None
    lon: float | None = None
    distance_m: float | None = None
    within_radius: bool = False
    qr_found: bool = False
    qr_matches: bool = False
    qr_merchants: list[str] = field(default_factory=list)
    uscc_valid: bool = False
    uscc_reason: str | None = None
    name_ok: bool = False
    credential_taken: bool = False
    level: int = 0

    def facts(self) -> dict[str, Any]:
        keys = ("photo_ok", "position_found", "within_radius", "qr_found", "qr_matches",
                "uscc_valid", "name_ok", "credential_taken", "level")
        facts = {k: getattr(self, k) for k in keys}
        facts["distance_m"] = -1.0 if self.distance_m is None else self.distance_m
        return facts


def _credential_key(uscc: str) -> str:
    # one credential, one key, however it was written (hyphens, spaces, case)
    return f"uscc#{normalize_uscc(uscc)}"


def _credential_holder(uscc: str | None) -> str | None:
    if not uscc:
        return None
    try:
        rec = IdempotencyRecord.get(_credential_key(uscc))
    except DoesNotExist:
        return None
    return (rec.result or {}).get("merchant_id")


def check_photo(merchant: Merchant, photo: bytes, radius_m: float) -> Evidence:
    """Run every check on a photo and the merchant's registration (never raises on bad input)."""
    ev = Evidence(level=int(merchant.level or 0))
    try:
        image = open_photo(photo, max_bytes=MAX_PHOTO_BYTES)
        ev.photo_ok = True
    except PhotoError as exc:
        ev.photo_error = exc.code
        image = None
    if image is not None:
        try:
            point = read_gps(image)
            ev.position_found, ev.lat, ev.lon = True, round(point.lat, 6), round(point.lon, 6)
            if merchant.lat is not None and merchant.lon is not None:
                ev.distance_m = round(distance_to_registered(
                    point, float(merchant.lat), float(merchant.lon), merchant.datum or "WGS-84"),
                    1)
                ev.within_radius = ev.distance_m <= radius_m
        except NoPositionError as exc:
            ev.position_reason = exc.reason
        payloads = decode_qr_payloads(image)
        ours = _our_payload(merchant.merchant_id)
        for p in payloads:
            parsed = decode(p)
            if not parsed.valid:
                continue
            ev.qr_found = True
            ids = [a.merchant_id for a in parsed.merchant_accounts
                   if a.guid and a.guid.casefold() == PLATFORM_GUID.casefold() and a.merchant_id]
            ev.qr_merchants.extend(ids)
            # Only the exact payload issued to this merchant counts: anyone can build a valid
            # EMV payload that merely names the merchant.
            if ours is not None and p == ours:
                ev.qr_matches = True
    valid, reason = validate_uscc(merchant.uscc or "")
    ev.uscc_valid, ev.uscc_reason = valid, reason
    ev.name_ok = bool(merchant.name and 2 <= len(merchant.name.strip()) <= 100)
    holder = _credential_holder(merchant.uscc)
    ev.credential_taken = holder is not None and holder != merchant.merchant_id
    return ev


def _our_payload(merchant_id: str) -> str | None:
    try:
        return Code.get(code_id_for(merchant_id)).payload
    except DoesNotExist:
        return None


@dataclass
class BindingOutcome:
    merchant_id: str
    attempt_id: str
    outcome: str  # bound | refused | already_bound
    reasons: list[dict[str, Any]]
    level: int
    benefits: list[str]
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bind_from_photo(merchant_id: str, attempt_id: str, photo: bytes) -> BindingOutcome:
    """Decide one binding attempt and apply it; the attempt is always recorded."""
    bind()
    policy, rules = load_policy()
    merchant = _merchant(merchant_id)
    ev = check_photo(merchant, photo, policy.radius_m)
    fired = rules.evaluate([ev.facts()])[0]
    reasons = [{"code": r.name, "reason": r.reason, "retry": r.name in policy.retryable}
               for r in fired]
    now = datetime.now(UTC)
    attempt = BindingAttempt(merchant_id=merchant_id, attempt_id=attempt_id, created_at=now,
                             evidence=asdict(ev), outcome="refused",
                             reasons=[r["code"] for r in reasons])
    level, benefits, outcome = int(merchant.level or 0), [], "refused"
    if not reasons and merchant.bound:
        outcome = "already_bound"
        attempt.outcome = outcome
        _save_attempt(attempt)
        # A retried event whose first run bound but failed before granting: grant now (once).
        if grant_once(merchant_id, f"binding#L{level}", kind=policy.upgrade_benefit,
                      reason=f"bound and upgraded to L{level}", detail={"attempt_id": attempt_id}):
            benefits.append(f"binding#L{level}")
    elif not reasons:
        # Up one level, never above the policy's top, never down (onboarding may start high).
        level = max(level, min(level + 1, policy.max_level))
        attempt.outcome = "bound"
        try:
            _bind_transaction(merchant, level, attempt)
            outcome = "bound"
        except TransactWriteError as exc:
            codes = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r]
            if "ConditionalCheckFailed" not in codes:
                raise
            # Lost a race: credential claimed by another merchant, or this one bound meanwhile.
            attempt.outcome, outcome = "refused", "refused"
            reasons = [{"code": "credential_taken", "reason": "claimed concurrently",
                        "retry": False}]
            attempt.reasons = ["credential_taken"]
            _save_attempt(attempt)
        if outcome == "bound" and grant_once(
                merchant_id, f"binding#L{level}", kind=policy.upgrade_benefit,
                reason=f"bound and upgraded to L{level}", detail={"attempt_id": attempt_id}):
            benefits.append(f"binding#L{level}")
    else:
        _save_attempt(attempt)
    return BindingOutcome(merchant_id, attempt_id, outcome, reasons, level, benefits, asdict(ev))


def _save_attempt(attempt: BindingAttempt) -> None:
    try:
        attempt.save(condition=BindingAttempt.attempt_id.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        log.info("binding: attempt %s already recorded (redelivered event)", attempt.attempt_id)


def _bind_transaction(merchant: Merchant, level: int, attempt: BindingAttempt) -> None:
    bind()
    now = datetime.now(UTC)
    with TransactWrite(connection=connection()) as tw:
        if merchant.uscc:
            tw.save(IdempotencyRecord(key=_credential_key(merchant.uscc), created_at=now,
                                      result={"merchant_id": merchant.merchant_id}),
                    condition=IdempotencyRecord.key.does_not_exist())
        tw.update(Merchant(merchant.merchant_id), actions=[
            Merchant.bound.set(True), Merchant.level.set(level), Merchant.updated_at.set(now)],
            condition=(Merchant.bound == False))  # noqa: E712 - a DynamoDB condition, not a bool
        tw.save(attempt, condition=BindingAttempt.attempt_id.does_not_exist())


def handle_uploaded(bucket: str, key: str, cfg: Settings | None = None) -> BindingOutcome:
    """S3 notification logic: read the uploaded photo (bounded) and decide the attempt."""
    cfg = bind(cfg)
    merchant_id, attempt_id = parse_photo_key(key)
    s3 = client("s3", cfg)
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] > MAX_PHOTO_BYTES:
        data = b""  # refused as unreadable without downloading an oversized object
    else:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return bind_from_photo(merchant_id, attempt_id, data)


def attempts(merchant_id: str) -> list[dict[str, Any]]:
    bind()
    return [
        {"attempt_id": a.attempt_id, "outcome": a.outcome, "reasons": a.reasons or [],
         "created_at": a.created_at.isoformat() if a.created_at else None}
        for a in BindingAttempt.query(merchant_id)
    ]
