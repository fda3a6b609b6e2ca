"""Where the app finds the code it deploys, whatever the working directory."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core"
FUNCTIONS = ROOT / "functions"
MIGRATOR = ROOT / "cdk" / "migrator"
DEFAULT_LAYER_ZIP = ROOT / "build" / "layer" / "tradeflow-layer.zip"



@cache
def layer_builder() -> ModuleType:
    """layers/build.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("tradeflow_layer_build", ROOT / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module
