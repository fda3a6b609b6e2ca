"""Errors of two kinds, told apart in one place (as freqtrade separates errors worth retrying,
``TemporaryError``, from errors that need a human, ``OperationalException``):

- **retryable**: the world was not ready (a lost connection, a paused database, a throttle, a
  lock or statement timeout, a serialization failure, an SQS or SNS call that failed). The
  message goes back to its queue and is tried again later;
- **permanent**: the message can never succeed (it fails validation, or names a strategy,
  signal or order that does not exist). It is recorded as rejected with its reason, the trader
  is told, and the message is acknowledged, so it neither retries nor blocks the messages
  behind it in its FIFO group.

:func:`classify` is the only place that decides; every SQS handler calls it. It looks at
exception types by name and PostgreSQL SQLSTATE classes, so this module imports no driver.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["retryable", "permanent"]


class Retryable(Exception):
    """Raised where the code knows a failure is temporary and worth retrying."""


class Permanent(Exception):
    """Raised where the code knows a message can never succeed. ``reason`` says why, in words
    the trader reads (what was wrong and how to fix it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: SQLSTATE classes and codes that are worth retrying (PostgreSQL manual, Appendix A):
#: 08 connection exception, 40001 serialization_failure, 40P01 deadlock_detected, 53 insufficient
#: resources, 55P03 lock_not_available, 57014 query_canceled (statement/lock timeout),
#: 57P01-57P03 admin/crash shutdown and cannot_connect_now (a database resuming), 58 system error;
#: and 42, syntax error or access rule violation (permission denied, an undefined table or column):
#: never the message's fault but a deploy's (a missing grant, a migration not yet run), so the
#: message waits in the dead-letter queue for a redrive once the deploy is fixed.
_RETRYABLE_SQLSTATES = ("08", "40001", "40P01", "42", "53", "55P03", "57014", "57P01", "57P02", "57P03", "58")
#: Exception class names (anywhere in the MRO) that mean "try again": psycopg's connection and
#: pool errors, the SDK's DeliveryError (SQS/SNS), timeouts and OS-level connection errors.
_RETRYABLE_NAMES = frozenset({
    "OperationalError", "InterfaceError", "PoolTimeout", "DeliveryError", "ParametersUnavailable",
    "TimeoutError", "ConnectionError", "Retryable",
})
#: Names that mean "this message can never succeed": validation failures, lookups of rows that
#: do not exist, data the database refuses for good (integrity, data errors).
_PERMANENT_NAMES = frozenset({
    "Permanent", "ValidationError", "LookupError", "KeyError", "ValueError", "UnregisteredStrategy",
    "DataError", "IntegrityError", "ProgrammingError", "AlertError",
})


def classify(exc: BaseException) -> Kind:
    """``"retryable"`` or ``"permanent"`` for any exception (see the module docstring).

    A PostgreSQL error is judged by its SQLSTATE first (a lock timeout is an OperationalError
    subclass in psycopg, but so is a query cancelled; both retry); then by class name; an
    exception chained ``from`` a retryable one is retryable. Anything unknown is retryable:
    a bug then ends in the dead-letter queue after a few tries, where it can be redriven once
    fixed, rather than being acknowledged and lost."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return "retryable" if sqlstate.startswith(_RETRYABLE_SQLSTATES) else "permanent"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _RETRYABLE_NAMES:
        return "retryable"
    if names & _PERMANENT_NAMES:
        return "permanent"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        return classify(cause)
    return "retryable"


def reason_of(exc: BaseException) -> str:
    """A one-line reason for a permanent error, for the trader and the record (at most 500
    characters; a pydantic ValidationError as ``field: message`` pairs)."""
    if isinstance(exc, Permanent):
        text = exc.reason
    elif hasattr(exc, "errors") and callable(exc.errors):
        try:
            text = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors())
        except Exception:  # noqa: BLE001 - not a pydantic error after all
            text = str(exc)
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]
