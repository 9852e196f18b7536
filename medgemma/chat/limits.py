"""limits.py owns the checks on what a visitor sends: a clean question of bounded length, and at most
so many requests per time window per key (a chat session, a feedback button, an admin login client).

The Chat tab, the Gradio API, `python -m medgemma ask` and medgemma/auth.py share these; it knows no UI.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque

from medgemma.config import Settings
from medgemma.errors import ConfigError, InputRejected

CONTROL_CHARS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)  # NULs, escapes: never reach the model or logs


def clean_question(text: object, settings: Settings) -> str:
    """The question as the pipeline may see it: control characters blanked, trimmed, not empty, not too long."""
    question = CONTROL_CHARS.sub(" ", text if isinstance(text, str) else "").strip()
    if not question:
        raise InputRejected("Type a question first.")
    if len(question) > settings.max_question_chars:
        raise InputRejected(f"The question is too long (over {settings.max_question_chars} characters).")
    return question


class RateLimiter:
    """At most `limit` events per `window_s` seconds per key; thread-safe, forgets keys that go quiet."""

    SWEEP_EVERY = 1000  # events between sweeps of keys whose window has passed

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._since_sweep = 0

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._hits[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def _count(self, key: str, now: float) -> None:
        self._hits[key].append(now)
        self._since_sweep += 1
        if self._since_sweep >= self.SWEEP_EVERY:
            self._since_sweep = 0
            for stale in [k for k, q in self._hits.items() if not q or now - q[-1] > self.window_s]:
                del self._hits[stale]

    def keys(self) -> int:
        """How many keys it remembers (each holds at most `limit` timestamps)."""
        with self._lock:
            return len(self._hits)

    def wait_s(self, key: str) -> float:
        """Seconds until `key` may act again; 0.0 when it may act now."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            wait = self.window_s - (now - q[0]) if len(q) >= self.limit else 0.0
            if not q:
                del self._hits[key]
            return wait

    def record(self, key: str) -> None:
        """Count one event for `key`."""
        with self._lock:
            self._count(key, time.monotonic())

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def take(self, key: str) -> None:
        """Count one message for `key`, or raise InputRejected when it already sent its share."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            if len(q) >= self.limit:
                per = "minute" if self.window_s == 60 else f"{self.window_s:g} s"
                raise InputRejected(
                    f"Too many messages: at most {self.limit} per {per}. Please wait a moment."
                )
            self._count(key, now)


CHAT_OPTIONS = ("k", "min_score", "temperature", "max_new_tokens", "mode", "model", "adapter")


def public_options(settings: Settings) -> frozenset[str]:
    """The chat settings a visitor may change (MEDGEMMA_PUBLIC_SETTINGS); an unknown name is named."""
    names = {n.strip() for n in settings.public_settings.split(",") if n.strip()}
    unknown = sorted(names - set(CHAT_OPTIONS))
    if unknown:
        raise ConfigError(
            f"MEDGEMMA_PUBLIC_SETTINGS: unknown chat setting(s) {', '.join(unknown)}; "
            f"choose from {', '.join(CHAT_OPTIONS)}."
        )
    return frozenset(names)


def admin_only_changes(opts: dict, defaults: dict, public: frozenset[str]) -> list[str]:
    """The options a request changes from the admin's defaults that visitors may not change."""
    return [
        k for k in CHAT_OPTIONS if k not in public and opts.get(k) is not None and opts[k] != defaults.get(k)
    ]
