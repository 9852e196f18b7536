"""Verified streaming: the model's draft never leaves the pipeline; the answer is shown sentence by
sentence, each one complete, supported by a passage and passed by the output check, and never twice.

The pipeline and its Gate are real; the knowledge base, guard and model are the fakes of fakes.py.
"""

from __future__ import annotations

from fakes import FakeGuard, FakeKnowledge, ScriptedBackend

from medgemma.chat.events import Answer, Dropped, Safety, Sentence
from medgemma.chat.gate import complete_sentences
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.types import Verdict

CAUSE = "Gout is caused by too much uric acid in the blood [1]."
PAIN = "It causes sudden, severe pain and swelling in the joints [1]."
MOON = "The moon is made of green cheese."


class CountingBackend(ScriptedBackend):
    """The scripted draft; `streamed` is how many words the pipeline has pulled so far."""

    streamed = 0

    def stream(self, prompt, params, stats=None, stop_event=None):
        for piece in super().stream(prompt, params, stats, stop_event):
            self.streamed += 1
            yield piece


class WordGuard(FakeGuard):
    """An output check that rejects any answer containing `word` (as a dose or a diagnosis would be)."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word, self.checked = word, []

    def check_output(self, answer: str) -> Verdict:
        self.checked.append(answer)
        if self.word in answer:
            return Verdict("personal_advice", ("a personal instruction",), ("output.test",))
        return Verdict("allowed")


def run(text: str, guard=None, **chat):
    settings = load_settings()
    backend = CountingBackend(text)
    services = Services(settings, knowledge=FakeKnowledge(), guard=guard or FakeGuard(), backend=backend)
    events, seen_at = [], []
    for event in answer("What causes gout?", [], ChatSettings.from_settings(settings, **chat), services):
        events.append(event)
        if isinstance(event, Sentence):
            seen_at.append(backend.streamed)
    return events, backend, seen_at


def shown(events) -> list[str]:
    return [e.text for e in events if isinstance(e, Sentence)]


def test_each_sentence_is_shown_when_complete_while_the_draft_is_still_streaming():
    events, backend, seen_at = run(f"{CAUSE} {PAIN}")
    assert shown(events) == [
        "Gout is caused by too much uric acid in the blood. [1]",
        PAIN.replace(" [1].", ". [1]"),
    ]
    words = len(f"{CAUSE} {PAIN}".split())
    # the first sentence came out when the second had only begun; the last one at the end of the draft
    assert seen_at == [len(CAUSE.split()) + 1, words] and backend.streamed == words


def test_an_unsupported_sentence_is_dropped_and_listed_never_shown():
    events, _, _ = run(f"{CAUSE} {MOON} {PAIN}")
    assert len(shown(events)) == 2 and not any("moon" in t for t in shown(events))
    [dropped] = [e for e in events if isinstance(e, Dropped)]
    assert dropped.check.text == MOON and not dropped.check.supported
    done = events[-1]
    assert "moon" not in done.text and done.mode == "generative"
    assert done.support == round(2 / 3, 4) and done.evidence["unsupported"] == [MOON]
    assert [s.supported for s in done.sentences] == [True, True]
    assert [s.text for s in done.dropped] == [MOON]  # what the evaluation counts as unsupported


def test_a_sentence_the_output_check_rejects_is_never_shown_and_ends_the_draft():
    """The second sentence (the passage's own words) is one the output check rejects: the guard sees it,
    with the sentence shown before it, before the screen does; the draft stops there, and the sentence
    is not listed as "not supported" either."""
    toe = "It causes sudden, severe pain and swelling in the joints, often in the big toe [1]."
    guard = WordGuard("big toe")
    events, backend, _ = run(f"{CAUSE} {toe} {MOON}", guard=guard)
    assert len(shown(events)) == 1 and "big toe" not in " ".join(shown(events))
    assert not any(isinstance(e, Dropped) for e in events)
    assert [e.verdict.label for e in events if isinstance(e, Safety)] == ["personal_advice"]
    assert backend.streamed < len(f"{CAUSE} {toe} {MOON}".split())  # nothing after the rejected sentence
    done = events[-1]
    assert "big toe" not in done.text and done.evidence["safety_output"]["label"] == "personal_advice"
    # the guard saw each sentence together with those before it, the rejected one included
    assert guard.checked[-1].startswith("Gout is caused") and "big toe" in guard.checked[-1]


def test_a_draft_rejected_at_its_first_sentence_falls_back_to_quotes_shown_the_same_way():
    events, _, _ = run(f"{CAUSE} {PAIN}", guard=WordGuard("Gout is caused"))
    assert not any("Gout is caused" in t for t in shown(events))
    quotes = [e for e in events if isinstance(e, Sentence)]
    assert quotes and all(q.mode == "extractive" for q in quotes)
    assert events[-1].mode == "extractive" and events[-1].text == " ".join(q.text for q in quotes)


def test_no_sentence_is_shown_twice():
    events, _, _ = run(f"{CAUSE} {PAIN} Gout is caused by too much uric acid in the blood.")
    assert len(shown(events)) == 2 and events[-1].evidence["repeats_skipped"] == 1
    assert events[-1].support == 1.0  # a repeat is not an unsupported sentence


def test_auto_gives_up_on_a_draft_whose_first_two_sentences_are_unsupported():
    draft = f"{MOON} Jupiter is a very large planet. {CAUSE} {PAIN}"
    events, backend, _ = run(draft)
    assert backend.streamed < len(draft.split())  # it stopped pulling the draft
    assert [e.check.text for e in events if isinstance(e, Dropped)] == [
        MOON,
        "Jupiter is a very large planet.",
    ]
    done = events[-1]
    assert done.mode == "extractive" and done.evidence["draft_abandoned"] is True
    assert "uric acid" in done.text and isinstance(events[-2], Answer)


def test_complete_sentences_keeps_markers_and_the_growing_rest():
    assert complete_sentences("Gout hurts. [1]") == ([], "Gout hurts. [1]")
    assert complete_sentences("Gout hurts. [1] It swells ") == (["Gout hurts. [1]"], "It swells ")
    assert complete_sentences("A b c. D e f. G") == (["A b c.", "D e f."], "G")
