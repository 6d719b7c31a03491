"""PynamoDB models: the single definition of every DynamoDB table.

The logical name in ``Meta.table_name`` is rewritten to the stage-prefixed physical name by
:func:`paver.storage.registry.bind_all`; local creation, tests and the deployment template all read
these classes (no second hand-written key schema).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class _Meta:
    billing_mode = "PAY_PER_REQUEST"
    region = "us-east-1"
    host: str | None = None


class Partner(Model):
    """A candidate partner (bank or service provider) with its own merchant-account template."""

    class Meta(_Meta):
        table_name = "Partners"

    partner_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # rural_bank | city_bank | service_provider
    region = UnicodeAttribute()
    guid = UnicodeAttribute()  # GUID of the partner's EMV merchant-account template
    default_skin = UnicodeAttribute(null=True)
    skins = ListAttribute(of=UnicodeAttribute, null=True)
    profile = JSONAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    # trust: latest scheduled score {"scores", "tier", "model_version", "scored_at"}
    trust = JSONAttribute(null=True)


class MerchantsByPartner(GlobalSecondaryIndex["Merchant"]):
    class Meta:
        index_name = "by_partner"
        projection = AllProjection()

    partner_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute(range_key=True)


class Merchant(Model):
    """A merchant owned by one partner: registration data, level and running totals."""

    class Meta(_Meta):
        table_name = "Merchants"

    merchant_id = UnicodeAttribute(hash_key=True)
    partner_id = UnicodeAttribute()
    by_partner = MerchantsByPartner()
    name = UnicodeAttribute()
    name_zh = UnicodeAttribute(null=True)
    mcc = UnicodeAttribute()
    city = UnicodeAttribute()
    city_zh = UnicodeAttribute(null=True)
    region = UnicodeAttribute(null=True)
    lat = NumberAttribute(null=True)
    lon = NumberAttribute(null=True)
    datum = UnicodeAttribute(default="WGS-84")
    uscc = UnicodeAttribute(null=True)
    level = NumberAttribute(default=0)
    registered_at = UnicodeAttribute(null=True)
    partner_merchant_id = UnicodeAttribute(null=True)
    skin = UnicodeAttribute(null=True)
    bound = BooleanAttribute(default=False)
    txn_count = NumberAttribute(default=0)
    txn_amount = NumberAttribute(default=0)
    active_day_set = UnicodeSetAttribute(null=True)  # YYYY-MM-DD of days with a payment
    source = UnicodeAttribute(null=True)  # ingest file / batch the row came from
    # trust: KYB fields from ingest {"legal_rep", "contact_phone", "address", "location_verified"}
    registration = JSONAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    # risk-scene decisions on the merchant's code payments, fed to its partner's risk features
    # (paver.trust.risk_feed): payments screened, alerts (risky), cases an investigator confirmed
    risk_screened = NumberAttribute(null=True)
    risk_alerts = NumberAttribute(null=True)
    risk_confirmed = NumberAttribute(null=True)


class MerchantMetric(Model):
    """Monthly business-behaviour metrics of one merchant."""

    class Meta(_Meta):
        table_name = "MerchantMetrics"

    merchant_id = UnicodeAttribute(hash_key=True)
    month = UnicodeAttribute(range_key=True)  # YYYY-MM
    partner_id = UnicodeAttribute()
    txn_count = NumberAttribute(default=0)
    amount = NumberAttribute(default=0)
    active_days = NumberAttribute(default=0)
    refunds = NumberAttribute(default=0)
    complaints = NumberAttribute(default=0)
    chargebacks = NumberAttribute(default=0)
    fraud_reports = NumberAttribute(default=0)
    risk_hits = NumberAttribute(default=0)  # hits of the platform's risk scenes that month


class Campaign(Model):
    """A rollout campaign: regions, threshold override and status."""

    class Meta(_Meta):
        table_name = "Campaigns"

    campaign_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    regions = ListAttribute(of=UnicodeAttribute, null=True)
    threshold = NumberAttribute(null=True)
    status = UnicodeAttribute(default="created")
    created_at = UTCDateTimeAttribute(null=True)
    detail = JSONAttribute(null=True)
    model_version = UnicodeAttribute(null=True)  # trust model version it scores with (None: active)


class Selection(Model):
    """One partner's score and selection decision within a campaign, with its reasons."""

    class Meta(_Meta):
        table_name = "Selections"

    campaign_id = UnicodeAttribute(hash_key=True)
    partner_id = UnicodeAttribute(range_key=True)
    trust_score = NumberAttribute()
    scores = JSONAttribute()  # {"risk": .., "trust": .., "quality": .., "value": ..}
    tier = UnicodeAttribute()
    selected = BooleanAttribute()
    rank = NumberAttribute(null=True)
    reasons = ListAttribute(of=UnicodeAttribute, null=True)
    rules_fired = ListAttribute(of=UnicodeAttribute, null=True)
    explanation = JSONAttribute(null=True)
    model_version = UnicodeAttribute(null=True)
    decided_at = UTCDateTimeAttribute(null=True)
    # audit trail of operator overrides: [{"at", "by", "selected_before", "selected", "note"}]
    overrides = JSONAttribute(null=True)


class CodesByCampaign(GlobalSecondaryIndex["Code"]):
    class Meta:
        index_name = "by_campaign"
        projection = AllProjection()

    campaign_id = UnicodeAttribute(hash_key=True)
    code_id = UnicodeAttribute(range_key=True)


class Code(Model):
    """An aggregated payment code issued to one merchant, tracked through deployment."""

    class Meta(_Meta):
        table_name = "Codes"

    code_id = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute()
    by_campaign = CodesByCampaign()
    merchant_id = UnicodeAttribute()
    partner_id = UnicodeAttribute()
    payload = UnicodeAttribute()
    skin = UnicodeAttribute()
    status = UnicodeAttribute(default="issued")  # issued → shipped → installed → active
    image_keys = ListAttribute(of=UnicodeAttribute, null=True)
    issued_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    history = JSONAttribute(null=True)


class Transaction(Model):
    """A payment through an aggregated code; the table's stream feeds accrual and screening."""

    class Meta(_Meta):
        table_name = "Transactions"
        stream_view_type = "NEW_IMAGE"

    txn_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    code_id = UnicodeAttribute(null=True)
    amount = NumberAttribute()
    currency = UnicodeAttribute(default="156")
    timestamp = UnicodeAttribute()
    from_account = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(default="qr")
    idempotency_key = UnicodeAttribute()
    attributes = JSONAttribute(null=True)
    scan_ref = UnicodeAttribute(null=True)  # what the wallet's scan of the code reported
    # claim 5: decided when recorded; only payments through the active code accrue
    accrues = BooleanAttribute(null=True)
    accrual_code = UnicodeAttribute(null=True)
    accrual_reason = UnicodeAttribute(null=True)


class Benefit(Model):
    """A benefit granted once to a merchant (binding upgrade or transaction milestone)."""

    class Meta(_Meta):
        table_name = "Benefits"

    merchant_id = UnicodeAttribute(hash_key=True)
    benefit_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    reason = UnicodeAttribute()
    granted_at = UTCDateTimeAttribute(null=True)
    detail = JSONAttribute(null=True)


class ModelVersion(Model):
    """A trained model artifact: where it lives, what it was trained on, how well it scored."""

    class Meta(_Meta):
        table_name = "ModelRegistry"

    model_name = UnicodeAttribute(hash_key=True)
    version = UnicodeAttribute(range_key=True)
    s3_key = UnicodeAttribute()
    active = BooleanAttribute(default=False)
    metrics = JSONAttribute(null=True)
    features = ListAttribute(of=UnicodeAttribute, null=True)
    data_hash = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)


class RiskScene(Model):
    """One risk scene of one knowledge-base version (centroids live in the S3 artifact)."""

    class Meta(_Meta):
        table_name = "RiskScenes"

    kb_version = UnicodeAttribute(hash_key=True)
    scene = UnicodeAttribute(range_key=True)
    s3_key = UnicodeAttribute()
    sample_count = NumberAttribute(default=0)
    clusters = JSONAttribute(null=True)  # {"transaction": k, ...}
    threshold = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)


class Relation(Model):
    """Associated data of an account: an edge to another node in one dimension."""

    class Meta(_Meta):
        table_name = "Relations"

    node_id = UnicodeAttribute(hash_key=True)
    rel_key = UnicodeAttribute(range_key=True)  # "{dimension}#{target}"
    dimension = UnicodeAttribute()
    target = UnicodeAttribute()
    attrs = JSONAttribute(null=True)
    # usage records (device / address edges): kept with update expressions, no read-modify-write
    first_seen = NumberAttribute(null=True)
    last_seen = NumberAttribute(null=True)
    uses = NumberAttribute(null=True)


class Account(Model):
    """User attributes of an account (initiator or receiver of events)."""

    class Meta(_Meta):
        table_name = "Accounts"

    account_id = UnicodeAttribute(hash_key=True)
    attrs = JSONAttribute(null=True)


class Decision(Model):
    """A risk-screening decision with its explanation.

    ``status`` is ``screened``, or ``unscreened_no_kb`` for a payment that arrived before any
    knowledge base existed (then ``risky`` and ``match_degree`` are empty: no verdict was
    made, and the explanation says why).
    """

    class Meta(_Meta):
        table_name = "Decisions"

    event_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute(null=True)
    risky = BooleanAttribute(null=True)
    scene = UnicodeAttribute(null=True)
    match_degree = NumberAttribute(null=True)
    kb_version = UnicodeAttribute(null=True)
    explanation = JSONAttribute(null=True)
    decided_at = UTCDateTimeAttribute(null=True)
    # the shadow version's verdict on the same event (paver.risk.versions): never acts
    shadow = JSONAttribute(null=True)


class Case(Model):
    """An alert's case (:mod:`paver.risk.cases`): the analysts' decisions, kept apart from the
    screening decision so a re-screen never touches the audit trail."""

    class Meta(_Meta):
        table_name = "Cases"

    event_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    scene = UnicodeAttribute(null=True)  # the scene it was confirmed as
    history = JSONAttribute()
    version = NumberAttribute()  # optimistic lock: one decision per version


class BindingAttempt(Model):
    """One binding attempt of a merchant (kept for audit; none overwrites another)."""

    class Meta(_Meta):
        table_name = "BindingAttempts"

    merchant_id = UnicodeAttribute(hash_key=True)
    attempt_id = UnicodeAttribute(range_key=True)
    outcome = UnicodeAttribute()
    reasons = ListAttribute(of=UnicodeAttribute, null=True)
    evidence = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)


class PartnerSkin(Model):
    """A skin a partner defined itself (``paver.partner_skins``), with its certification.

    ``status`` is ``pending`` until the four-reader certification has run, then ``certified``
    (offered to the partner's merchants) or ``refused`` (never offered; ``failures`` lists the
    failing skin × payload × condition × reader cells).
    """

    class Meta(_Meta):
        table_name = "PartnerSkins"

    partner_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute(default="pending")
    spec = JSONAttribute()  # the validated definition, logo excluded
    spec_hash = UnicodeAttribute()  # sha256 of spec + logo: a retried submit is a no-op
    logo = BinaryAttribute(null=True, legacy_encoding=False)  # normalised palette PNG
    failures = JSONAttribute(null=True)
    certification = JSONAttribute(null=True)  # {"cells", "seconds", "readers"}
    created_at = UTCDateTimeAttribute(null=True)
    certified_at = UTCDateTimeAttribute(null=True)


#: How long a dedupe marker outlives its write: longer than any redelivery of the event it
#: guards (a DynamoDB stream keeps records 24 h, an SQS queue at most 14 days), so a retry
#: still finds it; after that DynamoDB's TTL deletes it and the table does not grow forever.
DEDUPE_TTL = timedelta(days=15)


class IdempotencyRecord(Model):
    """Dedupe markers (``accrued#txn``, ``device-use#txn``, the risk feed's per-decision
    markers) and upload requests: they make retried writes take effect once, and expire
    (``expires_at``, the table's DynamoDB TTL attribute). Permanent claims live in
    :class:`Claim`. A record written without ``expires_at`` (the risk feed's watermark) stays.
    """

    class Meta(_Meta):
        table_name = "Idempotency"

    key = UnicodeAttribute(hash_key=True)
    result = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    @classmethod
    def marker(cls, key: str, result: dict[str, Any] | None = None,
               now: datetime | None = None) -> IdempotencyRecord:
        """A record that expires :data:`DEDUPE_TTL` after ``now`` (default: the clock)."""
        now = now or datetime.now(UTC)
        return cls(key=key, result=result, created_at=now, expires_at=now + DEDUPE_TTL)


class Claim(Model):
    """Permanent claims, never expired: a business credential bound to one merchant
    (``uscc#<code>`` → ``merchant_id``) and the perceptual-hash index of checked store photos
    (``phash#<band>`` → ``members``, a set of ``merchant|hash`` grown by atomic ADD), so a
    credential or a photo cannot bind a second shop however much later it comes back."""

    class Meta(_Meta):
        table_name = "Claims"

    key = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    members = UnicodeSetAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    Partner,
    Merchant,
    MerchantMetric,
    Campaign,
    Selection,
    Code,
    Transaction,
    Benefit,
    ModelVersion,
    RiskScene,
    Relation,
    Account,
    Case,
    Decision,
    BindingAttempt,
    IdempotencyRecord,
    Claim,
    PartnerSkin,
)
