"""gate.py is what stands between a text (the model's draft, or the quotes) and the screen: complete
sentences are verified, deduplicated and passed by the output check one at a time before they are shown.
It knows the Turn's fields, not the stages around it, nor who reads the events.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from medgemma.chat import citations
from medgemma.chat.citations import Verification, Verifier
from medgemma.chat.events import Dropped, Event, Safety, Sentence
from medgemma.chat.services import Services

if TYPE_CHECKING:
    from medgemma.chat.pipeline import Turn


def _since(t: float) -> float:
    return round(time.perf_counter() - t, 4)


class Gate:
    """What stands between a text (the draft, or the quotes) and the screen. Each complete sentence is
    verified against the passages, compared with what the answer already said, and checked by the output
    guard together with the sentences shown before it; only then is it shown as a Sentence. Unsupported
    ones pass the output check on their own and are Dropped (listed, not part of the answer). With
    `strict` (the model's draft) a sentence the output check rejects ends the text unseen and unlisted;
    quotes are the sources' own words, so they are shown with a safety note instead."""

    def __init__(self, turn: Turn, services: Services, mode: str, strict: bool) -> None:
        self.turn, self.services, self.guard = turn, services, services.guard()
        self.mode, self.strict = mode, strict
        self.checked = self.shown = 0
        self.rejected = False

    @property
    def support(self) -> float:
        dropped = self.checked - self.shown - self.turn.repeats
        return self.shown / (self.shown + dropped) if self.shown + dropped else 0.0

    def offer(self, raw: str) -> Iterator[Event]:
        turn, t = self.turn, time.perf_counter()
        try:
            if turn.verifier is None:  # the passages are embedded once per turn, at its first sentence
                turn.verifier = Verifier(
                    turn.hits, embed=self.services.embedder().encode, question=turn.question
                )
            check, nowhere = turn.verifier.check(raw)
            self.checked += 1
            turn.check.dropped_markers.extend(nowhere)
            if check.supported and any(
                citations.same_sentence(check.text, s.text) for s in turn.check.sentences
            ):
                turn.repeats += 1
                return
            # a shown sentence is checked with those before it; a dropped one (listed) on its own
            so_far = Verification([*turn.check.sentences, check] if check.supported else [check])
            verdict = self.guard.check_output(so_far.render(mark_unsupported=False))
            if not verdict.allowed:
                if turn.out_verdict is None or turn.out_verdict.allowed:
                    yield Safety(self.guard.personal_advice_note(), verdict)
                turn.out_verdict = verdict
                if self.strict:
                    self.rejected = True
                    return
            elif turn.out_verdict is None:
                turn.out_verdict = verdict
            if not check.supported:
                turn.unsupported.append(check)
                yield Dropped(check)
                return
        finally:
            turn.timings.verification_s = (turn.timings.verification_s or 0.0) + _since(t)
        turn.check.sentences.append(check)
        self.shown += 1
        if turn.timings.first_sentence_s is None:
            turn.timings.first_sentence_s = _since(turn.started)
        cited = tuple(citations.citation_for(n, turn.hits[n - 1]) for n in check.cited)
        yield Sentence(check, cited, self.mode)


def complete_sentences(pending: str) -> tuple[list[str], str]:
    """The sentences of `pending` that are complete (the next one has begun), and the rest still growing."""
    pieces = citations.split_sentences(pending)
    if len(pieces) < 2:
        return [], pending
    return pieces[:-1], pieces[-1] + pending[len(pending.rstrip()) :]
