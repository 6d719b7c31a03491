"""The published API description is valid OpenAPI 3.1, and the running server keeps it.

``paver openapi`` is what API Gateway imports and client generators read: openapi-spec-validator
checks the document, and schemathesis (examples, coverage and fuzzing phases, positive and
negative data, every check) runs it against ``paver serve`` over real HTTP on loopback with an
operator token: no 5xx, every status and content type documented, every schema-valid request
accepted, every schema-invalid one refused, no route served without a token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from paver_dev.local_aws import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

BIN = Path(sys.executable).parent
SECRET = "openapi-contract-test-secret-0123456789"
#: Bounded so the suite stays within its budget; the seed makes the run reproducible.
EXAMPLES_PER_OPERATION = 12
SEED = 20261204


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("openapi") / "openapi.json"
    proc = subprocess.run([str(BIN / "paver"), "openapi", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, json.loads(out.read_text(encoding="utf-8"))


def test_the_document_is_valid_openapi_3_1(document: tuple[Path, dict[str, Any]]) -> None:
    _, doc = document
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any schema or reference error


def test_the_document_states_what_the_api_enforces(
        document: tuple[Path, dict[str, Any]]) -> None:
    from paver.trust.selection import load_policy

    _, doc = document
    schemas = doc["components"]["schemas"]
    txn = doc["paths"]["/transactions"]["post"]
    assert txn["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TransactionIn"}
    assert set(txn["responses"]) >= {"200", "201", "400", "401", "403", "404", "409"}
    amount = schemas["TransactionIn"]["properties"]["amount"]["anyOf"]
    assert amount[0]["multipleOf"] == 0.01 and amount[0]["exclusiveMinimum"] == 0
    assert "pattern" in amount[1]  # a decimal string, not any string
    batch = schemas["MerchantBatch"]
    for fld, row in (("merchants", "MerchantRow"), ("metrics", "MetricRow")):
        items = batch["properties"][fld]["items"]
        assert items["x-row-schema"] == {"$ref": f"#/components/schemas/{row}"}
        assert "merchant_id" in schemas[row]["required"]
    assert batch["additionalProperties"] is False and len(batch["anyOf"]) == 2
    allowed = load_policy().threshold
    [number, _] = schemas["CampaignIn"]["properties"]["threshold"]["anyOf"]
    assert (number["minimum"], number["maximum"]) == (allowed.min, allowed.max)
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    assert p["schema"]["pattern"] == "^[A-Za-z0-9_.:-]{1,128}$", (method, path)
            assert op["security"] == ([] if path == "/health" else [{"bearer": []}])
    image = doc["paths"]["/codes/{code_id}/image"]["get"]["responses"]["200"]["content"]
    assert set(image) == {"image/png", "image/svg+xml"}


@pytest.fixture(scope="module")
def server() -> Any:
    """``paver serve`` on a free loopback port with its embedded AWS."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ENDPOINT_URL", "PAVER_STAGE")}
    env["PAVER_TOKEN_SECRET"] = SECRET
    proc = subprocess.Popen([str(BIN / "paver"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, "paver serve exited"
            assert time.monotonic() < deadline, "paver serve did not answer within 90 s"
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_schemathesis_finds_nothing_against_paver_serve(
        document: tuple[Path, dict[str, Any]], server: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from paver.auth import issue_token
    from paver.console.pages import encode_cursor

    monkeypatch.setenv("PAVER_TOKEN_SECRET", SECRET)
    token = issue_token("operator", "ops")
    path, doc = document
    # A cursor is opaque and only the API makes valid ones, so the run is given one (shaped
    # as every list route's own: each reads the key fields it needs), as schemathesis advises
    # for values no schema can state.
    cursor = encode_cursor({"merchant_id": "M-none", "partner_id": "P-none",
                            "code_id": "C-none", "at": "2026-01-01T00:00:00+00:00",
                            "event_id": "E-none"})
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"query.cursor" = "{cursor}"\n', encoding="utf-8")
    operations = sum(len(methods) for methods in doc["paths"].values())
    report = tmp_path / "junit.xml"
    proc = subprocess.run(
        [str(BIN / "schemathesis"), "--config-file", str(config), "run", str(path), "--url", server,
         "-H", f"Authorization: Bearer {token}", "--checks", "all",
         "--phases", "examples,coverage,fuzzing", "--mode", "all",
         "-n", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED), "--workers", "1",
         "--request-timeout", "30", "--report", "junit", "--report-junit-path", str(report)],
        capture_output=True, text=True, timeout=480, check=False, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""})
    summary = proc.stdout[proc.stdout.find("SUMMARY"):] if "SUMMARY" in proc.stdout else ""
    assert proc.returncode == 0, (proc.stdout[-6000:] + proc.stderr[-2000:])
    assert f"Tested: {operations}" in summary, summary  # no operation left out
    assert report.is_file()
