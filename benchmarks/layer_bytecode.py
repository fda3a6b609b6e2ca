"""Cold import of the webhook handler from the layer, with and without the layer's bytecode.

In Lambda ``/opt`` is read-only, so a layer without ``.pyc`` files makes every new sandbox
compile each module it imports. This builds the layer as layers/build.py does, but for this
machine's platform (the Lambda layer's wheels are arm64 and would not import here), unpacks it
twice, once as built (unchecked-hash pycs) and once with every ``__pycache__`` removed, and
times ``import handler`` (functions/webhook) in a fresh isolated interpreter that writes no
bytecode (``-I -B``), alternating the two, ``--runs`` times each. Prints the medians and their
ratio.

    python benchmarks/layer_bytecode.py [--runs 15]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK = ROOT / "functions" / "webhook"

TIMED_IMPORT = """
import sys, time
sys.path[:0] = [{layer!r}, {handler!r}]
start = time.perf_counter()
import handler
print(time.perf_counter() - start)
"""


def load_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tradeflow_layer_build", ROOT / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def local_platforms() -> tuple[str, ...]:
    machine = platform.machine()
    return (f"manylinux_2_28_{machine}", f"manylinux2014_{machine}")


def cold_import(layer: Path) -> float:
    """Seconds to import the webhook handler in a new interpreter, from ``layer``'s python/."""
    code = TIMED_IMPORT.format(layer=str(layer / "python"), handler=str(WEBHOOK))
    env = {"POWERTOOLS_SERVICE_NAME": "webhook", "POWERTOOLS_METRICS_NAMESPACE": "tradeflow",
           "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-I", "-B", "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15, help="imports timed per variant (default 15)")
    args = parser.parse_args(argv)
    build = load_builder()
    if not build.can_compile():
        print(f"needs Python {build.PYTHON_VERSION} (the runtime's) to compile the layer; this is {platform.python_version()}")
        return 2
    with tempfile.TemporaryDirectory(prefix="tradeflow-bench-") as tmp:
        tmp_path = Path(tmp)
        zip_path = build.build_layer(tmp_path / "zip", quiet=True, platforms=local_platforms())
        with_pyc, without_pyc = tmp_path / "with", tmp_path / "without"
        zipfile.ZipFile(zip_path).extractall(with_pyc)
        shutil.copytree(with_pyc, without_pyc)
        for cache in sorted(without_pyc.rglob("__pycache__")):
            shutil.rmtree(cache)
        pycs = sum(1 for _ in with_pyc.rglob("*.pyc"))
        cold_import(with_pyc), cold_import(without_pyc)  # warm the page cache for both trees
        timings: dict[str, list[float]] = {"with bytecode": [], "without bytecode": []}
        for _ in range(args.runs):
            timings["with bytecode"].append(cold_import(with_pyc))
            timings["without bytecode"].append(cold_import(without_pyc))
    print(f"webhook cold import from the layer ({pycs} pycs; Python {platform.python_version()}, "
          f"{platform.machine()}, {args.runs} runs each, alternating)")
    medians = {k: statistics.median(v) for k, v in timings.items()}
    for name, values in timings.items():
        print(f"  {name:17} median {medians[name] * 1000:7.1f} ms   (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")
    print(f"  without / with: {medians['without bytecode'] / medians['with bytecode']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
