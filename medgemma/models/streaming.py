"""streaming.py holds what every generation backend does to its token stream: timing (time to first
token, tokens, total) with an optional stop signal, and cutting the text at stop strings that span pieces.
It knows no model or server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

from medgemma.types import GenerationStats


def timed(
    chunks: Iterator[str], stats: GenerationStats | None, stop_event: threading.Event | None
) -> Iterator[str]:
    """Fill stats (TTFT, tokens, total) while passing chunks through; honour a stop event."""
    start = time.perf_counter()
    stats = stats if stats is not None else GenerationStats()
    try:
        for piece in chunks:
            if stop_event is not None and stop_event.is_set():
                break
            if stats.tokens == 0:
                stats.ttft_s = time.perf_counter() - start
            stats.tokens += 1
            if piece:
                yield piece
    finally:
        stats.total_s = time.perf_counter() - start
        close = getattr(chunks, "close", None)
        if close:
            close()


def until_stop_strings(pieces: Iterator[str], stops: Sequence[str]) -> Iterator[str]:
    """Pass text through until any stop string appears, holding back a possible partial match."""
    if not stops:
        yield from pieces
        return
    hold = max(len(s) for s in stops) - 1
    text, emitted = "", 0
    for piece in pieces:
        text += piece
        found = [text.find(s) for s in stops if s in text]
        if found:
            cut = min(found)
            if cut > emitted:
                yield text[emitted:cut]
            return
        safe = max(emitted, len(text) - hold)
        if safe > emitted:
            yield text[emitted:safe]
            emitted = safe
    if emitted < len(text):
        yield text[emitted:]
