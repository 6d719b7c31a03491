"""The packaged zip imports and answers on its own (not from the repo)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from paver_dev.packaging import package_app
from tests.unit.test_layers import CORE_FORBIDDEN, imported_roots

pytestmark = pytest.mark.xdist_group("packaging")

_PROBE = """
import json, os, sys
from chalice.test import Client  # the dev tool; the zip carries only Chalice's runtime module
sys.path.insert(0, sys.argv[1])
os.chdir(sys.argv[1])
from moto import mock_aws
with mock_aws():
    import app as packaged
    from paver.storage import registry
    registry.create_all()
    from paver.auth import issue_token
    from paver.storage.models import Merchant
    Merchant(merchant_id="M1", partner_id="P1", name="Shop", mcc="5812", city="X").save()
    auth = {"Authorization": "Bearer " + issue_token("partner", "P1"),
            "Content-Type": "application/json"}
    txn = {"idempotency_key": "k-00000001", "merchant_id": "M1", "amount": "9.90"}
    ops = {"Authorization": "Bearer " + issue_token("operator", "ops")}
    with Client(packaged.app) as client:
        live = json.loads(client.http.get("/health").body)
        resp = client.http.get("/health", headers=ops)
        paid = client.http.post("/transactions", headers=auth, body=json.dumps(txn))
        anon = client.http.get("/merchants/M1")
        js = client.http.get("/console/console.js")
        page = client.http.get("/m/index.html")
        bound = client.lambda_.invoke("binding", {"Records": [{"s3": {
            "bucket": {"name": "b"}, "object": {"key": "photos/../x"}}}]}).payload
    import paver, functions
    print(json.dumps({"status": resp.status_code, "body": json.loads(resp.body), "live": live,
                      "paid": paid.status_code, "anon": anon.status_code, "binding": bound,
                      "js": [js.status_code, js.headers.get("Content-Type"),
                             js.body[:600].decode()],
                      "page": [page.status_code, page.body.decode()],
                      "paver": paver.__file__, "functions": functions.__file__,
                      "app": packaged.__file__}))
"""


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return package_app(tmp_path_factory.mktemp("pkg") / "build", stage="dev")


def test_package_unzips_imports_and_answers_health(packaged: dict, tmp_path: Path) -> None:
    result = packaged
    template = json.loads(Path(result["template"]).read_text())
    assert any(r["Type"] == "AWS::Serverless::Function" for r in template["Resources"].values())
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(result["zip"]) as zf:
        names = set(zf.namelist())
        zf.extractall(unzipped)
    assert {"app.py", "paver/__init__.py", "functions/health.py"} <= names
    assert any(n.startswith("rules/") for n in names)
    env = {"PYTHONPATH": "", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "us-east-1", "PAVER_STAGE": "dev", "PATH": "/usr/bin:/bin",
           "PAVER_TOKEN_SECRET": "packaged-zip-test-secret-of-32-chars!"}
    # -P: cwd is not put on sys.path. The venv site-packages stand in for the
    # Lambda layer, but the repo's editable paver must not leak in: check the file paths.
    proc = subprocess.run([sys.executable, "-P", "-c", _PROBE, str(unzipped)], capture_output=True,
                          text=True, env=env, timeout=120, check=False, cwd=unzipped)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == 200
    assert out["paid"] == 201 and out["anon"] == 401  # a route with auth, storage, validation
    assert out["binding"]["results"][0]["outcome"] == "rejected"  # the S3-triggered function
    assert out["live"] == {"status": "ok"}  # no detail without an operator token
    assert out["body"]["stage"] == "dev"
    # the console and the merchant page are served from the package itself, without a token
    assert out["js"][0] == 200 and out["js"][1].startswith("text/javascript")
    assert "import" in out["js"][2]
    assert out["page"][0] == 200 and 'src="m.js"' in out["page"][1]
    assert {"paver/assets/web/console/index.html", "paver/assets/web/m/m.js",
            "paver/assets/web/shared/paver.js"} <= names
    assert all(out["body"]["tables"].values())
    for key in ("paver", "functions", "app"):
        assert out[key].startswith(str(unzipped)), out


def test_package_carries_no_tooling_and_the_core_does_not_reach_up(packaged: dict,
                                                                   tmp_path: Path) -> None:
    """The deployment zip holds the app, the handlers, the core and the rules: no developer
    tooling (``paver_dev``: CLI, demo, worlds, local AWS, serve, packaging, photo generator,
    AMLSim converter), and no core module in it imports the app, a handler or tooling."""
    with zipfile.ZipFile(packaged["zip"]) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path)
    tops = {n.split("/")[0] for n in names if "/" in n}
    assert "paver_dev" not in tops and {"paver", "functions", "rules"} <= tops
    tooling = ("paver/cli/", "paver/demo/", "paver/world/", "paver/local_aws.py",
               "paver/local_events.py", "paver/serve.py", "paver/packaging.py",
               "paver/kyb/photo_gen.py", "paver/risk/amlsim.py", "paver/assets/photos/")
    assert [n for n in names if n.startswith(tooling) or n.endswith("/demo.py")] == []
    core = [n for n in names if n.startswith("paver/") and n.endswith(".py")]
    assert len(core) > 50
    reaching_up = [f"{n}: {pkg}" for n in core
                   if "/assets/" not in n
                   for pkg in imported_roots(tmp_path / n) if pkg in CORE_FORBIDDEN]
    assert reaching_up == []


def test_template_tables_come_from_the_models(packaged: dict) -> None:
    from paver.storage.models import ALL_MODELS
    from paver.storage.registry import LOGICAL_NAMES, table_schema

    res = json.loads(Path(packaged["template"]).read_text())["Resources"]
    for model in ALL_MODELS:
        table = res[f"{LOGICAL_NAMES[model]}Table"]["Properties"]
        assert table["TableName"] == f"paver-dev-{LOGICAL_NAMES[model]}"
        assert table["KeySchema"] == table_schema(model)["KeySchema"]
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert table["SSESpecification"]["SSEEnabled"]
    assert res["TransactionsTable"]["Properties"]["StreamSpecification"] == {
        "StreamViewType": "NEW_IMAGE"}
    # dedupe markers expire; permanent credential claims never do
    assert res["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at", "Enabled": True}
    assert "TimeToLiveSpecification" not in res["ClaimsTable"]["Properties"]


def test_template_wires_events_and_locks_buckets(packaged: dict) -> None:
    res = json.loads(Path(packaged["template"]).read_text())["Resources"]
    accrual = res["Accrual"]["Properties"]["Events"]["AccrualDynamodbEventSource"]["Properties"]
    assert accrual["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert accrual["Stream"] == {"Fn::GetAtt": ["TransactionsTable", "StreamArn"]}
    # records that exhaust their retries land in a queue (with an alarm), never dropped
    assert accrual["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailureQueue", "Arn"]}
    assert res["StreamFailureQueueAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    worker = res["RolloutWorker"]["Properties"]["Events"]["RolloutWorkerSqsEventSource"]
    assert worker["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    photos = res["PhotosBucket"]["Properties"]
    target = photos["NotificationConfiguration"]["LambdaConfigurations"][0]
    assert target["Function"] == {"Fn::GetAtt": ["Binding", "Arn"]}
    for key in ("IngestBucket", "ArtifactsBucket", "PhotosBucket"):
        block = res[key]["Properties"]["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
    queue = res["RolloutQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["RolloutDeadLetterQueue", "Arn"]}
    assert res["RolloutDeadLetterQueueAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    # drift: the metric the drift report prints, at the report's own threshold
    for model in ("Trust", "Risk"):
        alarm = res[f"{model}DriftAlarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("Paver", "DriftPSI")
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "Stage": "dev", "Model": model.lower()}
        assert alarm["Threshold"] == 0.25
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_template_passes_cfn_lint(packaged: dict) -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(lint), packaged["template"]], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_function_has_its_own_role_policy_and_the_layer(packaged: dict) -> None:
    from infra import certifier, iam
    from infra.template import LAYER_LOGICAL_ID, RUNTIME
    from infra.training import TRAINING_FUNCTION
    from paver.config import Settings

    res = json.loads(Path(packaged["template"]).read_text())["Resources"]
    functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Serverless::Function"}
    by_name = {v["Properties"]["FunctionName"]: v for v in functions.values()}
    cfg = Settings(stage="dev")
    assert set(by_name) == {iam.function_name(cfg, fn)
                            for fn in (*iam.FUNCTIONS, TRAINING_FUNCTION, certifier.CERTIFIER)}
    roles = set()
    for fn in iam.FUNCTIONS:
        props = by_name[iam.function_name(cfg, fn)]["Properties"]
        assert props["Layers"] == [{"Ref": LAYER_LOGICAL_ID}] and props["Runtime"] == RUNTIME
        role = props["Role"]["Fn::GetAtt"][0]
        roles.add(role)
        [doc] = res[role]["Properties"]["Policies"]
        assert doc["PolicyDocument"] == iam.policy(cfg, fn), fn
    assert len(roles) == len(iam.FUNCTIONS)  # no role shared between functions
    layer = res[LAYER_LOGICAL_ID]["Properties"]
    assert layer["ContentUri"] == "../layer.zip" and layer["CompatibleRuntimes"] == [RUNTIME]


def _checkov() -> Path:
    from paver_dev.project import project_root

    exe = project_root() / ".venv-tools" / "bin" / "checkov"
    assert exe.is_file(), f"{exe} missing: run `make install` (checkov has its own venv)"
    return exe


def test_template_passes_checkov_with_a_reason_for_every_skip(packaged: dict) -> None:
    """The scanner banks run on CloudFormation: no failed check; skips only with a reason."""
    proc = subprocess.run([str(_checkov()), "-f", packaged["template"], "--framework",
                           "cloudformation", "-o", "json", "--quiet"], capture_output=True,
                          text=True, timeout=600, check=False)
    report = json.loads(proc.stdout)
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}"
              for c in report["results"]["failed_checks"]]
    assert failed == [] and proc.returncode == 0, "\n".join(failed) or proc.stderr[-2000:]
    assert report["summary"]["passed"] > 150  # it did scan the whole stack
    res = json.loads(Path(packaged["template"]).read_text())["Resources"]
    for logical, r in res.items():
        for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV") and len(skip.get("comment", "")) > 20, logical


def test_stack_encrypts_logs_traces_and_limits(packaged: dict) -> None:
    """What a payment platform must have, beyond what the scanner happens to check."""
    from infra import certifier, iam
    from infra.template import DATA_KEY, TOKEN_SECRET
    from infra.training import TRAINING_FUNCTION
    from paver.secret_store import SECRET_ID_ENV

    res = json.loads(Path(packaged["template"]).read_text())["Resources"]
    key = {"Ref": DATA_KEY}
    assert res[DATA_KEY]["Properties"]["EnableKeyRotation"] is True
    for r in res.values():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::DynamoDB::Table":
            assert props["SSESpecification"]["KMSMasterKeyId"] == key
        elif r["Type"] == "AWS::SQS::Queue":
            assert props["KmsMasterKeyId"] == key
        elif r["Type"] == "AWS::Logs::LogGroup":
            assert props["KmsKeyId"] == {"Fn::GetAtt": [DATA_KEY, "Arn"]}
        elif r["Type"] == "AWS::Serverless::Function":
            assert props["Tracing"] == "Active" and props["ReservedConcurrentExecutions"] >= 1
            env = props["Environment"]["Variables"]
            assert "PAVER_TOKEN_SECRET" not in env  # the secret's ARN at most, never its value
            if SECRET_ID_ENV in env:
                assert env[SECRET_ID_ENV] == {"Ref": TOKEN_SECRET}
            name = props["FunctionName"].removeprefix("paver-dev-")
            name = "api_handler" if name == TRAINING_FUNCTION else name  # the API's routes
            access = certifier.ACCESS if name == certifier.CERTIFIER else iam.ACCESS[name]
            assert ("DeadLetterQueue" in props) == access.dead_letter
    # every bucket refuses plain HTTP; data buckets log their access
    policies = {r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]
                for r in res.values() if r["Type"] == "AWS::S3::BucketPolicy"}
    buckets = [k for k, r in res.items() if r["Type"] == "AWS::S3::Bucket"]
    assert set(policies) == set(buckets)
    for doc in policies.values():
        assert {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.items() \
            <= doc["Statement"][0].items()
    for b in ("IngestBucket", "ArtifactsBucket", "PhotosBucket"):
        assert res[b]["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {
            "Ref": "AccessLogsBucket"}
    api = res["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True and "DestinationArn" in api["AccessLogSetting"]
    assert api["MethodSettings"][0]["DataTraceEnabled"] is False  # bodies never logged
    assert res[TOKEN_SECRET]["Properties"]["KmsKeyId"] == key
    assert "Parameters" not in json.loads(Path(packaged["template"]).read_text()) or \
        "TokenSecret" not in json.loads(Path(packaged["template"]).read_text())["Parameters"]
