from __future__ import annotations

import pytest

from paver.config import ConfigError, Settings


def test_names_carry_stage_prefix() -> None:
    cfg = Settings.from_env({"PAVER_STAGE": "prod", "AWS_REGION": "eu-west-1"})
    assert cfg.table_name("Partners") == "paver-prod-Partners"
    assert cfg.bucket_name("ingest") == "paver-prod-ingest"
    assert cfg.queue_name("rollout-dlq") == "paver-prod-rollout-dlq"
    assert cfg.region == "eu-west-1"
    assert cfg.endpoint_url is None


@pytest.mark.parametrize("stage", ["", "Prod", "a b", "x" * 21, "1dev"])
def test_bad_stage_is_named(stage: str) -> None:
    with pytest.raises(ConfigError, match="PAVER_STAGE"):
        Settings.from_env({"PAVER_STAGE": stage})


def test_unknown_resource_roles_are_refused() -> None:
    cfg = Settings.from_env({})
    with pytest.raises(KeyError, match="unknown bucket role"):
        cfg.bucket_name("nope")
    with pytest.raises(KeyError, match="unknown queue role"):
        cfg.queue_name("nope")


def test_the_payment_reporting_window_is_read_from_the_environment() -> None:
    s = Settings.from_env({"PAVER_TXN_MAX_AGE_S": "3600", "PAVER_TXN_MAX_AHEAD_S": "60"})
    assert (s.txn_max_age_s, s.txn_max_ahead_s) == (3600, 60)
    assert Settings.from_env({}).txn_max_age_s == 86_400
    for bad in ("-1", "1e3", "١٠", "x", str(20 * 366 * 86_400)):
        with pytest.raises(ConfigError, match="PAVER_TXN_MAX_AGE_S"):
            Settings.from_env({"PAVER_TXN_MAX_AGE_S": bad})


def test_serving_settings_come_from_the_environment() -> None:
    cfg = Settings.from_env({"PAVER_RISK_BUDGET_MS": "50", "PAVER_PLATFORM_GUID": "cn.x.pay",
                             "PAVER_SKIN_CERTIFICATION": "queue"})
    assert (cfg.risk_budget_ms, cfg.platform_guid, cfg.skin_certification) == (
        50.0, "cn.x.pay", "queue")
    default = Settings.from_env({})
    assert (default.risk_budget_ms, default.platform_guid, default.skin_certification) == (
        200.0, "com.paver.pay", None)


@pytest.mark.parametrize("raw", ["0", "-5", "soon", "nan", "60001"])
def test_a_bad_risk_budget_is_named(raw: str) -> None:
    with pytest.raises(ConfigError, match="PAVER_RISK_BUDGET_MS"):
        Settings.from_env({"PAVER_RISK_BUDGET_MS": raw})


def test_the_transactions_stream_has_one_default_per_stage() -> None:
    """Accrual and risk read the same stream: one default, derived from the stage's table."""
    arn = Settings.from_env({"PAVER_STAGE": "dev", "AWS_REGION": "eu-west-1"}).transactions_stream
    assert arn.startswith("arn:aws:dynamodb:eu-west-1:")
    assert "/paver-dev-Transactions/stream/" in arn
    given = "arn:aws:dynamodb:us-east-1:1:table/t/stream/s"
    assert Settings.from_env({"TRANSACTIONS_STREAM_ARN": given}).transactions_stream == given
