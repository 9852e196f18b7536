"""chat_session.py keeps each visitor's conversation while answers are being written, so nothing typed is
lost: every message becomes an Entry in arrival order, the guard reads it at once (an emergency or a
refusal is shown immediately, even while another answer streams), and the other answers are written one
at a time, in order, each shown as "queued" until its turn. The Chatbot is always rendered from here, so
two events streaming into one Chatbot never overwrite each other's messages. No gradio import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from admin.chat_render import WRITING, ChatView
from medgemma.chat.events import Done, Emergency, Event, Refusal, Safety
from medgemma.chat.stops import StopSignals

QUEUED = "⏳ Queued: answered as soon as the answer above is finished"
STOPPED = "⏹ Not answered: Stop was pressed before its turn came"
WAIT_S = 0.5  # how often a queued message re-sends the conversation while it waits (and sees a Stop)

Start = Callable[[list[dict], threading.Event], Iterator[Event]]  # (prior history, stop) -> the answer


def _panel(title: str, status: str) -> dict:
    return {"role": "assistant", "content": "", "metadata": {"title": title, "status": status}}


@dataclass
class Entry:
    """One message and the messages its answer adds (its ChatView starts with the question)."""

    view: ChatView
    stop: threading.Event = field(default_factory=threading.Event)
    queued: bool = False  # waiting for the answer before it
    cancelled: bool = False  # Stop (or Clear) came before its turn
    done: bool = False


class Conversation:
    """One visitor's history as the browser last sent it, plus the entries this server is answering."""

    def __init__(self, base: list[dict]) -> None:
        self.base, self.entries = list(base), []
        self.cond = threading.Condition()

    def add(self, question: str) -> Entry:
        with self.cond:
            entry = Entry(ChatView([{"role": "user", "content": question}]))
            self.entries.append(entry)
            return entry

    def render(self, upto: Entry | None = None) -> list[dict]:
        """The Chatbot's messages now (or those before `upto`): base, then each entry with its status."""
        with self.cond:
            out = list(self.base)
            for e in self.entries:
                if e is upto:
                    break
                out.extend(e.view.history)
                if e.queued:
                    out.append(_panel(QUEUED, "pending"))
            return out

    def _its_turn(self, entry: Entry) -> bool:
        return next((e for e in self.entries if not e.done), entry) is entry

    def wait_turn(self, entry: Entry, timeout: float) -> bool:
        """True once every entry before it is done (False after `timeout`, or when it was cancelled);
        the entry is marked queued while it waits (a cancelled one keeps its Stop note instead)."""
        with self.cond:
            self.cond.wait_for(lambda: entry.cancelled or self._its_turn(entry), timeout)
            ready = self._its_turn(entry) and not entry.cancelled
            if not entry.cancelled:
                entry.queued = not ready
            return ready

    def finish(self, entry: Entry) -> None:
        with self.cond:
            entry.done, entry.queued = True, False
            self.cond.notify_all()

    def cancel(self) -> None:
        """Stop the answer being written and every queued one (they are marked, not silently dropped)."""
        with self.cond:
            for e in self.entries:
                if not e.done:
                    e.cancelled = True
                    e.stop.set()
                if e.queued:  # it stays in the conversation, marked as not answered
                    e.view.history.append(_panel(STOPPED, "done"))
                    e.queued = False
            self.cond.notify_all()

    def idle(self) -> bool:
        return all(e.done for e in self.entries)


def _guard_answered(events: Iterator[Event], view: ChatView) -> bool:
    """Pull the answer's events up to the guard's verdict (the pipeline's first stage, before any
    retrieval or generation); True when the guard answered on its own (emergency, refusal)."""
    for event in events:
        view.apply(event)
        if isinstance(event, Done):
            return True
        if not isinstance(event, (Emergency, Refusal, Safety)):
            return False
    return True


class ChatSessions:
    """The conversations being answered, by visitor key; a conversation is forgotten once it is idle
    (the browser's Chatbot then holds the whole history again and sends it with the next message)."""

    def __init__(self, stops: StopSignals) -> None:
        self.stops = stops
        self._by_key: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def busy(self, key: str) -> bool:
        with self._lock:
            return key in self._by_key

    def join(self, key: str, history: list[dict], question: str) -> tuple[Conversation, Entry]:
        """Add a message to `key`'s conversation (a new one starts from the history the browser sent)."""
        with self._lock:
            convo = self._by_key.setdefault(key, Conversation(history))
            return convo, convo.add(question)

    def answer(self, key: str, convo: Conversation, entry: Entry, start: Start) -> Iterator[list[dict]]:
        """Answer one entry; yields the whole Chatbot history at each step. The guard reads the message at
        once; an answer the guard did not give waits (shown as queued) for the answers before it."""
        try:
            events = start([m for m in convo.render(entry) if m.get("content") != WRITING], entry.stop)
            if not _guard_answered(events, entry.view):
                yield from self._in_turn(key, convo, entry, events)
        finally:
            self._leave(key, convo, entry)
        yield convo.render()

    def _in_turn(
        self, key: str, convo: Conversation, entry: Entry, events: Iterator[Event]
    ) -> Iterator[list[dict]]:
        convo.wait_turn(entry, 0)
        yield convo.render()
        while entry.queued and not entry.cancelled:
            convo.wait_turn(entry, WAIT_S)
            yield convo.render()
        if entry.cancelled:
            return
        self.stops.start(key, entry.stop)
        try:
            for event in events:
                entry.view.apply(event)
                yield convo.render()
        finally:
            self.stops.finish(key, entry.stop)

    def _leave(self, key: str, convo: Conversation, entry: Entry) -> None:
        convo.finish(entry)
        with self._lock:
            if convo.idle() and self._by_key.get(key) is convo:
                del self._by_key[key]

    def cancel(self, key: str) -> list[dict] | None:
        """Stop `key`'s answers, queued ones included; the history to show then (None when idle)."""
        with self._lock:
            convo = self._by_key.get(key)
        if convo is None:
            return None
        convo.cancel()
        return convo.render()
