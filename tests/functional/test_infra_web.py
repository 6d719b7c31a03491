"""The optional web stack (infra/web.py): a valid template and an upload of every asset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from paver.aws import client
from paver.config import Settings


def test_web_template_passes_cfn_lint(tmp_path: Path) -> None:
    from infra.web import web_template

    doc = web_template(Settings(stage="dev"))
    path = tmp_path / "web.json"
    path.write_text(json.dumps(doc))
    lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(lint), "--", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bucket = doc["Resources"]["WebBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())  # read only via CloudFront
    behaviours = doc["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"][
        "CacheBehaviors"]
    assert [b["PathPattern"] for b in behaviours] == ["/console/*", "/m/*"]


def test_sync_uploads_every_page_with_its_type(aws: Settings) -> None:
    from infra.web import bucket_name, sync

    s3 = client("s3", aws)
    s3.create_bucket(Bucket=bucket_name(aws))
    n = sync(aws)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name(aws))["Contents"]}
    assert len(keys) == n
    assert {"console/", "console/index.html", "console/console.js", "console/paver.js",
            "m/", "m/m.js", "m/paver.js", "m/base.css"} <= keys
    head = s3.head_object(Bucket=bucket_name(aws), Key="console/console.js")
    assert head["ContentType"].startswith("text/javascript")
