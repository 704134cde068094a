"""``EventBudget``: one socket's events in flight, waiting, and per second, on a given clock."""

from __future__ import annotations

from app.log_safe import quoted
from app.realtime.event_guard import EventBudget, EventLimits, Verdict

LIMITS = EventLimits(in_flight=2, queued_bytes=100, rate_per_s=10.0, burst=5)
SIZE = 60  # bytes: one waits, a second would not fit


def test_events_run_then_wait_then_are_refused_while_the_socket_is_busy() -> None:
    budget = EventBudget.full(LIMITS, now=0.0)
    verdicts = [budget.take(0.0, SIZE) for _ in range(3)]
    assert verdicts == [Verdict.RUN, Verdict.RUN, Verdict.QUEUE]
    budget.wait(("third",), SIZE)
    assert budget.take(0.0, SIZE) is Verdict.REFUSE  # 120 bytes would be waiting
    assert budget.take(0.0, 40) is Verdict.QUEUE  # 100 would not
    assert budget.done() == ("third",)  # it takes the finished one's place
    assert budget.in_flight == 2 and budget.waiting_bytes == 0
    assert budget.done() is None
    assert budget.in_flight == 1
    assert budget.take(1.0, SIZE) is Verdict.RUN  # tokens back too


def test_the_rate_refills_and_a_socket_that_keeps_sending_past_it_is_dropped() -> None:
    budget = EventBudget.full(LIMITS, now=0.0)
    verdicts = []
    for _ in range(5):
        verdicts.append(budget.take(0.0, SIZE))
        if budget.in_flight:
            budget.done()
    assert verdicts == [Verdict.RUN] * 5  # the burst
    assert budget.take(0.0, SIZE) is Verdict.REFUSE  # out of tokens
    assert budget.take(0.2, SIZE) is Verdict.RUN  # 0.2 s at 10/s: two tokens back, one owed
    budget.done()
    assert [budget.take(0.2, SIZE) for _ in range(5)] == [Verdict.REFUSE] * 5
    assert budget.take(0.2, SIZE) is Verdict.DROP  # a whole burst past the budget


def test_quoted_escapes_what_could_forge_a_log_line_and_bounds_it() -> None:
    assert quoted("a\nb\x1b[31m\u2028") == "'a\\nb\\x1b[31m\\u2028'"
    long = quoted("x" * 10_000, max_chars=50)
    assert len(long) == 51 and long.endswith("…")
