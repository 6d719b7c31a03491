"""Recording a payment made through an aggregated code, idempotently."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pynamodb.exceptions import DoesNotExist, PutError

from paver.config import Settings, settings
from paver.errors import Conflict, InvalidInput, UnknownMerchant
from paver.fields import Money, digits
from paver.lazy import lazy_module
from paver.storage.models import Merchant, Transaction
from paver.storage.registry import condition_failed

# the rollout service and the EMV parser at the first transaction, not at import app
attribution = lazy_module("paver.accrual.attribution")

MAX_AMOUNT = Decimal("1000000")


class TransactionIn(BaseModel):
    """A payment as the API accepts it (the idempotency key is required)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    idempotency_key: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    merchant_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    amount: Money = Field(gt=0, le=MAX_AMOUNT, decimal_places=2)
    currency: str = Field(default="156", pattern=digits(3))  # ISO 4217 numeric
    timestamp: datetime | None = None
    code_id: str | None = Field(default=None, max_length=140, pattern=r"^[A-Za-z0-9_.:-]+$")
    scan_ref: str | None = Field(default=None, max_length=64, pattern=r"^scan-[0-9a-f]{24}$")
    from_account: str | None = Field(default=None, max_length=128,
                                     pattern=r"^[A-Za-z0-9_.:@-]+$")
    channel: str = Field(default="qr", pattern=r"^[a-z_]{1,20}$")
    # What the payer's wallet reports of the paying phone (claim 4 of the risk seed: devices
    # and their usage are associated data of the initiator); risk screening reads them.
    from_device: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    from_ip: IPv4Address | IPv6Address | None = None

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            raise ValueError("timestamp must carry a time zone (ISO-8601 with offset or Z)")
        try:
            v.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ValueError("timestamp is out of range in UTC") from None
        return v


class TransactionConflict(Conflict):
    """The idempotency key was used before with a different payment."""


class TransactionInputError(InvalidInput):
    """The payment names something that is not the merchant's (maps to 400)."""


def check_reporting_window(timestamp: datetime | None, cfg: Settings | None = None,
                           now: datetime | None = None) -> None:
    """Refuse a reported payment whose time lies outside the window around now.

    Accrual counts active days from the timestamp, so a partner free to backdate could meet
    the "active week" milestone at once. The window is ``Settings.txn_max_age_s`` back and
    ``Settings.txn_max_ahead_s`` ahead (clock skew). No timestamp means "now".
    """
    if timestamp is None:
        return
    cfg = cfg or settings()
    now = now or datetime.now(UTC)
    earliest = now - timedelta(seconds=cfg.txn_max_age_s)
    latest = now + timedelta(seconds=cfg.txn_max_ahead_s)
    if not earliest <= timestamp <= latest:
        raise TransactionInputError(
            f"timestamp: must lie between {earliest.isoformat(timespec='seconds')} and "
            f"{latest.isoformat(timespec='seconds')} (at most {cfg.txn_max_age_s} s before and "
            f"{cfg.txn_max_ahead_s} s after the server's clock)")


def txn_id_for(merchant_id: str, idempotency_key: str) -> str:
    return "txn-" + hashlib.sha256(f"{merchant_id}\x00{idempotency_key}".encode()).hexdigest()[:24]


def money(value: float | int | None) -> str:
    """An amount as the API shows it: a decimal string with two places."""
    return f"{Decimal(str(value or 0)):.2f}"


def _view(t: Transaction) -> dict[str, Any]:
    return {"txn_id": t.txn_id, "merchant_id": t.merchant_id, "amount": money(t.amount),
            "currency": t.currency, "timestamp": t.timestamp, "code_id": t.code_id,
            "scan_ref": t.scan_ref, "channel": t.channel, "accrues": bool(t.accrues),
            "accrual": {"code": t.accrual_code, "reason": t.accrual_reason}}


def record_transaction(body: TransactionIn) -> tuple[dict[str, Any], bool]:
    """Store the payment once; a replay with the same key returns the stored one.

    Returns
    -------
    (view, created)
        ``created`` is False for a replay of the same payment.
    """
    try:
        merchant = Merchant.get(body.merchant_id, attributes_to_get=["merchant_id"])
    except DoesNotExist as exc:
        raise UnknownMerchant(f"merchant_id: merchant {body.merchant_id!r} not found") from exc
    paid_at = (body.timestamp or datetime.now(UTC)).astimezone(UTC)
    device = {k: str(v) for k, v in (("from_device", body.from_device),
                                     ("from_ip", body.from_ip)) if v is not None}
    ts = paid_at.isoformat()
    try:
        # Decided once, when the payment is recorded: the stream's accrual follows the record.
        how = attribution.attribute(merchant.merchant_id, body.code_id, body.scan_ref, paid_at)
    except attribution.AttributionError as exc:
        raise TransactionInputError(str(exc)) from exc
    txn = Transaction(
        txn_id=txn_id_for(merchant.merchant_id, body.idempotency_key),
        merchant_id=merchant.merchant_id, code_id=how.code_id, scan_ref=body.scan_ref,
        accrues=how.accrues, accrual_code=how.code, accrual_reason=how.reason,
        # PynamoDB numbers serialise through JSON floats; 2-decimal amounts ≤ 1e6 stay exact.
        amount=float(body.amount),
        currency=body.currency, timestamp=ts, from_account=body.from_account,
        channel=body.channel, idempotency_key=body.idempotency_key, attributes=device or None,
    )
    try:
        txn.save(condition=Transaction.txn_id.does_not_exist())
        return _view(txn), True
    except PutError as exc:
        if not condition_failed(exc):
            raise
    stored = Transaction.get(txn.txn_id, consistent_read=True)
    same = (Decimal(str(stored.amount)) == body.amount and stored.currency == body.currency
            and (body.timestamp is None or stored.timestamp == ts)
            and stored.code_id in (body.code_id, how.code_id) and stored.scan_ref == body.scan_ref
            and stored.channel == body.channel
            and stored.from_account == body.from_account
            and (stored.attributes or {}) == device)
    if not same:
        raise TransactionConflict(
            "idempotency_key: already used for a different payment of this merchant")
    return _view(stored), False
