"""Build the Lambda layer that carries Paver's pinned dependencies (``make layer``).

``python -m infra.layer --out build`` installs ``requirements.txt`` for Lambda's Linux into
``build/layer/python`` (binary wheels only, for the runtime's CPython and glibc), builds the
sdist-only packages (durable-rules) with a local interpreter of the runtime's version and checks
that their extension modules need no newer glibc than the runtime has, strips tests and
bytecode, zips it to ``build/layer.zip`` and checks the sizes against Lambda's limits. It
downloads ~150 MB, so it never runs in the test suite; ``tests/unit/test_layer.py`` covers the
logic with small fakes.

The runtime is ``infra.template.RUNTIME`` (python3.12 on Amazon Linux 2023, glibc 2.34): the
pinned numpy/scipy/scikit-learn/pandas/pillow/zxing-cpp wheels need glibc 2.27–2.28, more than
python3.11's Amazon Linux 2 (glibc 2.26) has.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.template import RUNTIME

MB = 1024 * 1024
#: Function code + all its layers, unzipped.
UNZIPPED_LIMIT = 250 * MB
#: A zip uploaded directly with the API call (through S3, as ``sam deploy`` does, the
#: unzipped limit is what counts).
DIRECT_UPLOAD_LIMIT = 50 * MB
#: glibc of the Amazon Linux under each Lambda Python runtime.
RUNTIME_GLIBC: dict[str, tuple[int, int]] = {
    "python3.11": (2, 26),  # Amazon Linux 2
    "python3.12": (2, 34),  # Amazon Linux 2023
    "python3.13": (2, 34),
}
#: Packages PyPI has only as sdists: built locally, then checked (see ``build_sdists``).
SDIST_ONLY = frozenset({"durable-rules"})
#: Libraries only training needs (k-means of the knowledge base, sparse batch relation
#: features, trust model fitting): the serving layer every zip function gets leaves them out
#: (``--serving``, what ``make layer`` builds); the training routes run in a container image
#: with everything (``infra.training``). ``bench/layer_size.py`` measures both.
TRAINING = frozenset({"scipy", "scikit-learn"})
#: The top-level module of a distribution whose name differs (for the smoke imports).
_MODULE_OF = {"scikit-learn": "sklearn"}
#: Directory names dropped from the layer (never imported at run time).
STRIP_DIRS = frozenset({"__pycache__", "tests", "test"})
STRIP_SUFFIXES = (".pyc", ".pyo", ".pyx", ".pxd", ".c", ".cpp", ".h")
#: The AWS SDK every Lambda Python runtime already ships (on sys.path after /opt/python):
#: dropped from the layer by default (~27 MB) to fit 250 MB; ``--keep-sdk`` keeps the pins.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
#: Imported once against the built layer by ``--smoke`` (with the runtime's interpreter).
SMOKE_IMPORTS = ("numpy", "scipy.sparse", "scipy.spatial", "sklearn.ensemble",
                 "sklearn.cluster", "pandas", "durable.lang", "zxingcpp", "PIL.Image",
                 "pillow_heif", "pydantic", "pydantic_core", "qrcode", "yaml", "jwt", "stdnum",
                 "piexif", "resvg_py")


class LayerError(RuntimeError):
    """The layer cannot be built, or would not fit or not run on Lambda."""


@dataclass(frozen=True)
class Sizes:
    layer_unzipped: int
    layer_zipped: int
    function_unzipped: int = 0

    @property
    def total_unzipped(self) -> int:
        return self.layer_unzipped + self.function_unzipped

    def summary(self) -> str:
        return (f"layer {self.layer_unzipped / MB:.1f} MB unzipped, "
                f"{self.layer_zipped / MB:.1f} MB zipped; function code "
                f"{self.function_unzipped / MB:.1f} MB; total unzipped "
                f"{self.total_unzipped / MB:.1f} of {UNZIPPED_LIMIT / MB:.0f} MB")


def check_sizes(sizes: Sizes, *, direct_upload: bool = False) -> list[str]:
    """Raise :class:`LayerError` when Lambda would refuse the layer; return warnings."""
    if sizes.total_unzipped > UNZIPPED_LIMIT:
        over = (sizes.total_unzipped - UNZIPPED_LIMIT) / MB
        raise LayerError(
            f"too large for Lambda: function + layers unzipped must stay within "
            f"{UNZIPPED_LIMIT / MB:.0f} MB, this is {over:.1f} MB over ({sizes.summary()}). "
            "Drop a dependency, split the heavy ones into a function of their own, or ship a "
            "container image (10 GB limit).")
    warnings = []
    if sizes.layer_zipped > DIRECT_UPLOAD_LIMIT:
        msg = (f"layer zip is {sizes.layer_zipped / MB:.1f} MB, above the "
               f"{DIRECT_UPLOAD_LIMIT / MB:.0f} MB limit for a direct upload")
        if direct_upload:
            raise LayerError(msg + ": upload it through S3 (sam deploy --s3-bucket / "
                                   "--resolve-s3 does).")
        warnings.append(msg + "; deploy it through S3 (sam deploy does).")
    return warnings


def pip_platforms(glibc: tuple[int, int], arch: str = "x86_64") -> list[str]:
    """``--platform`` values for every manylinux tag a system with ``glibc`` can run (pip
    does not expand ``manylinux_2_X`` to older tags by itself)."""
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def python_version(runtime: str) -> str:
    m = re.fullmatch(r"python(\d+\.\d+)", runtime)
    if not m:
        raise LayerError(f"not a Lambda Python runtime: {runtime!r}")
    return m.group(1)


def _req_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    return re.split(r"[\s=<>!~\[;]", line, maxsplit=1)[0].lower().replace("_", "-")


def split_requirements(text: str) -> tuple[list[str], list[str]]:
    """(wheel requirements, sdist-only requirements) of a requirements file."""
    wheels, sdists = [], []
    for raw in text.splitlines():
        name = _req_name(raw)
        if name is None:
            continue
        (sdists if name in SDIST_ONLY else wheels).append(raw.split("#", 1)[0].strip())
    return wheels, sdists


def without(requirements: str, names: frozenset[str]) -> str:
    """``requirements`` (a requirements file's text) less the lines naming ``names``."""
    kept = [line for line in requirements.splitlines() if _req_name(line) not in names]
    return "\n".join(kept) + "\n"


def pip_install_command(python: str, target: Path, requirements: Path, runtime: str, *,
                        here: bool = False) -> list[str]:
    """pip's command line for the runtime's wheels (``here``: this interpreter's own wheels,
    what an offline mirror holds; their sizes stand in for the runtime's, see
    :func:`build`)."""
    cmd = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", str(target), "--only-binary=:all:", "--upgrade", "-r", str(requirements)]
    if here:
        return cmd
    cmd += ["--implementation", "cp", "--python-version", python_version(runtime)]
    for tag in pip_platforms(RUNTIME_GLIBC[runtime]):
        cmd += ["--platform", tag]
    return cmd


_GLIBC_RE = re.compile(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?")


def glibc_needed(dynamic_symbols: str) -> tuple[int, int]:
    """Highest ``GLIBC_x.y`` symbol version in ``objdump -T`` / ``readelf -V`` output."""
    found = [(int(a), int(b)) for a, b in _GLIBC_RE.findall(dynamic_symbols)]
    return max(found, default=(0, 0))


def _dynamic_symbols(so: Path) -> str:
    for tool in (["objdump", "-T"], ["readelf", "-V", "--wide"]):
        if shutil.which(tool[0]):
            return subprocess.run([*tool, str(so)], capture_output=True, text=True,
                                  check=False).stdout
    raise LayerError("neither objdump nor readelf found (install binutils)")


def check_glibc(root: Path, glibc: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Every shared object under ``root`` and the glibc it needs; raise if any needs more."""
    needs = {str(so.relative_to(root)): glibc_needed(_dynamic_symbols(so))
             for so in sorted(root.rglob("*.so*")) if so.is_file()}
    too_new = {k: v for k, v in needs.items() if v > glibc}
    if too_new:
        listed = ", ".join(f"{k} (GLIBC_{v[0]}.{v[1]})" for k, v in sorted(too_new.items()))
        raise LayerError(f"needs a newer glibc than the runtime's {glibc[0]}.{glibc[1]}: "
                         f"{listed}. Build in the Lambda build image instead "
                         "(public.ecr.aws/sam/build-<runtime>).")
    return needs


def find_python(version: str) -> str:
    """An interpreter of ``version`` on this machine (to compile the sdist-only packages)."""
    if sys.version_info[:2] == tuple(int(x) for x in version.split(".")):
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    for c in candidates:
        if c and subprocess.run([str(c), "-c", "import sys"], capture_output=True,
                                check=False).returncode == 0:
            return str(c)
    raise LayerError(f"no python{version} here to build {', '.join(sorted(SDIST_ONLY))}: "
                     f"install it, or build in public.ecr.aws/sam/build-python{version}")


def build_sdists(reqs: list[str], target: Path, work: Path, runtime: str) -> None:
    """Compile sdist-only packages with the runtime's Python version and install the wheels
    into ``target``; their shared objects are then checked by :func:`check_glibc`."""
    if not reqs:
        return
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        raise LayerError("sdist-only packages must be compiled on x86_64 Linux: build in "
                         f"public.ecr.aws/sam/build-{runtime}")
    python = find_python(python_version(runtime))
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    run = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--no-binary=:all:", "-w", str(wheels), *reqs]
    _run(run, "compiling " + ", ".join(reqs))
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-deps", "--upgrade", "--target", str(target),
          *map(str, sorted(wheels.glob("*.whl")))], "installing the compiled wheels")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LayerError(f"{what} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def strip_tree(root: Path) -> int:
    """Delete test directories, bytecode caches and compiled bytecode; return bytes freed."""
    freed = 0
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in STRIP_DIRS and not path.is_symlink():
            freed += tree_size(path)
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(STRIP_SUFFIXES):
            freed += path.stat().st_size
            path.unlink()
    return freed


def drop_packages(root: Path, names: tuple[str, ...]) -> int:
    """Remove top-level packages (and their ``.dist-info``) from an install target."""
    freed = 0
    for name in names:
        for path in [root / name, *root.glob(f"{name}-*.dist-info")]:
            if path.is_dir():
                freed += tree_size(path)
                shutil.rmtree(path)
    return freed


def strip_shared_objects(root: Path) -> int:
    """``strip --strip-unneeded`` the extension modules (debug symbols); return bytes freed.

    The libraries auditwheel vendored into ``<pkg>.libs/`` are left alone: patchelf rewrote
    them, and strip breaks such files ("ELF load command address/offset not page-aligned").
    :func:`smoke` then loads every shared object to prove nothing broke.
    """
    if not shutil.which("strip"):
        return 0
    before = tree_size(root)
    for so in sorted(root.rglob("*.so*")):
        if any(part.endswith(".libs") for part in so.relative_to(root).parts):
            continue
        if so.is_file() and not so.is_symlink():
            subprocess.run(["strip", "--strip-unneeded", str(so)], capture_output=True,
                           check=False)
    return before - tree_size(root)


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def sizes_by_package(target: Path) -> dict[str, int]:
    """Bytes per importable package of an install target, largest first: a package counts
    with its ``<name>.libs`` (the shared libraries its wheel vendors) and its single-file
    modules; metadata (``*.dist-info``) is left out."""
    sizes: dict[str, int] = {}
    for path in target.iterdir():
        if path.name.endswith(".dist-info"):
            continue
        name = path.name.removesuffix(".libs").removesuffix(".py").split(".")[0]
        name = {"pillow": "PIL", "scikit_learn": "sklearn"}.get(name, name)
        size = tree_size(path) if path.is_dir() else path.stat().st_size
        sizes[name] = sizes.get(name, 0) + size
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def zip_tree(root: Path, zip_path: Path) -> int:
    """Zip ``root``'s contents (``python/...`` at the top) reproducibly; return the zip size."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return zip_path.stat().st_size


def zip_unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as zf:
        return sum(i.file_size for i in zf.infolist())


def smoke(layer_python: Path, runtime: str, leave_out: frozenset[str] = frozenset()) -> None:
    """Import the heavy modules from the built layer with the runtime's interpreter, then
    dlopen every shared object in it (a library broken by stripping fails here, not on
    Lambda)."""
    python = find_python(python_version(runtime))
    left = {_MODULE_OF.get(name, name) for name in leave_out}
    imports = tuple(m for m in SMOKE_IMPORTS if m.split(".")[0] not in left)
    code = ("import ctypes, importlib, pathlib, sys\n"
            f"root = {str(layer_python)!r}\n"
            "sys.path.insert(0, root)\n"
            f"for m in {imports!r}:\n"
            "    mod = importlib.import_module(m)\n"
            "    assert mod.__file__.startswith(root), (m, mod.__file__)\n"
            "bad = []\n"
            "for so in sorted(pathlib.Path(root).rglob('*.so*')):\n"
            "    try:\n"
            "        ctypes.CDLL(str(so))\n"
            "    except OSError as exc:\n"
            "        bad.append(f'{so}: {exc}')\n"
            "assert not bad, '\\n'.join(bad)\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # /opt is read-only on Lambda: no .pyc there
    proc = subprocess.run([python, "-I", "-B", "-c", code], capture_output=True, text=True,
                          check=False, env=env)
    if proc.returncode != 0:
        raise LayerError(f"the layer does not import on {python}:\n{proc.stderr[-3000:]}")


def build(out: Path, requirements: Path, runtime: str = RUNTIME, *,
          function_zip: Path | None = None, direct_upload: bool = False,
          run_smoke: bool = False, keep_sdk: bool = False, here: bool = False,
          leave_out: frozenset[str] = frozenset()) -> dict[str, object]:
    """Build ``out/layer.zip``; return its sizes (raises :class:`LayerError`).

    ``here`` installs this interpreter's wheels instead of the runtime's (an offline mirror
    holds only those): the layer then does not run on Lambda, but its size is the runtime's
    within a few per cent (same packages and versions, same vendored libraries), which is what
    ``bench/layer_size.py`` measures. ``leave_out``: requirement names not to install (the
    serving layer leaves out :data:`TRAINING`).
    """
    if runtime not in RUNTIME_GLIBC:
        raise LayerError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIME_GLIBC)}")
    work = out / "layer"
    target = work / "python"
    shutil.rmtree(work, ignore_errors=True)
    target.mkdir(parents=True)
    wheel_reqs, sdist_reqs = split_requirements(
        without(requirements.read_text(encoding="utf-8"), leave_out))
    filtered = out / "layer-requirements.txt"
    filtered.write_text("\n".join(wheel_reqs) + "\n", encoding="utf-8")
    _run(pip_install_command(sys.executable, target, filtered, runtime, here=here),
         f"pip install for {runtime} (manylinux, glibc <= {RUNTIME_GLIBC[runtime]})")
    build_sdists(sdist_reqs, target, out / "layer-build",
                 f"python{sys.version_info[0]}.{sys.version_info[1]}" if here else runtime)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: unused on Lambda
    freed = strip_tree(target)
    if not keep_sdk:
        freed += drop_packages(target, RUNTIME_PROVIDED)
    freed += strip_shared_objects(target)
    glibc = check_glibc(target, RUNTIME_GLIBC[runtime])
    if run_smoke:
        smoke(target, runtime, leave_out)
    zip_path = out / "layer.zip"
    zipped = zip_tree(work, zip_path)
    function_zip = function_zip or out / "sam" / "deployment.zip"
    sizes = Sizes(layer_unzipped=tree_size(target), layer_zipped=zipped,
                  function_unzipped=zip_unzipped_size(function_zip)
                  if function_zip.is_file() else 0)
    warnings = check_sizes(sizes, direct_upload=direct_upload)
    return {"zip": str(zip_path), "runtime": runtime, "summary": sizes.summary(),
            "layer_unzipped_bytes": sizes.layer_unzipped, "layer_zipped_bytes": zipped,
            "function_unzipped_bytes": sizes.function_unzipped, "stripped_bytes": freed,
            "max_glibc_needed": ".".join(map(str, max(glibc.values(), default=(0, 0)))),
            "packages_bytes": sizes_by_package(target),
            "warnings": warnings}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.layer", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("build"))
    p.add_argument("--requirements", type=Path, default=Path("requirements.txt"))
    p.add_argument("--runtime", default=RUNTIME, choices=sorted(RUNTIME_GLIBC))
    p.add_argument("--direct-upload", action="store_true",
                   help="fail (not warn) when the zip is too big for a direct upload")
    p.add_argument("--keep-sdk", action="store_true",
                   help="keep the pinned boto3/botocore instead of the runtime's")
    p.add_argument("--serving", action="store_true",
                   help="leave out the training libraries (infra.layer.TRAINING)")
    p.add_argument("--no-smoke", action="store_true",
                   help="skip importing the heavy modules from the built layer")
    args = p.parse_args(argv)
    try:
        result = build(args.out.resolve(), args.requirements, args.runtime,
                       direct_upload=args.direct_upload, run_smoke=not args.no_smoke,
                       keep_sdk=args.keep_sdk,
                       leave_out=TRAINING if args.serving else frozenset())
    except LayerError as exc:
        print(f"layer: {exc}", file=sys.stderr)
        return 1
    for w in result["warnings"]:  # type: ignore[union-attr]
        print(f"layer: warning: {w}", file=sys.stderr)
    import json

    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
