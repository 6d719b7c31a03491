"""The layer build's logic (sizes, platforms, glibc, stripping, zipping) and its wiring into the
merge template, with small fakes: the real build downloads ~150 MB (`make layer`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from chalice import Chalice

from infra import layer
from infra.layer import MB, LayerError, Sizes, check_sizes
from infra.template import LAYER_LOGICAL_ID, RUNTIME, merge_template
from infra.training import TRAINING_ROUTES
from paver.config import Settings


def test_sizes_within_limits_pass_quietly() -> None:
    assert check_sizes(Sizes(200 * MB, 45 * MB, 5 * MB)) == []


def test_unzipped_over_250_mb_is_a_clear_error() -> None:
    with pytest.raises(LayerError, match=r"250 MB, this is 1\.0 MB over") as exc:
        check_sizes(Sizes(246 * MB, 60 * MB, 5 * MB))
    assert "function + layers unzipped" in str(exc.value)


def test_zip_over_50_mb_warns_for_s3_and_fails_for_direct_upload() -> None:
    sizes = Sizes(200 * MB, 51 * MB)
    [warning] = check_sizes(sizes)
    assert "50 MB" in warning and "S3" in warning
    with pytest.raises(LayerError, match="direct upload"):
        check_sizes(sizes, direct_upload=True)
    assert check_sizes(Sizes(200 * MB, 50 * MB), direct_upload=True) == []  # at the limit


def test_platform_tags_follow_the_runtime_glibc() -> None:
    tags = layer.pip_platforms(layer.RUNTIME_GLIBC["python3.12"])
    assert tags[0] == "manylinux_2_34_x86_64" and "manylinux_2_28_x86_64" in tags
    assert "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert "manylinux_2_35_x86_64" not in tags
    assert "manylinux_2_27_x86_64" not in layer.pip_platforms(layer.RUNTIME_GLIBC["python3.11"])
    cmd = layer.pip_install_command("py", Path("t"), Path("r.txt"), "python3.12")
    assert cmd[cmd.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in cmd and cmd.count("--platform") == len(tags)


def test_sdist_only_packages_are_split_off() -> None:
    wheels, sdists = layer.split_requirements(
        "# pinned\nboto3==1.0  # aws\ndurable-rules==2.0.28\nDurable_Rules==2\n\n-r other.txt\n"
        "numpy==2.4.6\n")
    assert wheels == ["boto3==1.0", "numpy==2.4.6"]
    assert sdists == ["durable-rules==2.0.28", "Durable_Rules==2"]


def test_glibc_requirement_is_read_from_symbol_versions() -> None:
    objdump = """
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) malloc
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.14) memcpy
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.28) fcntl64
"""
    assert layer.glibc_needed(objdump) == (2, 28)
    assert layer.glibc_needed("no versions") == (0, 0)


def test_check_glibc_names_the_offending_library(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ok.so").write_bytes(b"x")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "new.cpython-312-x86_64-linux-gnu.so").write_bytes(b"x")
    fake = {"ok.so": "(GLIBC_2.14)", "new.cpython-312-x86_64-linux-gnu.so": "(GLIBC_2.35)"}
    monkeypatch.setattr(layer, "_dynamic_symbols", lambda so: fake[so.name])
    with pytest.raises(LayerError, match=r"pkg/new.*GLIBC_2\.35.*build-<runtime>"):
        layer.check_glibc(tmp_path, (2, 34))
    assert layer.check_glibc(tmp_path, (2, 35))["ok.so"] == (2, 14)


def test_real_objdump_on_a_real_extension_if_available() -> None:
    import _socket  # a C extension of the running interpreter (or built in)
    import shutil

    path = getattr(_socket, "__file__", None)
    if not path or not (shutil.which("objdump") or shutil.which("readelf")):
        pytest.skip("no extension file or binutils")
    assert layer.glibc_needed(layer._dynamic_symbols(Path(path))) >= (2, 2)


def test_strip_zip_and_measure(tmp_path: Path) -> None:
    root = tmp_path / "layer"
    pkg = root / "python" / "pkg"
    for d in (pkg / "tests", pkg / "__pycache__", pkg / "sub" / "tests", pkg / "testing"):
        d.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (pkg / "tests" / "test_a.py").write_bytes(b"a" * 1000)
    (pkg / "__pycache__" / "m.cpython-312.pyc").write_bytes(b"b" * 100)
    (pkg / "sub" / "tests" / "big.bin").write_bytes(b"c" * 500)
    (pkg / "testing" / "__init__.py").write_text("# kept: numpy.testing is imported\n")
    freed = layer.strip_tree(root)
    assert freed == 1600
    kept = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert kept == ["python/pkg/__init__.py", "python/pkg/testing/__init__.py"]
    zsize = layer.zip_tree(root, tmp_path / "layer.zip")
    assert zsize == (tmp_path / "layer.zip").stat().st_size
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        assert sorted(zf.namelist()) == kept  # python/ at the top: Lambda's /opt/python
    assert layer.zip_unzipped_size(tmp_path / "layer.zip") == layer.tree_size(root)
    first = (tmp_path / "layer.zip").read_bytes()
    layer.zip_tree(root, tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == first  # reproducible


def test_serving_layer_leaves_the_training_libraries_out() -> None:
    reqs = ("numpy==2.4.6\nscipy==1.17.1  # sparse\nScikit_Learn==1.9.1\npandas==3.1.1\n"
            "# scipy is training's\npillow==13.0.0\n")
    kept = layer.without(reqs, layer.TRAINING)
    assert layer.split_requirements(kept)[0] == ["numpy==2.4.6", "pandas==3.1.1",
                                                 "pillow==13.0.0"]
    assert "# scipy is training's" in kept  # comments are not requirements
    assert layer.without(reqs, frozenset()).splitlines() == reqs.splitlines()


def test_here_installs_this_interpreters_wheels() -> None:
    """The offline measurement (bench/layer_size.py) asks pip for no foreign platform."""
    cmd = layer.pip_install_command("py", Path("t"), Path("r.txt"), "python3.12", here=True)
    assert "--platform" not in cmd and "--python-version" not in cmd
    assert cmd[cmd.index("--target") + 1] == "t" and "--only-binary=:all:" in cmd


def test_sizes_by_package_counts_vendored_libraries_with_their_package(tmp_path: Path) -> None:
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "core.so").write_bytes(b"n" * 300)
    (tmp_path / "numpy.libs").mkdir()
    (tmp_path / "numpy.libs" / "libopenblas.so").write_bytes(b"b" * 700)
    (tmp_path / "pillow.libs").mkdir()
    (tmp_path / "pillow.libs" / "libjpeg.so").write_bytes(b"j" * 50)
    (tmp_path / "PIL").mkdir()
    (tmp_path / "PIL" / "Image.py").write_bytes(b"i" * 20)
    (tmp_path / "numpy-2.4.6.dist-info").mkdir()
    (tmp_path / "numpy-2.4.6.dist-info" / "RECORD").write_bytes(b"r" * 5000)
    (tmp_path / "six.py").write_bytes(b"s" * 10)
    assert layer.sizes_by_package(tmp_path) == {"numpy": 1000, "PIL": 70, "six": 10}


def test_build_refuses_unknown_runtimes(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="unknown runtime"):
        layer.build(tmp_path, tmp_path / "r.txt", "python2.7")


def _fake_app() -> Chalice:
    app = Chalice(app_name="fake")

    @app.route("/")
    def index() -> dict:
        return {}

    for method, path in TRAINING_ROUTES:  # the stack routes these to the training image
        app.route(path, methods=[method], name=f"train{len(app.routes)}")(index)

    @app.lambda_function(name="direct")
    def direct(event: dict, context: object) -> dict:
        return {}

    @app.on_sqs_message(queue="paver-dev-rollout", name="worker")
    def worker(event: object) -> None:
        return None

    return app


def test_template_attaches_the_layer_to_every_function() -> None:
    cfg = Settings(stage="dev")
    res = merge_template(_fake_app(), cfg, "../layer.zip")["Resources"]
    lv = res[LAYER_LOGICAL_ID]
    assert lv["Type"] == "AWS::Serverless::LayerVersion"
    assert lv["Properties"]["ContentUri"] == "../layer.zip"
    assert lv["Properties"]["CompatibleRuntimes"] == [RUNTIME]
    for logical, name in (("APIHandler", "paver-dev-api_handler"), ("Direct", "paver-dev-direct"),
                          ("Worker", "paver-dev-worker")):
        props = res[logical]["Properties"]
        assert props["Layers"] == [{"Ref": LAYER_LOGICAL_ID}]
        assert props["Runtime"] == RUNTIME and props["FunctionName"] == name
        assert res[f"{logical}LogGroup"]["Properties"]["LogGroupName"] == f"/aws/lambda/{name}"
    # the worker's event-source patch and the function properties merge, not overwrite
    assert "Events" in res["Worker"]["Properties"]
    assert LAYER_LOGICAL_ID not in merge_template(_fake_app(), cfg)["Resources"]


def test_layer_runtime_is_one_the_build_knows() -> None:
    assert RUNTIME in layer.RUNTIME_GLIBC
    assert layer.python_version(RUNTIME) == RUNTIME.removeprefix("python")
