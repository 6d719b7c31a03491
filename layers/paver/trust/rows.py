"""The rows a partner file or batch holds: one Pydantic model per kind (the edge of ingest).

:mod:`paver.trust.ingest` validates rows with these models and reports the bad ones;
:mod:`paver.trust.store` writes the good ones. Both import this module, neither the other's
internals, so the concept "a valid partner/merchant/metric row" has one owner.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from paver.fields import MAX_COUNT, Float, Int, PlainText, Position, digits
from paver.kyb.uscc import normalize_uscc

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# Partner ids carry no '-': a merchant id's partner is everything before its first '-'.
_PARTNER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:]{0,63}$"


class Row(BaseModel):
    """Base of the row models: unknown columns ignored, text stripped."""

    # built at the first row read, not at import app (three wide models: ~10 ms of a cold start)
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, defer_build=True)


class PartnerRow(Row):
    partner_id: str = Field(pattern=_PARTNER_ID)
    name: PlainText = Field(min_length=1, max_length=200)
    name_zh: PlainText | None = Field(default=None, max_length=200)
    kind: Literal["rural_bank", "city_bank", "service_provider"]
    region: PlainText = Field(min_length=1, max_length=40)
    city: PlainText | None = Field(default=None, max_length=60)
    guid: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    onboarded: date | None = None


class MerchantRow(Row):
    merchant_id: str = Field(pattern=_ID)
    partner_id: str = Field(pattern=_ID)
    partner_merchant_id: str | None = Field(default=None, max_length=32,
                                            pattern=r"^[A-Za-z0-9_-]+$")
    partner_guid: str | None = Field(default=None, max_length=32)
    name: PlainText = Field(min_length=1, max_length=100)
    name_zh: PlainText | None = Field(default=None, max_length=100)
    mcc: str = Field(pattern=digits(4))
    city: PlainText = Field(min_length=1, max_length=60)
    city_zh: PlainText | None = Field(default=None, max_length=60)
    region: PlainText | None = Field(default=None, max_length=40)
    lat: Position | None = Field(default=None, ge=-90, le=90)
    lon: Position | None = Field(default=None, ge=-180, le=180)
    # An invalid credential is data (a trust feature), not a bad row: only its shape is bounded.
    # Stored in the KYB module's one normal form, so every reader compares like with like.
    uscc: PlainText | None = Field(default=None, max_length=32)
    legal_rep: PlainText | None = Field(default=None, max_length=100)
    contact_phone: PlainText | None = Field(default=None, max_length=32)
    address: PlainText | None = Field(default=None, max_length=300)
    location_verified: bool = False
    # Onboarding level at registration (0-3, binding's top level); later only binding raises it.
    level: Int = Field(default=1, ge=0, le=3)
    registered_at: date | None = None

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, v: str | None) -> str | None:
        return None if v is None else (normalize_uscc(v) or None)

    @field_validator("lat", "lon")
    @classmethod
    def _round(cls, v: float | None) -> float | None:
        return None if v is None else round(v, 7)  # 7 decimals is ~1 cm


class MetricRow(Row):
    merchant_id: str = Field(pattern=_ID)
    partner_id: str | None = Field(default=None, pattern=_ID)
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    txn_count: Int = Field(ge=0, le=MAX_COUNT)
    amount: Float = Field(ge=0, le=1e13)
    active_days: Int = Field(default=0, ge=0, le=31)
    refunds: Int = Field(default=0, ge=0, le=MAX_COUNT)
    complaints: Int = Field(default=0, ge=0, le=MAX_COUNT)
    chargebacks: Int = Field(default=0, ge=0, le=MAX_COUNT)
    fraud_reports: Int = Field(default=0, ge=0, le=MAX_COUNT)
    risk_hits: Int = Field(default=0, ge=0, le=MAX_COUNT)

    @field_validator("amount")
    @classmethod
    def _cents(cls, v: float) -> float:
        return round(v, 2)


ROW_MODELS: dict[str, type[Row]] = {
    "partners": PartnerRow, "merchants": MerchantRow, "metrics": MetricRow,
}
KEYS: dict[str, tuple[str, ...]] = {
    "partners": ("partner_id",), "merchants": ("merchant_id",),
    "metrics": ("merchant_id", "month"),
}
