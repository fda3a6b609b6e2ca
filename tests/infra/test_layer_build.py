"""The layer build (layers/build.py): pip for Linux arm64 / CPython 3.11, no Docker, bytecode
for the runtime, and the same zip from two clones built by two interpreters (venvs)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from infra_support import ROOT


def load_build():
    spec = importlib.util.spec_from_file_location("tradeflow_layer_build", ROOT / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()


def test_pip_targets_lambda_arm64_cpython312_with_both_manylinux_tags(tmp_path: Path) -> None:
    command = build.pip_command(tmp_path, ["psycopg[binary]==3.3.9"])
    joined = " ".join(command)
    assert "--platform manylinux_2_28_aarch64" in joined and "--platform manylinux2014_aarch64" in joined
    for flag in ("--only-binary=:all:", f"--python-version {build.PYTHON_VERSION}", "--implementation cp", "--no-compile",
                 f"--target {tmp_path}"):
        assert flag in joined


def test_requirements_are_pinned_to_what_the_tests_run_against() -> None:
    from importlib import metadata

    pins = dict(r.split("==") for r in build.pinned_requirements() if "==" in r)
    assert pins["psycopg[binary]"] == metadata.version("psycopg")
    assert set(build.REQUIREMENTS) == {r.split("==")[0] for r in build.pinned_requirements()}


def test_the_layer_ships_every_runtime_dependency_but_boto3() -> None:
    """boto3 comes with the Lambda runtime; everything else pyproject.toml needs must be in the layer."""
    import re
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\[<>=~!; ]", d, maxsplit=1)[0].lower() for d in declared} - {"boto3"}
    assert names == {r.split("[", 1)[0].lower() for r in build.REQUIREMENTS}


def test_zip_is_deterministic(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "python" / "pkg").mkdir(parents=True)
    (root / "python" / "pkg" / "b.py").write_text("b = 2\n")
    (root / "python" / "pkg" / "a.py").write_text("a = 1\n")
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    build._zip(root, first)
    (root / "python" / "pkg" / "a.py").touch()  # a newer mtime changes nothing
    build._zip(root, second)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    assert zipfile.ZipFile(first).namelist() == ["python/pkg/a.py", "python/pkg/b.py"]


def venv_shim(where: Path) -> Path:
    """Another virtual environment over the running one's packages: its own interpreter path
    (what pip writes into console scripts and RECORD), the same installed versions."""
    (where / "bin").mkdir(parents=True)
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (where / "bin" / "python").symlink_to(base)
    (where / "pyvenv.cfg").write_text(f"home = {base.parent}\ninclude-system-site-packages = false\n")
    lib = where / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    lib.mkdir(parents=True)
    site = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_relative_to(sys.prefix))
    (lib / "site-packages").symlink_to(site)
    return where / "bin" / "python"


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    """The layer built from two clones of HEAD, each by its own interpreter path, in parallel:
    [(zip, build report)]."""
    tmp = tmp_path_factory.mktemp("clones")

    def one(n: int) -> tuple[Path, str]:
        clone = tmp / f"clone{n}"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        python = venv_shim(tmp / f"venv{n}")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        done = subprocess.run([str(python), "layers/build.py", str(tmp / f"out{n}")], cwd=clone, env=env,
                              check=True, capture_output=True, text=True)
        return tmp / f"out{n}" / build.LAYER_ZIP_NAME, done.stdout

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, (1, 2)))


@pytest.mark.slow
def test_two_clones_built_by_two_interpreters_make_the_same_zip(two_builds, capsys) -> None:
    (first, report), (second, _) = two_builds
    with capsys.disabled():
        print("\n" + report.strip())
    assert build.sha256(first) == build.sha256(second)
    assert f"sha256 {build.sha256(first)}" in report
    # nothing in the zip names where or by what it was built
    tmp = str(first.parents[1])
    with zipfile.ZipFile(first) as archive:
        for info in archive.infolist():
            assert tmp.encode() not in archive.read(info), info.filename


@pytest.mark.slow
def test_the_layer_ships_unchecked_hash_bytecode_for_the_runtime(two_builds) -> None:
    import importlib.util as iu

    zip_path, report = two_builds[0]
    tag = f"cpython-{build.PYTHON_VERSION.replace('.', '')}"
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        pyc = archive.read(f"python/tradeflow/__pycache__/names.{tag}.pyc")
        sources = [n for n in names if n.endswith(".py") and n.startswith("python/tradeflow/")]
        for source in sources:
            folder, module = source.rsplit("/", 1)
            assert f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc" in names, source
    assert build.can_compile(), "this test needs a build interpreter of the runtime's minor version"
    assert pyc[:4] == iu.MAGIC_NUMBER  # the runtime's bytecode format (same minor version as the build)
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, check_source off: PEP 552 unchecked
    assert "modules compiled for CPython" in report


@pytest.mark.slow
def test_real_layer_builds_for_arm64_without_docker(two_builds) -> None:
    # When the real layer is built (wheels from the package index)
    zip_path, report = two_builds[0]
    # Then it holds the package and its dependencies for arm64 / CPython 3.11, and nothing else
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        unzipped = sum(i.file_size for i in archive.infolist())
    abi = f"cpython-{build.PYTHON_VERSION.replace('.', '')}-aarch64-linux-gnu"
    assert "python/tradeflow/names.py" in names
    assert "python/tradeflow/adapters/migrations/0001_initial.sql" in names
    assert "python/tradeflow/adapters/rds-ca-bundle.pem" in names
    assert not [n for n in names if n.endswith(".pyo") or (n.endswith(".pyc") and "/__pycache__/" not in n)]
    assert not [n for n in names if n.startswith(("python/boto3/", "python/botocore/", "python/bin/"))]
    assert [n for n in names if n.startswith("python/psycopg_binary/") and n.endswith(f"{abi}.so")]
    assert [n for n in names if n.startswith("python/pydantic_core/") and abi in n]
    assert [n for n in names if n.startswith("python/aws_xray_sdk/")]
    # psycopg from the manylinux_2_28 wheels, not an old manylinux2014 fallback
    assert any(n.startswith("python/psycopg_binary-3.3") for n in names)
    assert unzipped < 250 * 2**20
    assert "zipped" in report and "MiB" in report
