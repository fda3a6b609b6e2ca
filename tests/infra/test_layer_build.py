"""The layer build (layers/build.py): pip for Linux arm64 / CPython 3.12, no Docker."""

from __future__ import annotations

import hashlib
import importlib.util
import zipfile
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
    for flag in ("--only-binary=:all:", "--python-version 3.12", "--implementation cp", "--no-compile",
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


@pytest.mark.slow
def test_real_layer_builds_for_arm64_without_docker(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # When the real layer is built (wheels from the package index)
    zip_path = build.build_layer(tmp_path)
    report = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + report.strip())
    # Then it holds the package and its dependencies for arm64 / CPython 3.12, and nothing else
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        unzipped = sum(i.file_size for i in archive.infolist())
    assert "python/tradeflow/names.py" in names
    assert "python/tradeflow/adapters/migrations/0001_initial.sql" in names
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    assert not [n for n in names if n.startswith(("python/boto3/", "python/botocore/", "python/bin/"))]
    assert [n for n in names if n.startswith("python/psycopg_binary/") and n.endswith("cpython-312-aarch64-linux-gnu.so")]
    assert [n for n in names if n.startswith("python/pydantic_core/") and "cpython-312-aarch64-linux-gnu" in n]
    assert [n for n in names if n.startswith("python/aws_xray_sdk/")]
    # psycopg from the manylinux_2_28 wheels, not an old manylinux2014 fallback
    assert any(n.startswith("python/psycopg_binary-3.3") for n in names)
    assert unzipped < 250 * 2**20
    assert "zipped" in report and "MiB" in report
