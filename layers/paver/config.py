"""Runtime settings read from the environment, and the names of every AWS resource.

One place decides how a table, bucket or queue is named for a stage, so the local bootstrap,
the tests and the deployment template agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from paver.errors import PaverError

_STAGE_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")

#: Bucket roles; the physical name is ``{project}-{stage}-{role}``.
BUCKETS: tuple[str, ...] = ("ingest", "artifacts", "photos")
#: Queue roles; each has a dead-letter queue ``{name}-dlq``. ``skin-certify`` feeds the
#: certifier of partner skins (a container image with the QR readers, see README).
QUEUES: tuple[str, ...] = ("rollout", "skin-certify")


class ConfigError(PaverError, ValueError):
    """A configuration variable holds a value Paver cannot use."""


@dataclass(frozen=True)
class Settings:
    """Where Paver's resources live.

    Parameters
    ----------
    stage
        Deployment stage (``PAVER_STAGE``); prefixes every resource name.
    region
        AWS region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
    endpoint_url
        ``AWS_ENDPOINT_URL``: the embedded local AWS, DynamoDB Local, or ``None`` for real AWS.
    project
        Name prefix shared by all resources (``PAVER_PROJECT``).
    txn_max_age_s
        ``PAVER_TXN_MAX_AGE_S``: how long after it happened a payment may still be reported
        to ``POST /transactions`` (accrual counts active days from its timestamp).
    txn_max_ahead_s
        ``PAVER_TXN_MAX_AHEAD_S``: how far ahead of the server's clock a payment's timestamp
        may be (clock skew).
    risk_budget_ms
        ``PAVER_RISK_BUDGET_MS``: the time budget of one risk screening, in milliseconds.
    platform_guid
        ``PAVER_PLATFORM_GUID``: the platform's GUID in every aggregated code.
    skin_certification
        ``PAVER_SKIN_CERTIFICATION`` as given (``None``: the stage decides, see
        :func:`paver.partner_skins.certification_mode`).
    drift_psi_threshold
        ``PAVER_DRIFT_PSI``: the population stability index at which a feature, and the model
        it feeds, counts as drifted (:mod:`paver.drift`; the CloudWatch alarm uses the same).
    transactions_stream_arn
        ``TRANSACTIONS_STREAM_ARN``: the stream the accrual and risk functions read. Chalice
        needs an ARN when the app is composed; ``infra.template`` replaces it with the
        stream of the stage's Transactions table, so the default (this stage's table, a
        placeholder account) only matters locally.
    """

    stage: str = "local"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    project: str = "paver"
    txn_max_age_s: int = 86_400
    txn_max_ahead_s: int = 300
    risk_budget_ms: float = 200.0
    drift_psi_threshold: float = 0.25
    platform_guid: str = "com.paver.pay"
    skin_certification: str | None = None
    transactions_stream_arn: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        stage = env.get("PAVER_STAGE", "local")
        if not _STAGE_RE.match(stage):
            raise ConfigError(
                f"PAVER_STAGE={stage!r}: use 1-20 lower-case letters, digits or '-', "
                "starting with a letter"
            )
        project = env.get("PAVER_PROJECT", "paver")
        if not _STAGE_RE.match(project):
            raise ConfigError(f"PAVER_PROJECT={project!r}: same rules as PAVER_STAGE")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = env.get("AWS_ENDPOINT_URL") or None
        return cls(stage=stage, region=region, endpoint_url=endpoint, project=project,
                   txn_max_age_s=_seconds(env, "PAVER_TXN_MAX_AGE_S", cls.txn_max_age_s),
                   txn_max_ahead_s=_seconds(env, "PAVER_TXN_MAX_AHEAD_S", cls.txn_max_ahead_s),
                   risk_budget_ms=_milliseconds(env, "PAVER_RISK_BUDGET_MS",
                                                cls.risk_budget_ms),
                   drift_psi_threshold=_psi(env, "PAVER_DRIFT_PSI", cls.drift_psi_threshold),
                   platform_guid=env.get("PAVER_PLATFORM_GUID") or cls.platform_guid,
                   skin_certification=env.get("PAVER_SKIN_CERTIFICATION") or None,
                   transactions_stream_arn=env.get("TRANSACTIONS_STREAM_ARN") or None)

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.stage}"

    @property
    def transactions_stream(self) -> str:
        """``TRANSACTIONS_STREAM_ARN``, or this stage's Transactions table in a placeholder
        account (what Chalice is given locally; the deployment template substitutes it)."""
        return self.transactions_stream_arn or (
            f"arn:aws:dynamodb:{self.region}:000000000000:table/"
            f"{self.table_name('Transactions')}/stream/local")

    def table_name(self, base: str) -> str:
        """Physical table name of a logical one (``Partners`` → ``paver-local-Partners``)."""
        return f"{self.prefix}-{base}"

    def bucket_name(self, role: str) -> str:
        if role not in BUCKETS:
            raise KeyError(f"unknown bucket role {role!r}; known: {', '.join(BUCKETS)}")
        return f"{self.prefix}-{role}"

    def queue_name(self, role: str) -> str:
        if role.removesuffix("-dlq") not in QUEUES:
            raise KeyError(f"unknown queue role {role!r}; known: {', '.join(QUEUES)}")
        return f"{self.prefix}-{role}"


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 10 * 366 * 86_400:
        raise ConfigError(f"{name}={raw!r}: a whole number of seconds, at most ten years")
    return int(raw)


def _number(env: Mapping[str, str], name: str, default: float, ok: Callable[[float], bool],
            what: str) -> float:
    """A float setting: ``default`` when unset, else a number ``ok`` accepts (NaN never)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if value != value or not ok(value):
        raise ConfigError(f"{name}={raw!r}: {what}")
    return value


def _milliseconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, lambda v: 0 < v <= 60_000,
                   "milliseconds above 0, at most 60000")


def settings() -> Settings:
    """Settings for the current process environment (read fresh each call: cheap)."""
    return Settings.from_env()


def _psi(env: Mapping[str, str], name: str, default: float) -> float:
    # 0.1 is where "moderate" starts: a lower alarm threshold would flag stable features
    return _number(env, name, default, lambda v: 0.1 <= v <= 10.0,
                   "a population stability index from 0.1 to 10 (0.25 is the usual "
                   "'significant shift')")
