"""The guardian's rules (domain/risk): every gate passing and refusing, the breakers at their
thresholds, and a hypothesis state machine over random fills, marks, signals and clock moves
against books kept here (cash + shares at each mark), independently of the pipeline."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tradeflow.domain import calendar, ledger
from tradeflow.domain.risk import RiskSnapshot, TradingState, breakers, decide, gates
from tradeflow.domain.risk.states import allows, stricter
from tradeflow.domain.strategy import StopLossGuard, StrategyConfig

# Tuesday 5 March 2024, 10:30 New York (15:30 UTC): a regular session
NOW = datetime(2024, 3, 5, 15, 30, tzinfo=UTC)


def sig(intent="enter_long", at=NOW, symbol="AAPL"):
    return gates.Signal(intent, symbol, at)


def test_states_order_and_what_they_allow():
    assert stricter(TradingState.ACTIVE, TradingState.REDUCING) is TradingState.REDUCING
    assert stricter(TradingState.HALTED, TradingState.REDUCING) is TradingState.HALTED
    assert [allows(s, True) for s in TradingState] == [True, False, False]
    assert [allows(s, False) for s in TradingState] == [True, True, False]
    with pytest.raises(ValueError, match="use ACTIVE, REDUCING or HALTED"):
        TradingState.parse("stopped")


@pytest.mark.parametrize("gate, config, snap, signal, refusal", [
    (gates.trading_state, StrategyConfig(), RiskSnapshot(strategy_state=TradingState.REDUCING), sig(),
     "strategy is REDUCING"),
    (gates.trading_state, StrategyConfig(), RiskSnapshot(strategy_state=TradingState.REDUCING), sig("exit"), None),
    (gates.trading_state, StrategyConfig(), RiskSnapshot(account_state=TradingState.HALTED), sig("exit"),
     "account is HALTED"),
    (gates.breaker_trips, StrategyConfig(), RiskSnapshot(trips=(breakers.Trip(
        "daily_loss", "s", "k", TradingState.REDUCING, NOW + timedelta(seconds=1), "daily loss limit: x"),)),
     sig(), "daily loss limit: x"),
    (gates.breaker_trips, StrategyConfig(), RiskSnapshot(trips=(breakers.Trip(
        "daily_loss", "s", "k", TradingState.REDUCING, NOW, "daily loss limit: x"),)), sig(), None),
    (gates.breaker_trips, StrategyConfig(), RiskSnapshot(trips=(breakers.Trip(
        "position_loss", "s", "k", TradingState.REDUCING, None, "MSFT lost", "MSFT"),)), sig(), None),
    (gates.dedupe, StrategyConfig(dedupe_window_seconds=60), RiskSnapshot(last_same_signal_at=NOW - timedelta(
        seconds=59)), sig(), "duplicate"),
    (gates.market_hours, StrategyConfig(market_hours="refuse"), RiskSnapshot(),
     sig(at=datetime(2024, 3, 9, 8, 0, tzinfo=UTC)), "market closed at Sat 2024-03-09 03:00"),
    (gates.market_hours, StrategyConfig(market_hours="hold"), RiskSnapshot(),
     sig(at=datetime(2024, 3, 9, 8, 0, tzinfo=UTC)), None),
    (gates.trading_window, StrategyConfig(trading_windows={"tue": ["09:45-15:45"]}), RiskSnapshot(),
     sig(at=NOW.replace(hour=14, minute=44)), "outside the trading windows at Tue 09:44"),
    (gates.trading_window, StrategyConfig(trading_windows={"tue": ["09:45-15:45"]}), RiskSnapshot(),
     sig("exit", at=NOW.replace(hour=14, minute=44)), None),
    (gates.trading_window, StrategyConfig(trading_windows={"tue": ["09:45-15:45"]}), RiskSnapshot(),
     sig(at=NOW.replace(hour=14, minute=45)), None),
    (gates.cooldowns, StrategyConfig(cooldown_after_exit_minutes=30), RiskSnapshot(
        last_exit_at={"AAPL": NOW - timedelta(minutes=29)}), sig(), "cooling down after an exit"),
    (gates.cooldowns, StrategyConfig(cooldown_after_loss_minutes=30), RiskSnapshot(
        last_losing_exit_at={"AAPL": NOW - timedelta(minutes=30)}), sig(), None),
    (gates.session_entries, StrategyConfig(max_entries_per_session=3), RiskSnapshot(entries_this_session=3), sig(),
     "max entries per session reached (3)"),
    (gates.order_rate, StrategyConfig(max_orders_per_minute=2), RiskSnapshot(orders_last_minute=2), sig("exit"),
     "max orders per minute reached (2)"),
    (gates.order_rate, StrategyConfig(max_orders_per_minute=2), RiskSnapshot(orders_last_minute=2), sig("cancel"),
     None),
    (gates.positions, StrategyConfig(), RiskSnapshot(), sig("reduce"), "no open position in AAPL to reduce"),
])
def test_each_gate_passes_or_names_its_reason(gate, config, snap, signal, refusal):
    reason = gate(signal, config, snap)
    assert (reason is None) if refusal is None else (refusal in reason)


def test_the_first_refusal_wins_and_names_its_gate():
    snap = RiskSnapshot(strategy_state=TradingState.REDUCING, entries_this_session=9)
    decided = decide("enter_long", "AAPL", StrategyConfig(max_entries_per_session=1), snap, NOW)
    assert (decided.approved, decided.gate) == (False, "trading_state")


@pytest.mark.parametrize("limit, pct, loss, trips", [
    (Decimal(1000), None, Decimal("999.99"), False), (Decimal(1000), None, Decimal(1000), True),
    (None, Decimal(2), Decimal(1999), False), (None, Decimal(2), Decimal(2000), True),
    (Decimal(5000), Decimal(1), Decimal(1000), True),  # the smaller limit of the two
])
def test_daily_loss_trips_at_the_limit_not_before(limit, pct, loss, trips):
    config = StrategyConfig(daily_loss_limit=limit, daily_loss_limit_pct=pct)
    trip = breakers.daily_loss(config, "s", Decimal(100_000), Decimal(100_000) - loss, NOW)
    assert (trip is not None) is trips
    if trip:  # REDUCING until the next session's open, keyed by the trading day
        assert (trip.state, trip.until, trip.key) == (TradingState.REDUCING, datetime(2024, 3, 6, 14, 30, tzinfo=UTC),
                                                      "daily_loss:2024-03-05")


def test_sessions_come_from_the_calendar():
    friday_evening = datetime(2024, 3, 8, 23, 0, tzinfo=UTC)
    assert calendar.last_session_open(friday_evening) == datetime(2024, 3, 8, 14, 30, tzinfo=UTC)
    assert calendar.next_session_open(friday_evening) == datetime(2024, 3, 11, 13, 30, tzinfo=UTC)  # DST began
    assert calendar.next_session_open(datetime(2024, 3, 28, 21, 0, tzinfo=UTC)) == \
        datetime(2024, 4, 1, 13, 30, tzinfo=UTC)  # Good Friday
    config = StrategyConfig(flatten_at="15:45")
    assert breakers.flatten_time(config, date(2024, 3, 5)) == datetime(2024, 3, 5, 20, 45, tzinfo=UTC)
    assert calendar.is_half_day(date(2024, 11, 29))
    assert breakers.flatten_time(config, date(2024, 11, 29)) == datetime(2024, 11, 29, 17, 45, tzinfo=UTC)  # 12:45
    assert breakers.flatten_time(config, date(2024, 3, 9)) is None


def test_stop_loss_guard_counts_the_window_and_cools_down():
    config = StrategyConfig(stop_loss_guard=StopLossGuard(stop_outs=3, window_minutes=30, cooldown_minutes=60))
    two = [NOW - timedelta(minutes=31), NOW - timedelta(minutes=29), NOW - timedelta(minutes=1)]
    assert breakers.stop_loss_guard(config, "s", two, NOW) is None  # the first is outside the window
    trip = breakers.stop_loss_guard(config, "s", [*two, NOW], NOW)
    assert trip.until == NOW + timedelta(minutes=60) and "3 stop-outs within 30 min" in trip.reason


def test_drawdown_from_the_peak():
    config = StrategyConfig(max_drawdown_pct=Decimal(10))
    assert breakers.max_drawdown(config, "s", Decimal(120_000), Decimal(108_001)) is None
    assert breakers.max_drawdown(config, "s", Decimal(120_000), Decimal(108_000)).until is None


def test_a_bad_trading_window_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="HH:MM-HH:MM with start before end"):
        StrategyConfig(trading_windows={"mon": ["16:00-09:30"]})
    with pytest.raises(ValueError, match="is not a weekday"):
        StrategyConfig(trading_windows={"monday": ["09:30-16:00"]})


# --- the state machine --------------------------------------------------------------------

LIMIT = Decimal(500)
COOLDOWN = 20  # minutes after a losing exit
SYMBOLS = ("AAPL", "MSFT")
CONFIG = StrategyConfig(daily_loss_limit=LIMIT, cooldown_after_loss_minutes=COOLDOWN, max_open_positions=5)


class Guardian(RuleBasedStateMachine):
    """Books kept here: cash and positions moved by fills at the mark; at each mark the day's
    loss is recomputed (equity at the last mark before the session opened minus equity now)
    and the breaker must trip exactly when it reaches the limit; the gates then decide on
    random signals against a snapshot built from these books."""

    @initialize()
    def start(self):
        self.now = NOW
        self.cash = Decimal(100_000)
        self.prices = {s: Decimal(100) for s in SYMBOLS}
        self.held: dict[str, ledger.Position] = {}
        self.marks: list[tuple[datetime, Decimal]] = [(NOW - timedelta(days=1), self.cash)]
        self.trip: breakers.Trip | None = None
        self.losing_exit: dict[str, datetime] = {}
        self.state = TradingState.ACTIVE
        self.realised = Decimal(0)

    def equity(self):
        return self.cash + sum(p.market_value(self.prices[s]) for s, p in self.held.items())

    def snapshot(self):
        return RiskSnapshot(strategy_state=self.state, open_positions={s: p.side for s, p in self.held.items()},
                            trips=(self.trip,) if self.trip else (), last_losing_exit_at=dict(self.losing_exit))

    @rule(minutes=st.integers(1, 600))
    def clock_moves(self, minutes):  # sessions and days go by
        self.now += timedelta(minutes=minutes)

    @precondition(lambda self: self.losing_exit)
    @rule(data=st.data())
    def clock_to_the_end_of_a_cooldown(self, data):
        symbol = data.draw(st.sampled_from(sorted(self.losing_exit)))
        end = self.losing_exit[symbol] + timedelta(minutes=COOLDOWN)
        self.now = max(self.now, end - timedelta(seconds=data.draw(st.sampled_from([1, 0]))))

    @precondition(lambda self: self.held)
    @rule(data=st.data(), off=st.sampled_from([Decimal("0.01"), Decimal(0), Decimal("-0.01")]))
    def mark_at_the_limit(self, data, off):
        """Move one held symbol so that the day's loss is the limit, a cent short of it or past it."""
        symbol = data.draw(st.sampled_from(sorted(self.held)))
        start = self.start_of_day()
        target = start - LIMIT + off
        price = self.prices[symbol] + (target - self.equity()) / self.held[symbol].quantity
        if price > 0:
            self.mark(symbol, price - self.prices[symbol])

    def start_of_day(self):
        opened = calendar.last_session_open(self.now)
        return next(e for t, e in reversed(self.marks) if t < opened)

    @rule(symbol=st.sampled_from(SYMBOLS), move=st.decimals("-8", "8", places=2))
    def mark(self, symbol, move):
        self.prices[symbol] = max(Decimal(1), self.prices[symbol] + move)
        equity = self.equity()
        start = self.start_of_day()
        trip = breakers.daily_loss(CONFIG, "s", start, equity, self.now)
        assert (trip is not None) == (start - equity >= LIMIT)  # exactly at the threshold, not before
        if trip and (self.trip is None or self.trip.key != trip.key):
            self.trip = trip
        self.marks.append((self.now, equity))

    @rule(symbol=st.sampled_from(SYMBOLS), intent=st.sampled_from(["enter_long", "enter_short", "exit"]),
          quantity=st.integers(1, 50))
    def signal(self, symbol, intent, quantity):
        snap = self.snapshot()
        decided = decide(intent, symbol, CONFIG.model_copy(update={"allow_short": True}), snap, self.now)
        trip_holds = self.trip is not None and self.now < self.trip.until
        if intent != "exit" and (self.state is TradingState.REDUCING or trip_holds):
            assert not decided.approved  # in REDUCING no entry is ever approved
        if intent == "exit" and symbol in self.held:
            assert decided.approved  # and every exit is
        cooling = symbol in self.losing_exit and self.now < self.losing_exit[symbol] + timedelta(minutes=COOLDOWN)
        if intent != "exit" and cooling:
            assert not decided.approved
        if (intent != "exit" and not cooling and not trip_holds and self.state is TradingState.ACTIVE
                and symbol not in self.held):
            assert decided.approved  # the cooldown ends exactly when it should
        if not decided.approved:
            return
        price = self.prices[symbol]
        if "exit" in decided.legs:
            position = self.held.pop(symbol)
            effect = ledger.apply_fill(position, "sell" if position.quantity > 0 else "buy", abs(position.quantity),
                                       price, Decimal(0))
            self.cash += effect.cash_delta
            self.realised += effect.realised_pnl
            if effect.realised_pnl < 0:
                self.losing_exit[symbol] = self.now
        if "entry" in decided.legs:
            side = "buy" if intent == "enter_long" else "sell"
            effect = ledger.apply_fill(ledger.Position(symbol), side, Decimal(quantity), price, Decimal(0))
            self.cash += effect.cash_delta
            self.held[symbol] = effect.position

    @precondition(lambda self: self.state is TradingState.ACTIVE)
    @rule()
    def reduce(self):
        self.state = TradingState.REDUCING

    @precondition(lambda self: self.state is TradingState.REDUCING)
    @rule()
    def reactivate(self):
        self.state = TradingState.ACTIVE

    @invariant()
    def books_hold(self):
        if not hasattr(self, "cash"):
            return
        for position in self.held.values():
            assert position.quantity != 0 and position.cost / position.quantity > 0
        # no fees: cash = the start + realised P&L - the cost of what is held (signed); to
        # Decimal's 28 digits, as a mark placed at the limit may divide by a quantity
        gap = self.cash - (Decimal(100_000) + self.realised - sum(p.cost for p in self.held.values()))
        assert abs(gap) < Decimal("1e-18")
        assert self.equity() == self.cash + sum(p.quantity * self.prices[s] for s, p in self.held.items())


Guardian.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
TestGuardian = Guardian.TestCase
