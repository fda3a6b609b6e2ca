"""Synthesis helpers shared by the infra tests (imported by conftest.py and test modules)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "cdk", ROOT / "layers" / "core"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")  # cosmetic: jsii warns on old node

from aws_cdk.assertions import Template  # noqa: E402
from tradeflow_cdk import build_app  # noqa: E402

#: The documentation account; cdk.json carries its us-east-1 availability zones.
ACCOUNT, REGION = "123456789012", "us-east-1"


def cdk_context(**overrides: object) -> dict:
    """cdk.json's context plus the test pinning and ``overrides`` (keys without the prefix)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context |= {"tradeflow:account": ACCOUNT, "tradeflow:region": REGION}
    context |= {f"tradeflow:{k}": v for k, v in overrides.items()}
    return context


@dataclass
class Synth:
    """One synthesis: the stack, its template, and cdk-nag's verdict (None when clean)."""

    app: object
    stack: object
    template: Template
    resources: dict
    validation_error: str | None
    outdir: Path


def synthesise(outdir: Path, layer: Path, **overrides: object) -> Synth:
    """Synthesise into ``outdir`` with cdk-nag; a validation failure is recorded, not raised."""
    overrides.setdefault("settings_file", str(outdir / "tradeflow.deploy.json"))
    app, stack = build_app(cdk_context(layer_path=str(layer), **overrides), outdir=str(outdir))
    error = None
    try:
        app.synth()
    except Exception as exc:  # jsii surfaces the validation failure as a plain error
        error = str(exc)
    template_json = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    return Synth(app, stack, Template.from_json(template_json), template_json["Resources"], error, outdir)
