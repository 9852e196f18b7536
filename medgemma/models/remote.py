"""remote.py generates through an OpenAI-compatible server (vLLM, TGI, llama.cpp's server): streamed
completions with the stop strings applied client-side. It loads no weights; backends.py chooses it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from medgemma.chat.prompts import RENDERERS
from medgemma.config import Settings
from medgemma.errors import ModelNotAvailable
from medgemma.models.presets import ModelSpec
from medgemma.models.streaming import timed
from medgemma.types import GenerationParams, GenerationStats


class OpenAIBackend:
    """An OpenAI-compatible /v1/completions endpoint (vLLM, TGI, llama.cpp server), streamed over SSE."""

    name = "openai"

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        if not settings.openai_base_url:
            raise ModelNotAvailable(
                "backend=openai needs MEDGEMMA_OPENAI_BASE_URL (e.g. http://host:8000/v1)."
            )
        self.spec = spec
        self.adapter = ""
        self.base_url = settings.openai_base_url.rstrip("/")
        self._key = settings.openai_api_key

    def render(self, messages: Sequence[dict]) -> str:
        return RENDERERS.get(self.spec.template, RENDERERS["gemma"])(messages)

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stats: GenerationStats | None = None,
        stop_event: threading.Event | None = None,
    ) -> Iterator[str]:
        import json

        import httpx

        body = {
            "model": self.spec.location,
            "prompt": prompt,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stop": list(self.spec.stop_strings) + list(params.stop),
        }
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}

        def pieces() -> Iterator[str]:
            try:
                with httpx.stream(
                    "POST", f"{self.base_url}/completions", json=body, headers=headers, timeout=120
                ) as resp:
                    if resp.status_code != 200:
                        raise ModelNotAvailable(
                            f"The endpoint {self.base_url} answered HTTP {resp.status_code}."
                        )
                    for line in resp.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            return
                        yield json.loads(data)["choices"][0].get("text", "")
            except httpx.HTTPError as exc:
                raise ModelNotAvailable(f"Cannot reach {self.base_url}: {exc}") from None

        yield from timed(pieces(), stats, stop_event)
