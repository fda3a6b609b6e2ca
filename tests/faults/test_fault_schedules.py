"""Seeded fault schedules over the local stack, each checked against the fault-free run of the
same scenario (tests/faults/harness.py says what a scenario and a fault schedule are, and
:func:`~tests.faults.harness.compare` what is checked). 25 scenarios x 8 fault schedules;
the totals are printed at the end of the run ("fault schedules")."""

from __future__ import annotations

import pytest

from tests.faults.conftest import FIGURES, register
from tests.faults.harness import POSSIBLE_REPEAT, Faults, compare, run, scenario

SCENARIOS = 25
SCHEDULES_PER_SCENARIO = 8
_clean: dict[int, object] = {}
_registered: set[str] = set()


@pytest.mark.parametrize("seed", range(SCENARIOS * SCHEDULES_PER_SCENARIO))
def test_a_fault_schedule_loses_doubles_and_blocks_nothing(fault_stack, books_url, seed):
    stack, clock = fault_stack
    sc = scenario(seed // SCHEDULES_PER_SCENARIO)
    if sc.seed not in _clean:
        if sc.strategy_id not in _registered:
            register(stack, sc.strategy_id)
            _registered.add(sc.strategy_id)
        _clean[sc.seed] = run(stack, clock, books_url, sc, None)
    clean = _clean[sc.seed]
    faults = Faults.draw(seed)
    faulty = run(stack, clock, books_url, sc, faults)
    verdict = compare(clean, faulty)

    FIGURES["schedules"] += 1
    FIGURES["marked_repeats"] += sum(1 for m in faulty.published if m.startswith(POSSIBLE_REPEAT))
    FIGURES["unaccepted"] += faulty.unaccepted
    for name in ("accepted", "lost", "doubled", "stuck", "blocked", "sent_twice", "notifications_lost",
                 "ledger_differs", "rejected_valid", "poison_set_aside", "killed_fills"):
        FIGURES[name] += getattr(verdict, name)
    assert clean.dead_letters == 0 and not clean.books["orphans"] and not clean.books["blocked"]
    assert not verdict.bad(), f"{faults}\n" + "\n".join(verdict.problems)
