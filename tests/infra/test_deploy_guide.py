"""docs/deploy.md and the README say what the commands and the stack really do: the outputs it
lists are the stack's, every `tradeflow` command and setting it uses exists and parses."""

from __future__ import annotations

import re
import shlex

import pytest
from infra_support import ROOT, Synth
from tradeflow.local import deploy_settings
from tradeflow.local.cli import parser

GUIDES = [ROOT / "docs" / "deploy.md", ROOT / "README.md"]


def code_lines() -> list[str]:
    """Every line inside a fenced code block of the guides, continuations joined."""
    lines = []
    for guide in GUIDES:
        text = re.sub(r"\\\n\s*", " ", guide.read_text())
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
            lines += [line.strip() for line in block.splitlines() if line.strip()]
    return lines


def test_the_outputs_the_guide_lists_are_the_stacks(synth: Synth) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    listed = set(re.findall(rf"^{synth.stack.artifact_id}\.(\w+) = ", guide, flags=re.M))
    assert listed == set(synth.template.to_json()["Outputs"])
    for key in re.findall(r"OutputKey=='(\w+)'", guide):
        assert key in listed
    assert "--stack-name tradeflow" in guide and synth.stack.stack_name == "tradeflow"


def test_every_tradeflow_command_in_the_guides_parses() -> None:
    commands = [line.split("#", 1)[0] for line in code_lines() if re.match(r"(\.venv/bin/)?tradeflow ", line)]
    assert any(c.startswith("tradeflow configure") for c in commands)
    for command in commands:
        argv = shlex.split(command.replace("<", "").replace(">", ""))[1:]
        if "--help" in argv:
            continue
        args = parser().parse_args(argv)  # an unknown command or option exits here
        if args.command == "configure":
            for pair in args.settings:
                key, _, value = pair.partition("=")
                deploy_settings.parse(key, value)
            for key in args.unset:
                assert key in deploy_settings.SETTINGS


def test_the_settings_table_and_every_flag_name_real_settings() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    table = set(re.findall(r"^\| `(\w+)`(?: / `(\w+)`)? \|", guide, flags=re.M))
    named = {k for pair in table for k in pair if k}
    assert named == set(deploy_settings.SETTINGS)
    for guide_path in [*GUIDES, ROOT / "docs" / "cost.md"]:
        for key in re.findall(r"tradeflow:(\w+)", guide_path.read_text()):
            assert key in deploy_settings.SETTINGS, (guide_path.name, key)


@pytest.mark.parametrize("line", [line for line in code_lines() if line.startswith("cdk ")])
def test_cdk_commands_in_the_guides_need_no_flag(line: str) -> None:
    # the settings live in the file; a guide that needed -c flags would drop them on the next deploy
    assert " -c " not in f" {line} ", line
