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
