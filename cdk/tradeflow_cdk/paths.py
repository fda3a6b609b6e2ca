"""Where the app finds the code it deploys, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core"
FUNCTIONS = ROOT / "functions"
MIGRATOR = ROOT / "cdk" / "migrator"
DEFAULT_LAYER_ZIP = ROOT / "build" / "layer" / "tradeflow-layer.zip"

