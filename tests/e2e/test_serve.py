"""``paver serve`` answers /health over real HTTP on loopback, logs no personal data, stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from paver.auth import issue_token
from paver.local_aws import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_serve_answers_health_over_http() -> None:
    port = free_port()
    paver = Path(sys.executable).with_name("paver")
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.pop("PAVER_STAGE", None)
    proc = subprocess.Popen([str(paver), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
                body = resp.json()
                break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail(f"paver serve exited: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.3)
        assert body is not None, "no answer within 60 s"
        assert resp.status_code == 200
        assert body == {"status": "ok"}  # liveness only without a token
        token = issue_token("operator", "ops")
        # personal data and a token in a query string must not reach the access log
        secrets = ["13812345678", "A000123456", "91110000600037341L", token]
        resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=5,
                            params={"phone": secrets[0], "acct": secrets[1],
                                    "uscc": secrets[2], "token": secrets[3]},
                            headers={"Authorization": f"Bearer {token}"})
        body = resp.json()
        assert body["stage"] == "local"
        assert body["endpoint"] == "local"
        assert body["tables"] and all(body["tables"].values())
        assert body["versions"]["paver"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    output = proc.stdout.read() if proc.stdout else ""
    assert "GET /health?phone=" in output  # the access log line is there ...
    leaked = [s[:12] for s in secrets if s in output]
    assert not leaked, leaked  # ... masked
