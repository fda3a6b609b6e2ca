"""cdk-nag 3.x wiring: the AwsSolutions pack runs as a CDK policy-validation plugin, and each
finding that is accepted is acknowledged on the construct it concerns, with its reason.

cdk-nag 3 replaced 2.x's ``Aspects.of(app).add(AwsSolutionsChecks())`` and ``NagSuppressions``
with CDK's own validation API: ``Validations.of(app).add_plugins(AwsSolutionsChecks(app))`` and
``Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))``, one
acknowledgment per finding id (``AwsSolutions-IAM5[Resource::*]``, not ``AwsSolutions-IAM5``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept finding ``rule_id`` on ``scope`` and everything under it, for ``reason``."""
    if len(reason) < 40:
        raise ValueError(f"say why {rule_id} is acceptable (a sentence, not {reason!r})")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def add_checks(app: App) -> AwsSolutionsChecks:
    """Run the AwsSolutions pack over ``app`` at synth; any unacknowledged finding fails it."""
    checks = AwsSolutionsChecks(app, verbose=True)
    Validations.of(app).add_plugins(checks)
    return checks
