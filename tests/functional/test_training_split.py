"""Serving apart from training (issue #12 item 5): what runs on the serving layer, what in the
training image, and that the stack routes each request to the right one."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra import layer
from infra.iam import policy
from infra.names import function_logical_id
from infra.template import merge_template
from infra.training import TRAINING_FUNCTION, TRAINING_MODULES, TRAINING_ROUTES
from paver.aws import client
from paver.config import Settings
from paver_dev.world import transfers
from tests.serving import serving_layer


def test_the_serving_layer_leaves_out_exactly_the_training_modules() -> None:
    assert {layer._MODULE_OF.get(n, n) for n in layer.TRAINING} == TRAINING_MODULES


def test_serving_layer_refuses_training_imports_and_restores_them() -> None:
    importlib.import_module("scipy.sparse")
    with serving_layer():
        with pytest.raises(ModuleNotFoundError, match="serving layer"):
            importlib.import_module("sklearn.cluster")
        with pytest.raises(ModuleNotFoundError):
            from scipy import sparse
        importlib.import_module("pandas")  # pandas serves (trust scores on frames)
    from scipy import sparse

    assert sparse.csr_matrix(np.eye(2)).nnz == 2


def test_a_training_route_really_needs_the_image(api: Any, aws: Settings, tmp_path: Path) -> None:
    """Building scenes on the serving layer fails, on the image it works: the split is real,
    and the guard the API client puts on every other route would catch such a route."""
    transfers.generate(np.random.default_rng(8), 120, instances_per_scene=2).write(tmp_path)
    s3 = client("s3", aws)
    for name in ("transactions.csv", "labels.csv", "accounts.csv", "devices.csv",
                 "contacts.csv"):
        s3.upload_file(str(tmp_path / name), aws.bucket_name("ingest"), f"risk/{name}")
    body = json.dumps({"transactions_key": "risk/transactions.csv",
                       "labels_key": "risk/labels.csv"})
    headers = {"Content-Type": "application/json"}
    with serving_layer():
        res = api.http.post("/risk/scenes/build", body=body, headers=headers)
    assert res.status_code == 500
    res = api.http.post("/risk/scenes/build", body=body, headers=headers)  # the image
    assert res.status_code == 201, res.body


def _function_of(integration: dict[str, Any]) -> str:
    sub = integration["uri"]["Fn::Sub"]
    return sub.split("functions/${", 1)[1].split(".Arn}", 1)[0]


def test_packaged_stack_routes_training_to_the_image(tmp_path: Path) -> None:
    from app import app
    from paver_dev.packaging import package_app

    sam = json.loads(Path(package_app(tmp_path / "build", stage="dev")["template"]).read_text())
    res = sam["Resources"]
    routed = {(m.upper(), p): _function_of(op["x-amazon-apigateway-integration"])
              for p, ops in res["RestAPI"]["Properties"]["DefinitionBody"]["paths"].items()
              for m, op in ops.items() if "x-amazon-apigateway-integration" in op}
    assert set(routed) == {(m, p) for p, e in app.routes.items() for m in e}
    image = {k for k, v in res.items() if v.get("Properties", {}).get("PackageType") == "Image"}
    logical = function_logical_id(TRAINING_FUNCTION)
    assert logical in image  # beside the skin certifier's image
    assert {r for r, fn in routed.items() if fn == logical} == TRAINING_ROUTES
    assert {fn for r, fn in routed.items() if r not in TRAINING_ROUTES} == {"APIHandler"}
    props = res[logical]["Properties"]
    assert props["ImageUri"] == {"Ref": "TrainingImageUri"} and "Layers" not in props
    assert "TrainingImageUri" in sam["Parameters"]
    assert props["Role"] == res["APIHandler"]["Properties"]["Role"]
    assert (props["Environment"]["Variables"].keys()
            == res["APIHandler"]["Properties"]["Environment"]["Variables"].keys())
    assert res[f"{logical}InvokePermission"]["Properties"]["FunctionName"] == {"Ref": logical}
    zip_functions = [v for v in res.values() if v["Type"] == "AWS::Serverless::Function"
                     and v["Properties"].get("PackageType") != "Image"]
    assert zip_functions and all(f["Properties"]["Layers"] == [{"Ref": "DependenciesLayer"}]
                                 for f in zip_functions)


def test_the_image_writes_its_logs_under_the_api_role() -> None:
    cfg = Settings.from_env({"PAVER_STAGE": "dev"})
    doc = policy(cfg, "api_handler")
    logs = next(s for s in doc["Statement"] if s["Sid"] == "OwnLogs")
    assert any(f"paver-dev-{TRAINING_FUNCTION}:" in json.dumps(r) for r in logs["Resource"])


def test_a_renamed_training_route_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import app
    from infra import template

    monkeypatch.setattr(template, "TRAINING_ROUTES", TRAINING_ROUTES | {("POST", "/nope")})
    with pytest.raises(ValueError, match="/nope"):
        merge_template(app, Settings.from_env({"PAVER_STAGE": "dev"}))
