from __future__ import annotations

from pathlib import Path

import pytest
import requests

from paver.storage.models import Partner
from paver_dev.local_aws import LocalAWS, aws_environment, external_aws_configured


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port`` (from /proc/net/tcp*)."""
    found: set[str] = set()
    for name in ("tcp", "tcp6"):
        table = Path(f"/proc/net/{name}")
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            addr, hexport = local.split(":")
            if int(hexport, 16) == port and state == "0A":
                found.add(addr)
    return found


def test_local_aws_listens_on_loopback_only() -> None:
    server = LocalAWS().start()
    try:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        assert requests.get(server.endpoint_url + "/moto-api/", timeout=5).status_code == 200
        # 0100007F is 127.0.0.1 in /proc's little-endian hex; 00000000 would be 0.0.0.0.
        assert _listening_addresses(server.port) == {"0100007F"}
    finally:
        server.stop()


def test_aws_environment_creates_resources_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAVER_STAGE")
    with aws_environment() as cfg:
        assert cfg.endpoint_url and cfg.endpoint_url.startswith("http://127.0.0.1:")
        Partner(partner_id="P9", name="Rural bank", kind="rural_bank", region="west",
                guid="cn.rural.p9").save()
        assert Partner.get("P9").name == "Rural bank"
        assert Partner.Meta.table_name == "paver-local-Partners"


def test_configured_endpoint_is_used_and_nothing_started(monkeypatch: pytest.MonkeyPatch) -> None:
    outer = LocalAWS().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", outer.endpoint_url)
        assert external_aws_configured()
        with aws_environment() as cfg:
            assert cfg.endpoint_url == outer.endpoint_url
            Partner(partner_id="P1", name="B", kind="city_bank", region="east", guid="g").save()
        tables = requests.post(
            outer.endpoint_url, timeout=5,
            headers={"X-Amz-Target": "DynamoDB_20120810.ListTables",
                     "Content-Type": "application/x-amz-json-1.0",
                     "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/"
                                      "dynamodb/aws4_request, SignedHeaders=host, Signature=x"},
            data="{}",
        ).json()["TableNames"]
        assert "paver-test-Partners" in tables
    finally:
        outer.stop()


def test_real_credentials_need_a_stage() -> None:
    assert not external_aws_configured({"AWS_ACCESS_KEY_ID": "AKIA..."})
    assert external_aws_configured({"AWS_ACCESS_KEY_ID": "AKIA...", "PAVER_STAGE": "prod"})
    assert not external_aws_configured({})
