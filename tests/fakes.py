"""Fakes for the pipeline's collaborators, with the same interface as the real ones.

They replace the knowledge base, the safety guard and the model when the pipeline itself is under test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

from medgemma.chat.prompts import render_gemma
from medgemma.knowledge.dense import Coverage
from medgemma.models.presets import PRESETS
from medgemma.types import Chunk, GenerationParams, GenerationStats, Hit, Verdict

GOUT = (
    "Gout is a form of arthritis caused by too much uric acid in the blood. It causes sudden, severe "
    "pain and swelling in the joints, often in the big toe."
)
ANEMIA = (
    "Anemia is a condition in which the blood has fewer healthy red blood cells than normal. "
    "Iron deficiency is the most common cause of anemia."
)


def sample_hits() -> list[Hit]:
    return [
        Hit(
            Chunk("c1", "d1", GOUT, title="Gout", url="https://medlineplus.gov/gout.html", source="medquad"),
            0.03,
            dense=0.71,
            bm25=5.2,
        ),
        Hit(
            Chunk(
                "c2",
                "d2",
                ANEMIA,
                title="Anemia",
                url="https://medlineplus.gov/anemia.html",
                source="medquad",
            ),
            0.02,
            dense=0.42,
            bm25=1.1,
        ),
    ]


class FakeKnowledge:
    def __init__(self, hits: list[Hit] | None = None) -> None:
        self.hits = sample_hits() if hits is None else hits
        self.queries: list[str] = []

    def search(self, query: str, k: int | None = None, min_score: float | None = None) -> list[Hit]:
        self.queries.append(query)
        return [h for h in self.hits if min_score is None or (h.dense or 0) >= min_score][: k or 4]

    def coverage(self) -> Coverage:
        return Coverage(len(self.hits), len(self.hits))  # a finished index


class FakeGuard:
    """Labels by keyword so pipeline branches can be exercised without the real classifier."""

    def __init__(self, output_label: str = "allowed") -> None:
        self.output_label = output_label

    def check_input(self, text: str, history=None, session_id: str = "") -> Verdict:
        low = text.lower()
        if "drooping" in low:
            return Verdict("emergency", ("stroke sign",), ("emergency.stroke",), 1.0)
        if "poison" in low:
            return Verdict("harmful", ("harm to others",), ("harmful.poison",), 1.0)
        if "should i take" in low:
            return Verdict("personal_advice", ("personal dosing",), ("personal.dose",), 1.0)
        return Verdict("allowed")

    def check_output(self, answer: str) -> Verdict:
        return (
            Verdict(self.output_label, ("test",), ("output.test",))
            if self.output_label != "allowed"
            else Verdict("allowed")
        )

    def emergency_response(self, verdict: Verdict) -> str:
        return "Call 911 now."

    def refusal_response(self, verdict: Verdict) -> str:
        return "I can't help with that."

    def personal_advice_note(self) -> str:
        return "General information only; ask a clinician."


class ScriptedBackend:
    """A model that streams a fixed answer, token by token (the pipeline's view of a backend); `delay_s`
    between words lets a test act mid-stream. It honours the stop event as the real backends do."""

    name = "scripted"
    adapter = ""

    def __init__(self, text: str, delay_s: float = 0.0) -> None:
        self.text, self.delay_s = text, delay_s
        self.spec = PRESETS["smollm2-135m-instruct"]
        self.prompts: list[str] = []

    def render(self, messages: Sequence[dict]) -> str:
        return render_gemma(messages)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stats: GenerationStats | None = None,
        stop_event: threading.Event | None = None,
    ) -> Iterator[str]:
        self.prompts.append(prompt)
        for i, word in enumerate(self.text.split(" ")):
            if stop_event is not None and stop_event.is_set():
                return
            if stats is not None:
                stats.tokens += 1
            if self.delay_s:
                time.sleep(self.delay_s)
            yield word if i == 0 else " " + word
