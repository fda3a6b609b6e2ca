"""The error taxonomy: which failures retry and which are set aside, and the retry delays."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from pydantic import BaseModel, ValidationError
from tradeflow.adapters.aws import DeliveryError
from tradeflow.domain.errors import Permanent, Retryable, classify, reason_of
from tradeflow.pipeline.consumer import MAX_RETRY_DELAY, retry_delay


class _Model(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        _Model.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("exc, kind", [
    (psycopg.OperationalError("connection refused"), "retryable"),
    (psycopg.errors.LockNotAvailable(), "retryable"),  # 55P03, lock_timeout
    (psycopg.errors.QueryCanceled(), "retryable"),  # 57014, statement_timeout
    (psycopg.errors.SerializationFailure(), "retryable"),  # 40001
    (psycopg.errors.DeadlockDetected(), "retryable"),  # 40P01
    (psycopg.errors.AdminShutdown(), "retryable"),  # 57P01, a database pausing
    (psycopg.errors.CannotConnectNow(), "retryable"),  # 57P03, a database resuming
    (DeliveryError("SQS 503"), "retryable"),
    (TimeoutError(), "retryable"),
    (Retryable("later"), "retryable"),
    (RuntimeError("a bug"), "retryable"),  # unknown: retried, then dead-lettered and redrivable
    (psycopg.errors.UniqueViolation(), "permanent"),  # 23505
    (psycopg.errors.CheckViolation(), "permanent"),  # 23514: the state machine refused it
    (psycopg.errors.UntranslatableCharacter(), "permanent"),  # 22P05: NUL in text
    (_validation_error(), "permanent"),
    (LookupError("no order"), "permanent"),
    (KeyError("facts"), "permanent"),
    (Permanent("unknown strategy"), "permanent"),
])
def test_each_failure_has_one_kind(exc, kind):
    assert classify(exc) == kind


def test_an_error_raised_from_a_retryable_one_is_retryable():
    try:
        try:
            raise psycopg.OperationalError("server closed the connection")
        except psycopg.OperationalError as inner:
            raise AttributeError("the cursor is gone") from inner
    except AttributeError as exc:
        assert classify(exc) == "retryable"


def test_a_reason_is_one_line_and_names_the_field():
    assert reason_of(_validation_error()).startswith("n: ")
    assert reason_of(Permanent("a\nb   c")) == "a b c"
    assert len(reason_of(ValueError("x" * 2000))) == 500


def test_retry_delays_double_and_stop_growing():
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[:5] == [30, 60, 120, 240, 480]
    assert all(b == min(2 * a, MAX_RETRY_DELAY) for a, b in itertools.pairwise(delays))
    assert sum(delays[:9]) > 3600  # the receives before the dead-letter queue span over an hour
