"""The notification claim: one statement (one commit), with the modes an independent model of
the attempts predicts, whatever the sequence of claims and outcomes."""

import uuid
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeflow.adapters import store

NOW = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
# What happens after a claim: the send is recorded sent, recorded failed, or the function dies.
OUTCOMES = st.lists(st.sampled_from(["sent", "failed", "died"]), min_size=1, max_size=6)


def next_xid(conn) -> int:
    """The next transaction id the server will assign (read without taking one): the
    difference over a call is the number of write transactions it ran."""
    return int(conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x").fetchone()["x"])


class Counting:
    """The connection, counting the statements and explicit transactions run through it."""

    def __init__(self, conn) -> None:
        self.conn, self.statements, self.transactions = conn, 0, 0

    def execute(self, *args, **kwargs):
        self.statements += 1
        return self.conn.execute(*args, **kwargs)

    def transaction(self):
        self.transactions += 1
        return self.conn.transaction()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outcomes=OUTCOMES)
def test_claims_follow_the_model_in_one_commit_each(conn, outcomes):
    key = f"k:{uuid.uuid4()}"  # a new notification per example (the database outlives examples)
    status, duplicated = None, False  # the model: the row's status and flag
    for outcome in outcomes:
        before = next_xid(conn)
        counting = Counting(conn)
        claim = store.claim_notification(counting, key, "fill", "test", "subject", "message", NOW)
        assert next_xid(conn) - before == 1  # one write transaction, whatever the state
        assert conn.autocommit and (counting.statements, counting.transactions) == (1, 0)  # so one commit
        if status == "sent":
            assert claim is None
            continue
        expected = "repeat" if status == "sending" else "first"
        duplicated = duplicated or status == "sending"
        assert claim is not None and claim[0] == expected
        status = "sending"
        if outcome != "died":
            store.finish_notification(conn, key, ["email"] if outcome == "sent" else [],
                                      "boom" if outcome == "failed" else None, NOW)
            status = outcome
    row = conn.execute("SELECT status, possibly_duplicated, attempts FROM notifications WHERE notification_key = %s",
                       (key,)).fetchone()
    assert (row["status"], row["possibly_duplicated"]) == (status, duplicated)
    assert row["attempts"] == len(outcomes[:outcomes.index("sent") + 1] if "sent" in outcomes else outcomes)
