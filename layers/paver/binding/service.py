"""The binding flow: presigned photo upload → checks → rules → bind, upgrade, benefit; audit.

Every attempt is stored under its own id (``attribute_not_exists``): none overwrites another.
Binding itself is one DynamoDB transaction: the credential claim (unique per USCC), the
merchant's bound flag and level (conditional on not being bound yet) and the attempt row.

EXIF GPS is easy to strip or fake, so the checks add what a real acquirer looks at: the
position the phone reports when it asks for the upload (browser geolocation, kept with the
upload request) against EXIF and the registered address, capture time against upload time,
the same picture (perceptual hash) sent for another merchant, and EXIF written by an editor.
A bound merchant's code moves to ``active`` with the photo as evidence; the upgrade benefit is
granted only when the level really went up.
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
from paver.binding import MAX_PHOTO_BYTES
from paver.binding.policy import BindingPolicy, load_policy
from paver.config import Settings, settings
from paver.emv import decode
from paver.errors import InvalidInput, UnknownMerchant
from paver.kyb import provenance
from paver.kyb.exif import NoPositionError, read_gps
from paver.kyb.geo import GeoPoint, distance_to_registered, haversine_m
from paver.kyb.photo import PhotoError, decode_qr_payloads, open_photo
from paver.kyb.uscc import normalize_uscc, validate_uscc
from paver.rollout.service import activate, code_id_for
from paver.storage.models import BindingAttempt, Claim, Code, IdempotencyRecord, Merchant
from paver.storage.registry import condition_failed, connection

log = logging.getLogger(__name__)

#: Content types a store photo may be uploaded as, and the key suffix used for each.
UPLOAD_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
                "image/heic": "heic", "image/heif": "heif"}
UPLOAD_EXPIRES_S = 600
_KEY_RE = re.compile(r"^photos/(?P<merchant>[A-Za-z0-9_.:-]{1,128})/(?P<attempt>[a-f0-9]{32})"
                     r"\.(?P<ext>jpg|png|webp|heic|heif)$")


class BindingInputError(InvalidInput):
    """Bad upload request or object key; the message names the field."""


def _merchant(merchant_id: str) -> Merchant:
    try:
        return Merchant.get(merchant_id, consistent_read=True)
    except DoesNotExist as exc:
        raise UnknownMerchant(f"merchant {merchant_id!r} not found") from exc


@dataclass(frozen=True)
class DevicePosition:
    """Where the phone said it was when it asked to upload (browser geolocation, WGS-84)."""

    lat: float
    lon: float
    accuracy_m: float


def _upload_key(merchant_id: str, attempt_id: str) -> str:
    return f"upload#{merchant_id}#{attempt_id}"


def request_upload(merchant_id: str, content_type: str, size: int,
                   cfg: Settings | None = None,
                   device: DevicePosition | None = None) -> dict[str, Any]:
    """A presigned S3 POST for one store photo, limited in type and size.

    The request itself (its time and the phone's reported position) is kept for the binding
    check of the photo that arrives under the returned key.
    """
    cfg = cfg or settings()
    if content_type not in UPLOAD_TYPES:
        raise BindingInputError(f"content_type: one of {', '.join(UPLOAD_TYPES)}")
    if not 0 < size <= MAX_PHOTO_BYTES:
        raise BindingInputError(f"size: between 1 and {MAX_PHOTO_BYTES} bytes")
    _merchant(merchant_id)
    attempt_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    IdempotencyRecord.marker(_upload_key(merchant_id, attempt_id), now=now, result={
        "requested_at": now.isoformat(),
        "device": None if device is None else {
            "lat": round(device.lat, 6), "lon": round(device.lon, 6),
            "accuracy_m": round(device.accuracy_m, 1)}}).save()
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
    # the phone's position at upload (metres beyond its reported accuracy)
    device_position_given: bool = False
    device_accuracy_m: float | None = None
    device_exif_m: float | None = None
    device_address_m: float | None = None
    # capture time (EXIF) against upload time
    captured_at: str | None = None
    uploaded_at: str | None = None
    capture_age_h: float | None = None
    # the same photo sent for another merchant; EXIF written by editing software
    phash: str | None = None
    reuse_distance: int | None = None
    reused_by: list[str] = field(default_factory=list)
    software: str | None = None
    edited_by: str | None = None

    def facts(self) -> dict[str, Any]:
        keys = ("photo_ok", "position_found", "within_radius", "qr_found", "qr_matches",
                "uscc_valid", "name_ok", "credential_taken", "level", "device_position_given")
        facts = {k: getattr(self, k) for k in keys}
        facts["distance_m"] = -1.0 if self.distance_m is None else self.distance_m
        facts["device_exif_m"] = -1.0 if self.device_exif_m is None else self.device_exif_m
        facts["device_address_m"] = -1.0 if self.device_address_m is None else \
            self.device_address_m
        facts["capture_time_found"] = self.capture_age_h is not None
        facts["capture_age_h"] = 0.0 if self.capture_age_h is None else self.capture_age_h
        facts["reuse_distance"] = provenance.PHASH_BITS + 1 if self.reuse_distance is None \
            else self.reuse_distance
        facts["edited_by_software"] = self.edited_by is not None
        return facts


def _credential_key(uscc: str) -> str:
    # one credential, one key, however it was written (hyphens, spaces, case)
    return f"uscc#{normalize_uscc(uscc)}"


def _credential_holder(uscc: str | None) -> str | None:
    if not uscc:
        return None
    try:
        return Claim.get(_credential_key(uscc)).merchant_id
    except DoesNotExist:
        return None


def check_photo(merchant: Merchant, photo: bytes, policy: BindingPolicy,
                upload: dict[str, Any] | None = None,
                uploaded_at: datetime | None = None) -> Evidence:
    """Run every check on a photo and the merchant's registration (never raises on bad input).

    ``upload`` is the stored upload request (its ``device`` position), ``uploaded_at`` when the
    photo reached storage (default: now).
    """
    ev = Evidence(level=int(merchant.level or 0))
    uploaded_at = uploaded_at or datetime.now(UTC)
    ev.uploaded_at = uploaded_at.astimezone(UTC).isoformat(timespec="seconds")
    try:
        image = open_photo(photo, max_bytes=MAX_PHOTO_BYTES)
        ev.photo_ok = True
    except PhotoError as exc:
        ev.photo_error = exc.code
        image = None
    point: GeoPoint | None = None
    if image is not None:
        try:
            point = read_gps(image)
            ev.position_found, ev.lat, ev.lon = True, round(point.lat, 6), round(point.lon, 6)
            if merchant.lat is not None and merchant.lon is not None:
                ev.distance_m = round(distance_to_registered(
                    point, float(merchant.lat), float(merchant.lon), merchant.datum or "WGS-84"),
                    1)
                ev.within_radius = ev.distance_m <= policy.radius_m
        except NoPositionError as exc:
            ev.position_reason = exc.reason
        payloads = decode_qr_payloads(image)
        ours = _our_payload(merchant.merchant_id)
        for p in payloads:
            parsed = decode(p)
            if not parsed.valid:
                continue
            ev.qr_found = True
            platform = settings().platform_guid.casefold()
            ids = [a.merchant_id for a in parsed.merchant_accounts
                   if a.guid and a.guid.casefold() == platform and a.merchant_id]
            ev.qr_merchants.extend(ids)
            # Only the exact payload issued to this merchant counts: anyone can build a valid
            # EMV payload that merely names the merchant.
            if ours is not None and p == ours:
                ev.qr_matches = True
        _check_provenance(ev, image, merchant.merchant_id, policy, uploaded_at)
    _check_device(ev, merchant, point, (upload or {}).get("device"))
    valid, reason = validate_uscc(merchant.uscc or "")
    ev.uscc_valid, ev.uscc_reason = valid, reason
    ev.name_ok = bool(merchant.name and 2 <= len(merchant.name.strip()) <= 100)
    holder = _credential_holder(merchant.uscc)
    ev.credential_taken = holder is not None and holder != merchant.merchant_id
    return ev


def _check_device(ev: Evidence, merchant: Merchant, photo_point: GeoPoint | None,
                  device: dict[str, Any] | None) -> None:
    """Distances of the phone's reported position to the photo's and the registered one,
    less the accuracy the phone claimed (a coarse fix is not held against the merchant)."""
    if not device:
        return
    try:
        phone = GeoPoint(float(device["lat"]), float(device["lon"]))
        slack = max(0.0, float(device.get("accuracy_m") or 0.0))
    except (KeyError, TypeError, ValueError):
        return  # validated at the edge; an unreadable stored record counts as not given
    ev.device_position_given, ev.device_accuracy_m = True, slack
    if photo_point is not None:
        ev.device_exif_m = round(max(0.0, haversine_m(phone, photo_point) - slack), 1)
    if merchant.lat is not None and merchant.lon is not None:
        ev.device_address_m = round(max(0.0, distance_to_registered(
            phone, float(merchant.lat), float(merchant.lon), merchant.datum or "WGS-84")
            - slack), 1)


def _check_provenance(ev: Evidence, image: Any, merchant_id: str, policy: BindingPolicy,
                      uploaded_at: datetime) -> None:
    """Capture time, editing software and reuse of the same picture for another merchant."""
    taken = provenance.capture_time(image, policy.tz())
    if taken is not None:
        ev.captured_at = taken.isoformat()
        ev.capture_age_h = provenance.upload_age_hours(taken, uploaded_at)
    ev.software = provenance.software(image)
    ev.edited_by = provenance.edited_by(ev.software, policy.editing_software)
    ev.phash = provenance.perceptual_hash(image)
    seen = _photo_hashes_like(ev.phash)
    others = [(provenance.hamming(ev.phash, h), m) for m, h in seen if m != merchant_id]
    if others:
        ev.reuse_distance = min(d for d, _ in others)
        ev.reused_by = sorted({m for d, m in others if d == ev.reuse_distance})


def _photo_hashes_like(phash: str) -> set[tuple[str, str]]:
    """(merchant, hash) of earlier photos sharing at least one band with ``phash``: every
    photo within ``PHASH_BANDS - 1`` bits of it, and a few farther ones."""
    keys = [f"phash#{b}" for b in provenance.bands(phash)]
    found: set[tuple[str, str]] = set()
    for rec in Claim.batch_get(keys):
        for member in rec.members or ():
            merchant, _, other = member.rpartition("|")
            found.add((merchant, other))
    return found


def _remember_photo(merchant_id: str, phash: str) -> None:
    """Index a checked photo's hash by band (atomic set ADD: concurrent writers are safe)."""
    for band in provenance.bands(phash):
        Claim(key=f"phash#{band}").update(actions=[Claim.members.add({f"{merchant_id}|{phash}"})])


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
    previous_level: int = 0
    upgraded: bool = False  # the level went up (only then is the upgrade benefit granted)
    code_status: str | None = None  # the merchant's code after the attempt

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _upload_request(merchant_id: str, attempt_id: str) -> dict[str, Any]:
    try:
        return IdempotencyRecord.get(_upload_key(merchant_id, attempt_id)).result or {}
    except DoesNotExist:
        return {}


def bind_from_photo(merchant_id: str, attempt_id: str, photo: bytes,
                    uploaded_at: datetime | None = None,
                    photo_key: str | None = None) -> BindingOutcome:
    """Decide one binding attempt and apply it; the attempt is always recorded.

    A bound merchant's code is moved to ``active`` with the photo as evidence (also when a
    retried event finds the merchant bound already), and the upgrade benefit is granted only
    when the level went up.
    """
    policy, rules = load_policy()
    merchant = _merchant(merchant_id)
    ev = check_photo(merchant, photo, policy, _upload_request(merchant_id, attempt_id),
                     uploaded_at)
    fired = rules.evaluate([ev.facts()])[0]
    reasons = [{"code": r.name, "reason": r.reason, "retry": r.name in policy.retryable}
               for r in fired]
    if (ev.phash is not None and ev.qr_matches
            and "photo_reused" not in {r["code"] for r in reasons}):
        # The first merchant to send a picture of its own code owns it (a copy does not make it
        # the copier's, and sending another shop's photo first claims nothing); remembered
        # before deciding, so a crash cannot forget it.
        _remember_photo(merchant_id, ev.phash)
    now = datetime.now(UTC)
    before = int(merchant.level or 0)
    attempt = BindingAttempt(merchant_id=merchant_id, attempt_id=attempt_id, created_at=now,
                             evidence=asdict(ev), outcome="refused",
                             reasons=[r["code"] for r in reasons])
    level, benefits, outcome = before, [], "refused"
    evidence = {"attempt_id": attempt_id, "photo_key": photo_key, "by": "binding",
                "distance_m": ev.distance_m, "qr_matches": ev.qr_matches}
    code_status, previous = None, before
    if not reasons and merchant.bound:
        outcome = "already_bound"
        attempt.outcome = outcome
        _save_attempt(attempt)
        # A retried event whose first run bound but failed before the code or the grant.
        code_status = _activate_code(merchant_id, evidence)
        bound_from = _level_before_binding(merchant_id)
        previous = level if bound_from is None else bound_from
        benefits = _grant_upgrade(merchant_id, policy.upgrade_benefit, level, attempt_id,
                                  bound_from)
    elif not reasons:
        # Up one level, never above the policy's top, never down (onboarding may start high).
        level = max(level, min(level + 1, policy.max_level))
        attempt.outcome = "bound"
        attempt.evidence = {**attempt.evidence, "level_after": level}
        try:
            _bind_transaction(merchant, level, attempt)
            outcome = "bound"
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            # Lost a race: credential claimed by another merchant, or this one bound meanwhile.
            attempt.outcome, outcome = "refused", "refused"
            reasons = [{"code": "credential_taken", "reason": "claimed concurrently",
                        "retry": False}]
            attempt.reasons = ["credential_taken"]
            level = before
            _save_attempt(attempt)
        if outcome == "bound":
            code_status = _activate_code(merchant_id, evidence)
            benefits = _grant_upgrade(merchant_id, policy.upgrade_benefit, level, attempt_id,
                                      before)
    else:
        _save_attempt(attempt)
    return BindingOutcome(merchant_id, attempt_id, outcome, reasons, level, benefits, asdict(ev),
                          previous_level=previous, upgraded=level > previous,
                          code_status=code_status)


def _level_before_binding(merchant_id: str) -> int | None:
    """The level a bound merchant had before its binding (from the bound attempt)."""
    for a in BindingAttempt.query(merchant_id):
        if a.outcome == "bound":
            return int((a.evidence or {}).get("level", 0))
    return None


def _grant_upgrade(merchant_id: str, kind: str, level: int, attempt_id: str,
                   before: int | None) -> list[str]:
    """The upgrade benefit, once, and only for a real level change (``before`` → ``level``)."""
    if before is None or level <= before:
        return []
    benefit_id = f"binding#L{level}"
    granted = grant_once(merchant_id, benefit_id, kind=kind,
                         reason=f"bound and upgraded from L{before} to L{level}",
                         detail={"attempt_id": attempt_id, "from_level": before,
                                 "to_level": level})
    return [benefit_id] if granted else []


def _activate_code(merchant_id: str, evidence: dict[str, Any]) -> str | None:
    """Move the merchant's code to ``active`` (None when it has no code)."""
    from paver.rollout.service import NotFound

    try:
        return activate(code_id_for(merchant_id), evidence).status
    except NotFound:
        log.warning("binding: a bound merchant has no aggregated code to activate")
        return None


def _save_attempt(attempt: BindingAttempt) -> None:
    try:
        attempt.save(condition=BindingAttempt.attempt_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        log.info("binding: attempt %s already recorded (redelivered event)", attempt.attempt_id)


def _bind_transaction(merchant: Merchant, level: int, attempt: BindingAttempt) -> None:
    now = datetime.now(UTC)
    with TransactWrite(connection=connection()) as tw:
        if merchant.uscc:
            tw.save(Claim(key=_credential_key(merchant.uscc), created_at=now,
                          merchant_id=merchant.merchant_id),
                    condition=Claim.key.does_not_exist())
        tw.update(Merchant(merchant.merchant_id), actions=[
            Merchant.bound.set(True), Merchant.level.set(level), Merchant.updated_at.set(now)],
            condition=(Merchant.bound == False))  # noqa: E712 - a DynamoDB condition, not a bool
        tw.save(attempt, condition=BindingAttempt.attempt_id.does_not_exist())


def handle_uploaded(bucket: str, key: str, cfg: Settings | None = None) -> BindingOutcome:
    """S3 notification logic: read the uploaded photo (bounded) and decide the attempt."""
    cfg = cfg or settings()
    merchant_id, attempt_id = parse_photo_key(key)
    s3 = client("s3", cfg)
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] > MAX_PHOTO_BYTES:
        data = b""  # refused as unreadable without downloading an oversized object
    else:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return bind_from_photo(merchant_id, attempt_id, data, uploaded_at=head.get("LastModified"),
                           photo_key=key)


def attempts(merchant_id: str) -> list[dict[str, Any]]:
    return [
        {"attempt_id": a.attempt_id, "outcome": a.outcome, "reasons": a.reasons or [],
         "created_at": a.created_at.isoformat() if a.created_at else None}
        for a in BindingAttempt.query(merchant_id)
    ]
