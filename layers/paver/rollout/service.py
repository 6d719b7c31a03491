"""Issue, render, store and track aggregated codes; fan a campaign out through SQS.

Every write can be retried: images are written under deterministic keys (a retry overwrites the
same bytes) and the Codes row is created with ``attribute_not_exists``, so re-running a rollout
issues nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from paver.aws import client, queue_url
from paver.batch import sqs_batch
from paver.config import Settings, settings
from paver.emv import MerchantAccount, build_aggregated_code
from paver.errors import Conflict, InvalidInput, NotFound, Unavailable
from paver.rollout.status import STATUSES, IllegalTransition, check_transition
from paver.storage.models import Campaign, Code, Merchant, Partner, Selection
from paver.storage.registry import condition_failed

log = logging.getLogger(__name__)

#: The platform's own payment system id in every aggregated code (sub-ID 00 of its template).
FORMATS: tuple[str, ...] = ("png", "svg")
MESSAGE_MERCHANTS = 25  # merchants per SQS message: one worker call renders this many codes


class QueueUnavailable(Unavailable):
    """The rollout queue refused messages (503: retry the whole rollout)."""


class RolloutError(InvalidInput):
    """A request the rollout cannot honour (400); the message names the field."""


class NothingSelected(Conflict):
    """The campaign has no selected partners yet (409: run the selection first)."""


class NotSelected(RolloutError):
    """A rollout message names a partner the campaign's selection did not select."""


#: Errors a retry cannot fix: the message goes straight to the dead-letter queue with them.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (RolloutError, NothingSelected, NotFound)


def code_id_for(merchant_id: str) -> str:
    """One aggregated code per merchant: its id follows from the merchant's."""
    return f"code-{merchant_id}"


def scan_ref_for(payload: str) -> str:
    """The scan reference of an aggregated code: what the platform receives when a wallet pays
    through it.

    A wallet that scans the code sends the payload it read to the platform's gateway, which
    forwards this digest with the payment; the same payload always gives the same reference,
    and a payload altered by one character gives another.
    """
    return "scan-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def image_key(partner_id: str, merchant_id: str, fmt: str) -> str:
    return f"codes/{partner_id}/{merchant_id}.{fmt}"


def _now() -> datetime:
    return datetime.now(UTC)


def _ascii(text: str, limit: int) -> str:
    clean = "".join(ch for ch in text if 32 <= ord(ch) < 127).strip()
    return (clean or "MERCHANT")[:limit]


def payload_for(merchant: Merchant, partner: Partner, campaign_id: str) -> str:
    """The aggregated code of ``merchant``: platform template + partner template in one payload."""
    name_zh, city_zh = merchant.name_zh, merchant.city_zh
    return build_aggregated_code(
        platform=MerchantAccount(guid=settings().platform_guid, merchant_id=merchant.merchant_id),
        partner=MerchantAccount(guid=partner.guid,
                                merchant_id=merchant.partner_merchant_id or merchant.merchant_id),
        merchant_name=_ascii(merchant.name, 25),
        merchant_city=_ascii(merchant.city, 15),
        mcc=merchant.mcc,
        store_label=merchant.merchant_id[:25],
        campaign_ref=campaign_id[:25],
        name_zh=name_zh[:25] if name_zh else None,
        city_zh=city_zh[:15] if city_zh else None,
    )


def allowed_skins(partner: Partner) -> list[str]:
    """The skins a merchant of ``partner`` may choose from, default first.

    The partner's default (``Partner.default_skin``) first, then the catalogue's skins for
    the partner's kind and region, then the partner's own certified skins (``Partner.skins``,
    written only by certification: a pending or refused skin is never offered).
    """
    from paver.skins import skins_for_partner

    choice = skins_for_partner(partner.kind, partner.region, partner_id=partner.partner_id)
    first = [partner.default_skin] if partner.default_skin else []
    return list(dict.fromkeys([*first, *choice.names, *(partner.skins or [])]))


def default_skin(partner: Partner) -> str:
    return partner.default_skin or allowed_skins(partner)[0]


def _render_and_store(payload: str, skin: str, partner_id: str, merchant_id: str,
                      cfg: Settings) -> list[str]:
    """Render every format (each verified by a real decoder) and upload; return the keys."""
    from paver.render import render_code
    from paver.skins import load_skins

    s3 = client("s3", cfg)
    keys = []
    drawn: Any = skin
    if skin not in load_skins():  # a partner's own skin: rendered only once certified
        from paver.partner_skins import certified_skin

        try:
            drawn = certified_skin(partner_id, skin)
        except NotFound as exc:
            raise RolloutError(f"skin: {exc}") from exc
    for fmt in FORMATS:
        rendered = render_code(payload, drawn, fmt=fmt)
        key = image_key(partner_id, merchant_id, fmt)
        s3.put_object(Bucket=cfg.bucket_name("artifacts"), Key=key, Body=rendered.data,
                      ContentType=rendered.content_type,
                      Metadata={"skin": skin, "verified": "zxing-cpp"})
        keys.append(key)
    return keys


@dataclass
class IssueResult:
    """What one worker call did, merchant by merchant."""

    issued: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def issue_codes(campaign_id: str, partner_id: str, merchant_ids: Sequence[str],
                cfg: Settings | None = None) -> IssueResult:
    """Issue (render, store, record) the codes of some merchants of one partner.

    A merchant whose code exists is left alone; a merchant of another partner is refused.
    """
    cfg = cfg or settings()
    try:
        partner = Partner.get(partner_id)
    except DoesNotExist as exc:
        raise NotFound(f"partner {partner_id!r} not found") from exc
    result = IssueResult()
    existing = {c.code_id for c in Code.batch_get([code_id_for(m) for m in merchant_ids])}
    todo = [m for m in merchant_ids if code_id_for(m) not in existing]
    result.already.extend(m for m in merchant_ids if code_id_for(m) in existing)
    merchants = {m.merchant_id: m for m in Merchant.batch_get(todo)} if todo else {}
    for mid in todo:
        merchant = merchants.get(mid)
        if merchant is None or merchant.partner_id != partner_id:
            result.failed[mid] = "merchant not found for this partner"
            continue
        skin = merchant.skin or default_skin(partner)
        try:
            payload = payload_for(merchant, partner, campaign_id)
            keys = _render_and_store(payload, skin, partner_id, mid, cfg)
        except ValueError as exc:  # invalid registration data or a code that did not scan back
            result.failed[mid] = str(exc)
            continue
        now = _now()
        code = Code(code_id=code_id_for(mid), campaign_id=campaign_id, merchant_id=mid,
                    partner_id=partner_id, payload=payload, skin=skin, status="issued",
                    image_keys=keys, issued_at=now, updated_at=now,
                    history=[{"status": "issued", "at": now.isoformat()}])
        try:
            code.save(condition=Code.code_id.does_not_exist())
            result.issued.append(mid)
        except PutError as exc:
            if condition_failed(exc):
                result.already.append(mid)  # a concurrent or retried worker got there first
            else:
                raise
    return result


def selected_partners(campaign_id: str) -> list[str]:
    return [s.partner_id for s in Selection.query(campaign_id) if s.selected]


def get_campaign(campaign_id: str) -> Campaign:
    """The campaign, or :class:`NotFound` naming it."""
    try:
        return Campaign.get(campaign_id)
    except DoesNotExist as exc:
        raise NotFound(f"campaign {campaign_id!r} not found") from exc


def start_rollout(campaign_id: str, cfg: Settings | None = None,
                  per_message: int = MESSAGE_MERCHANTS) -> dict[str, int]:
    """Queue the merchants of the campaign's selected partners in batches (SQS fan-out)."""
    cfg = cfg or settings()
    get_campaign(campaign_id)
    partners = selected_partners(campaign_id)
    if not partners:
        raise NothingSelected("campaign has no selected partners: run the selection first")
    sqs = client("sqs", cfg)
    url = queue_url("rollout", cfg)
    bodies: list[str] = []
    merchants = 0
    for pid in partners:
        ids = [m.merchant_id for m in Merchant.by_partner.query(pid, attributes_to_get=[
            "merchant_id"])]
        merchants += len(ids)
        for i in range(0, len(ids), per_message):
            bodies.append(json.dumps({"campaign_id": campaign_id, "partner_id": pid,
                                      "merchant_ids": ids[i:i + per_message]}))
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i:i + 10])]
        resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if resp.get("Failed"):
            raise QueueUnavailable(f"queue refused {len(resp['Failed'])} messages; nothing is "
                                   "lost: re-run the rollout (it issues nothing twice)")
    return {"partners": len(partners), "merchants": merchants, "messages": len(bodies)}


def parse_message(body: str) -> tuple[str, str, list[str]]:
    """Validate one rollout message; raise :class:`RolloutError` naming the bad field."""
    try:
        msg = json.loads(body)
    except ValueError as exc:
        raise RolloutError(f"body: not JSON ({exc})") from exc
    if not isinstance(msg, dict):
        raise RolloutError("body: must be an object")
    for key in ("campaign_id", "partner_id"):
        if not isinstance(msg.get(key), str) or not msg[key]:
            raise RolloutError(f"{key}: required string")
    ids = msg.get("merchant_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(x, str) and x for x in ids):
        raise RolloutError("merchant_ids: required non-empty list of strings")
    return msg["campaign_id"], msg["partner_id"], ids


def check_selected(campaign_id: str, partner_id: str) -> None:
    """The campaign exists and its selection selected the partner (else a permanent error)."""
    get_campaign(campaign_id)
    try:
        selected = Selection.get(campaign_id, partner_id).selected
    except DoesNotExist:
        selected = False
    if not selected:
        raise NotSelected(f"partner_id: {partner_id!r} was not selected for campaign "
                          f"{campaign_id!r}")


def dead_letter(body: str, reason: str, msg_id: str, cfg: Settings | None = None) -> None:
    """Put a message on the rollout dead-letter queue now, with why (an attribute).

    The body stays a rollout message, so redriving it after the cause is fixed re-issues it.
    """
    cfg = cfg or settings()
    client("sqs", cfg).send_message(
        QueueUrl=queue_url("rollout-dlq", cfg), MessageBody=body or "(empty)",
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
            "source_message_id": {"DataType": "String", "StringValue": msg_id or "unknown"},
        })


def process_records(records: Iterable[dict[str, Any]],
                    cfg: Settings | None = None) -> dict[str, list[dict[str, str]]]:
    """SQS batch handler logic: each record issues its merchants.

    - A message that can never succeed (malformed, unknown campaign or partner, partner not
      selected) goes straight to the dead-letter queue with the reason, and is not retried.
    - Merchants that cannot get a code (not the partner's, invalid registration data) go to
      the dead-letter queue as a message of their own; the others are issued.
    - Anything else (throttling, a dependency down) is reported in ``batchItemFailures``, so
      only that message returns to the queue (and after ``maxReceiveCount`` to the DLQ).
    """
    def issue(rec: Mapping[str, Any]) -> None:
        msg_id, body = rec.get("messageId", ""), rec.get("body", "")
        campaign_id, partner_id, ids = parse_message(body)
        check_selected(campaign_id, partner_id)
        res = issue_codes(campaign_id, partner_id, ids, cfg)
        if res.failed:
            reasons = "; ".join(f"{m}: {r}" for m, r in sorted(res.failed.items()))
            log.error("rollout: %d merchants of message %s cannot get a code, sent to the "
                      "dead-letter queue: %s", len(res.failed), msg_id, reasons[:300])
            dead_letter(json.dumps({"campaign_id": campaign_id, "partner_id": partner_id,
                                    "merchant_ids": sorted(res.failed)}),
                        reasons, msg_id, cfg)

    def to_dead_letter(rec: Mapping[str, Any], exc: Exception) -> None:
        dead_letter(rec.get("body", ""), str(exc), rec.get("messageId", ""), cfg)

    return sqs_batch(records, issue, what="rollout", permanent=PERMANENT_ERRORS,
                     on_permanent=to_dead_letter)


def campaign_progress(campaign_id: str) -> dict[str, Any]:
    """Counts of the campaign's codes per status (:class:`NotFound` for an unknown one)."""
    get_campaign(campaign_id)
    counts = Counter(c.status for c in Code.by_campaign.query(campaign_id,
                                                               attributes_to_get=["status"]))
    return {"campaign_id": campaign_id, "total": sum(counts.values()),
            "by_status": {s: counts.get(s, 0) for s in STATUSES}}


def get_code(code_id: str) -> Code:
    try:
        return Code.get(code_id)
    except DoesNotExist as exc:
        raise NotFound(f"code {code_id!r} not found") from exc


def code_view(code: Code) -> dict[str, Any]:
    return {
        "code_id": code.code_id, "campaign_id": code.campaign_id,
        "merchant_id": code.merchant_id, "partner_id": code.partner_id,
        "payload": code.payload, "scan_ref": scan_ref_for(code.payload), "skin": code.skin,
        "status": code.status,
        "images": code.image_keys or [], "history": code.history or [],
        "issued_at": code.issued_at.isoformat() if code.issued_at else None,
    }


def code_image(code: Code, fmt: str, cfg: Settings | None = None) -> tuple[bytes, str]:
    if fmt not in FORMATS:
        raise RolloutError(f"format: one of {', '.join(FORMATS)}")
    cfg = cfg or settings()
    s3 = client("s3", cfg)
    try:
        obj = s3.get_object(Bucket=cfg.bucket_name("artifacts"),
                            Key=image_key(code.partner_id, code.merchant_id, fmt))
    except s3.exceptions.NoSuchKey as exc:  # issued but never rendered (or deleted)
        raise NotFound(f"code {code.code_id!r}: no {fmt} image stored yet") from exc
    return obj["Body"].read(), obj.get("ContentType", "application/octet-stream")


def set_status(code_id: str, target: str, evidence: dict[str, Any] | None = None) -> Code:
    """Move a code to its next status; the condition makes concurrent moves safe.

    Asking again for the status the code already has answers the code unchanged (a retried
    request must not fail). ``evidence`` (e.g. the store photo of a binding) is kept with the
    status change in the code's history.
    """
    code = get_code(code_id)
    if code.status == target:
        return code
    check_transition(code.status, target)
    now = _now()
    entry: dict[str, Any] = {"status": target, "at": now.isoformat()}
    if evidence:
        entry["evidence"] = evidence
    try:
        code.update(
            actions=[Code.status.set(target), Code.updated_at.set(now),
                     Code.history.set([*(code.history or []), entry])],
            condition=Code.status == code.status,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise IllegalTransition(
                "status: changed concurrently; read the code and retry") from exc
        raise
    return code


def activate(code_id: str, evidence: dict[str, Any]) -> Code:
    """Move a code step by step to ``active`` (issued → shipped → installed → active).

    A binding photo that shows the code at the shop proves it was delivered and installed, so
    each missing step is recorded with that evidence. Safe to repeat (an active code is left
    as it is) and to race: a step taken concurrently is read back and the walk goes on.
    """
    code = get_code(code_id)
    for _ in range(2 * len(STATUSES)):
        if code.status == STATUSES[-1]:
            return code
        target = STATUSES[STATUSES.index(code.status) + 1]
        try:
            code = set_status(code_id, target, evidence)
        except IllegalTransition:
            code = get_code(code_id)  # someone else moved it: continue from where it is
    return code


def active_since(code: Code) -> datetime | None:
    """When the code became ``active`` (from its history), or None while it is not active."""
    if code.status != STATUSES[-1]:
        return None
    for entry in reversed(code.history or []):
        if entry.get("status") == STATUSES[-1]:
            return datetime.fromisoformat(entry["at"])
    return code.updated_at


def reskin(merchant_id: str, skin: str, cfg: Settings | None = None) -> Code:
    """Re-render a merchant's code with a skin from its partner's set."""
    cfg = cfg or settings()
    try:
        merchant = Merchant.get(merchant_id)
        partner = Partner.get(merchant.partner_id)
    except DoesNotExist as exc:
        raise NotFound(f"merchant {merchant_id!r} not found") from exc
    allowed = allowed_skins(partner)
    if skin not in allowed:
        raise RolloutError(f"skin: {skin!r} is not among the partner's skins: "
                           f"{', '.join(allowed)}")
    code = get_code(code_id_for(merchant_id))
    keys = _render_and_store(code.payload, skin, partner.partner_id, merchant_id, cfg)
    now = _now()
    code.update(actions=[Code.skin.set(skin), Code.image_keys.set(keys),
                         Code.updated_at.set(now)])
    merchant.update(actions=[Merchant.skin.set(skin), Merchant.updated_at.set(now)])
    return code
