"""``paver serve`` answers /health over real HTTP on loopback, logs no personal data, stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from paver.auth import issue_token
from paver_dev.local_aws import free_port

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


def test_ctrl_c_stops_the_server_the_event_sources_and_the_embedded_aws() -> None:
    port = free_port()
    paver = Path(sys.executable).with_name("paver")
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PAVER_STAGE")}
    proc = subprocess.Popen([str(paver), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok:
                    break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail("paver serve exited early")
                time.sleep(0.3)
        # the pages are served too, without a token
        page = requests.get(f"http://127.0.0.1:{port}/console/", timeout=5)
        assert page.status_code == 200 and "console.js" in page.text
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out[-2000:]
    assert "paver: stopped" in out and "Traceback" not in out, out[-2000:]
    aws = re.search(r"AWS at http://127\.0\.0\.1:(\d+)", out)
    assert aws, out[-2000:]
    for p in (port, int(aws.group(1))):  # neither the API nor the embedded AWS is left behind
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{p}/", timeout=2)
