"""docs/settings.md is the one the settings model generates, and names every setting."""

from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local import settings_reference

from tests.conftest import repo


def test_every_setting_has_a_unit_and_an_example_that_the_model_accepts():
    assert set(settings_reference.UNITS) == set(StrategyConfig.model_fields)
    for name, (_unit, example) in settings_reference.UNITS.items():
        StrategyConfig.model_validate({name: example})  # raises for an example the model refuses


def test_the_committed_reference_is_current():
    committed = (repo() / "docs/settings.md").read_text()
    assert committed == settings_reference.render(), "run tradeflow settings-reference and commit docs/settings.md"
    for name in StrategyConfig.model_fields:
        assert f"| `{name}` |" in committed
