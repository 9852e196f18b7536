"""stops.py holds one stop signal per visitor for the answer being written: the Chat tab's Stop sets
that visitor's signal and the pipeline's generation stage sees it. It knows nothing of Gradio or models.
"""

from __future__ import annotations

import threading


class StopSignals:
    """A threading.Event per visitor key; `stop(key)` reaches only that visitor's running answer."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, key: str, event: threading.Event | None = None) -> threading.Event:
        """The signal of `key`'s new answer: `event`, or a fresh one (an older answer keeps its own)."""
        event = event or threading.Event()
        with self._lock:
            self._events[key] = event
        return event

    def stop(self, key: str) -> bool:
        """Stop the answer `key` is being written; False when it has none running."""
        with self._lock:
            event = self._events.get(key)
        if event is None:
            return False
        event.set()
        return True

    def finish(self, key: str, event: threading.Event) -> None:
        """Forget the signal of a finished answer (unless a newer answer of `key` replaced it)."""
        with self._lock:
            if self._events.get(key) is event:
                del self._events[key]
