"""chat/limits.py and chat/stops.py: question cleaning, the one rate limiter, per-visitor stop signals."""

from __future__ import annotations

import pytest

from medgemma.chat import limits
from medgemma.chat.limits import RateLimiter, clean_question
from medgemma.chat.stops import StopSignals
from medgemma.config import load_settings
from medgemma.errors import InputRejected


def test_clean_question_blanks_control_characters_and_trims():
    settings = load_settings(env={"MEDGEMMA_MAX_QUESTION_CHARS": "20"})
    assert clean_question("  What\x00 is\x1b gout?\n", settings) == "What  is  gout?"
    for empty in ("", "   ", "\x00\x07", None, 42):
        with pytest.raises(InputRejected, match="Type a question first"):
            clean_question(empty, settings)
    assert clean_question("x" * 20, settings) == "x" * 20
    with pytest.raises(InputRejected, match=r"too long \(over 20 characters\)"):
        clean_question("x" * 21, settings)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    return now


def test_rate_limiter_takes_per_key_and_forgets_after_the_window(clock):
    limiter = RateLimiter(2, window_s=60)
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(InputRejected, match="Too many messages: at most 2 per minute"):
        limiter.take("a")
    limiter.take("b")  # its own budget
    clock[0] += 61
    limiter.take("a")


def test_rate_limiter_counts_failures_for_the_admin_login(clock):
    limiter = RateLimiter(3, window_s=300)
    for _ in range(3):
        assert limiter.wait_s("ip") == 0.0
        limiter.record("ip")
    clock[0] += 100
    assert limiter.wait_s("ip") == pytest.approx(200.0)
    limiter.reset("ip")
    assert limiter.wait_s("ip") == 0.0


def test_stop_reaches_only_that_visitors_answer():
    stops = StopSignals()
    mine, theirs = stops.start("me"), stops.start("you")
    assert stops.stop("me") and mine.is_set() and not theirs.is_set()
    newer = stops.start("me")  # a new question gets a fresh signal; the old answer keeps the set one
    assert not newer.is_set()
    stops.finish("me", mine)  # the old answer finishing does not forget the new one
    assert stops.stop("me") and newer.is_set()
    stops.finish("me", newer)
    assert not stops.stop("me")


def test_rate_limiter_forgets_visitors_whose_window_passed(clock):
    limiter = RateLimiter(5, window_s=60)
    for i in range(RateLimiter.SWEEP_EVERY - 1):
        limiter.take(f"visitor-{i}")
    clock[0] += 61
    limiter.take("newcomer")  # the sweep runs with this one
    assert limiter.keys() == 1
