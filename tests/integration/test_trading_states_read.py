"""The account's and a strategy's trading states read in one statement agree with reading
each scope on its own, whichever are set (and another strategy's state never leaks in)."""

from __future__ import annotations

import itertools

from tradeflow.adapters import store
from tradeflow.domain.risk.states import TradingState

from tests.conftest import START


def test_one_read_of_both_states_matches_a_read_of_each_scope(conn):
    store.set_trading_state(conn, "other", TradingState.HALTED, "test", "another strategy's halt", START)
    states = [None, *TradingState]
    for n, (account, own) in enumerate(itertools.product(states, states)):
        strategy_id = f"s{n}"  # never set before: unset means ACTIVE with no reason
        if account is not None:
            store.set_trading_state(conn, "account", account, "test", f"account {n}", START)
        if own is not None:
            store.set_trading_state(conn, strategy_id, own, "test", f"own {n}", START)
        both = store.account_and_strategy_states(conn, strategy_id)
        assert both == (store.trading_state(conn, "account"), store.trading_state(conn, strategy_id))
        if own in (None, TradingState.ACTIVE):  # setting ACTIVE on a fresh scope changes (and explains) nothing
            assert both[1] == (TradingState.ACTIVE, None)
        else:
            assert both[1] == (own, f"own {n}")
