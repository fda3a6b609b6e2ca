"""Build the shared Lambda layer (the ``tradeflow`` package and its dependencies) without Docker.

pip downloads wheels built for the Lambda platform (Linux arm64, CPython 3.11) whatever the
machine running the build is, so a laptop or CI without Docker produces the same layer:

- ``--platform manylinux_2_28_aarch64`` *and* ``--platform manylinux2014_aarch64``: recent
  psycopg-binary (and others) only publish ``manylinux_2_28`` wheels; with the 2014 tag alone
  pip silently falls back to an old release that still had one.
- ``--only-binary=:all:``: never build an sdist here, it would be built for the wrong machine.
- ``--python-version 3.11 --implementation cp``: the Lambda runtime (``PYTHON_VERSION``; the
  CDK app's runtime is derived from it), not the running Python.
- Bytecode: ``/opt`` is read-only in Lambda, so without ``.pyc`` files each new sandbox compiles
  every module it imports. After the install (``--no-compile``) and the clean-up, every module is
  compiled with ``compileall`` into ``__pycache__`` as *unchecked-hash* pycs (PEP 552: valid
  whatever the files' timestamps, which the zip resets) with ``/opt/python`` as their recorded
  path. Bytecode is specific to a minor version, so this needs a build interpreter of
  ``PYTHON_VERSION``; another one builds the layer without bytecode and says so.
- Deterministic: sorted entries, fixed timestamps and modes, and each ``RECORD`` rewritten to
  list only the files shipped (pip records the console scripts it wrote, whose shebang holds
  the building interpreter's path), so two builds of one commit from two clones are the same
  zip with the same hash, and CDK publishes no new layer version.

Libraries that the Lambda Python runtime already ships (boto3, botocore and their own
dependencies) are removed after the install so the layer neither grows by ~25 MiB nor shadows
the runtime's SDK.

Usage: ``python layers/build.py [OUT_DIR]`` or ``tradeflow build-layer``; both print the zipped
and unzipped size and the zip's SHA-256.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE / "core" / "tradeflow"
DEFAULT_OUT_DIR = HERE.parent / "build" / "layer"
LAYER_ZIP_NAME = "tradeflow-layer.zip"

#: The Lambda runtime's Python (functions.RUNTIME follows it); bytecode needs a build interpreter
#: of the same minor version (docs/decisions.md).
PYTHON_VERSION = "3.11"
#: Where Lambda mounts the layer's python/ folder: the path recorded in the bytecode.
LAYER_MOUNT = "/opt/python"
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")

#: What the layer ships besides the tradeflow package (the tracer extra brings aws-xray-sdk).
REQUIREMENTS = (
    "aws-lambda-powertools[tracer]",
    "pydantic",
    "pydantic-settings",
    "psycopg[binary]",
    "holidays",
    "httpx",
)

#: Distributions that the Lambda Python runtime provides; removed from the layer after install.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

_STRIP_DIRS = {"__pycache__", "tests", "test"}
_STRIP_SUFFIXES = (".pyc", ".pyo")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pinned_requirements() -> list[str]:
    """``REQUIREMENTS`` pinned to the versions installed where the build runs, when installed.

    The layer then ships what the tests ran against; an environment without a package gets
    the newest release that has an arm64 wheel.
    """
    pins = []
    for requirement in REQUIREMENTS:
        name = requirement.split("[", 1)[0]
        try:
            pins.append(f"{requirement}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(requirement)
    return pins


def pip_command(target: Path, requirements: list[str], platforms: tuple[str, ...] = PLATFORMS) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(target), "--no-compile", "--only-binary=:all:"]
    for platform in platforms:
        command += ["--platform", platform]
    command += ["--python-version", PYTHON_VERSION, "--implementation", "cp"]
    return command + requirements


def _remove_runtime_provided(site: Path) -> list[str]:
    """Delete the files of every distribution in ``RUNTIME_PROVIDED`` (from its RECORD)."""
    removed = []
    for dist_info in sorted(site.glob("*.dist-info")):
        name = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if _canonical(name) not in RUNTIME_PROVIDED:
            continue
        record = dist_info / "RECORD"
        if record.exists():
            for line in record.read_text().splitlines():
                path = site / line.split(",", 1)[0]
                if path.is_file() and site in path.resolve().parents:
                    path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
        removed.append(_canonical(name))
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return removed


def _copy_package(site: Path) -> None:
    if not (PACKAGE_DIR / "names.py").exists():
        raise FileNotFoundError(f"tradeflow package not found at {PACKAGE_DIR}")
    shutil.copytree(
        PACKAGE_DIR,
        site / "tradeflow",
        ignore=shutil.ignore_patterns(*_STRIP_DIRS, *(f"*{s}" for s in _STRIP_SUFFIXES)),
    )


def _strip(site: Path) -> None:
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _STRIP_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in _STRIP_SUFFIXES:
            path.unlink()


def _rewrite_records(site: Path) -> None:
    """Keep in each ``*.dist-info/RECORD`` only the lines of files the layer ships (the console
    scripts in ``bin/`` are gone, and their hashes carried the building interpreter's path)."""
    for record in sorted(site.glob("*.dist-info/RECORD")):
        kept = []
        for line in record.read_text().splitlines():
            path = (site / line.split(",", 1)[0]).resolve()
            if path.is_file() and site.resolve() in path.parents:
                kept.append(line)
        record.write_text("".join(f"{line}\n" for line in kept))


def can_compile() -> bool:
    """Whether the running interpreter writes bytecode the Lambda runtime can use."""
    return f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON_VERSION


def _compile(site: Path) -> int:
    """Compile every module under ``site`` to unchecked-hash pycs recording ``LAYER_MOUNT``
    paths; returns how many pycs were written (modules that do not compile are skipped)."""
    compileall.compile_dir(
        str(site), ddir=LAYER_MOUNT, quiet=2, workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return sum(1 for _ in site.rglob("*.pyc"))


def _zip(root: Path, zip_path: Path) -> None:
    """Zip ``root``'s contents deterministically: sorted entries, fixed timestamps and modes."""
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = os.access(path, os.X_OK)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(zip_path)


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_layer(
    out_dir: Path | str = DEFAULT_OUT_DIR,
    *,
    quiet: bool = False,
    bytecode: bool = True,
    platforms: tuple[str, ...] = PLATFORMS,
) -> Path:
    """Build the layer zip in ``out_dir`` and return its path.

    The zip holds ``python/`` (Lambda puts ``/opt/python`` on ``sys.path``) with the
    dependencies for arm64/CPython ``PYTHON_VERSION`` and the ``tradeflow`` package, compiled
    to bytecode when ``bytecode`` and the build interpreter is of ``PYTHON_VERSION``.
    ``platforms`` other than Lambda's are for benchmarks on the build machine only.
    Raises ``subprocess.CalledProcessError`` if pip fails.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    zip_path = out_dir / LAYER_ZIP_NAME
    with tempfile.TemporaryDirectory(prefix="tradeflow-layer-") as tmp:
        root = Path(tmp)
        site = root / "python"
        subprocess.run(pip_command(site, pinned_requirements(), platforms), check=True)
        removed = _remove_runtime_provided(site)
        _copy_package(site)
        _strip(site)
        _rewrite_records(site)
        compiled = _compile(site) if bytecode and can_compile() else 0
        unzipped = _size(root)
        _zip(root, zip_path)
    if not quiet:
        print(f"layer: {zip_path}")
        print(f"  runtime-provided, not shipped: {', '.join(removed) or 'none'}")
        if compiled:
            print(f"  bytecode: {compiled} modules compiled for CPython {PYTHON_VERSION} (unchecked-hash pycs)")
        elif bytecode:
            print(f"  bytecode: none (this is Python {sys.version_info.major}.{sys.version_info.minor}; the runtime "
                  f"is {PYTHON_VERSION}): each cold start compiles what it imports")
        print(f"  zipped {mib(zip_path.stat().st_size)}, unzipped {mib(unzipped)}"
              " (Lambda limit: 250 MiB unzipped for function + layers)")
        print(f"  sha256 {sha256(zip_path)}")
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("out_dir", nargs="?", default=str(DEFAULT_OUT_DIR),
                        help=f"where to write {LAYER_ZIP_NAME} (default: build/layer)")
    args = parser.parse_args(argv)
    build_layer(args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
