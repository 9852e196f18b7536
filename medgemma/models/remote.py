"""remote.py generates through an OpenAI-compatible server (vLLM, TGI, llama.cpp's server): streamed
completions, stop strings applied on both ends, every failure named. It loads no weights; backends.py chooses it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence

import httpx

from medgemma.chat.prompts import RENDERERS
from medgemma.config import Settings
from medgemma.errors import ModelNotAvailable
from medgemma.models.presets import ModelSpec
from medgemma.models.streaming import timed, until_stop_strings
from medgemma.types import GenerationParams, GenerationStats


class OpenAIBackend:
    """An OpenAI-compatible /v1/completions endpoint (vLLM, TGI, llama.cpp server), streamed over SSE.

    Every failure becomes a ModelNotAvailable that names it: the server cannot be reached, refused the
    API key, answered an error (its own message is quoted), went silent past openai_timeout_s, or closed
    the stream before its final [DONE]. Stop strings go to the server and are applied here as well, so a
    server that ignores them cannot run past one.
    """

    name = "openai"

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        if not settings.openai_base_url:
            raise ModelNotAvailable(
                "backend=openai needs MEDGEMMA_OPENAI_BASE_URL (e.g. http://host:8000/v1)."
            )
        self.spec = spec
        self.adapter = ""
        self.base_url = settings.openai_base_url.rstrip("/")
        self.model = settings.openai_model or spec.hub_id or spec.location
        self.timeout_s = float(settings.openai_timeout_s)
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
        stops = list(self.spec.stop_strings) + list(params.stop)
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stop": stops[:4],  # the OpenAI API takes at most four; all of them are applied below
        }
        yield from timed(until_stop_strings(self._pieces(body), stops), stats, stop_event)

    def _pieces(self, body: dict) -> Iterator[str]:
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        url = f"{self.base_url}/completions"
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=self.timeout_s) as resp:
                if resp.status_code != 200:
                    raise ModelNotAvailable(self._refusal(resp))
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield self._text(data)
        except httpx.TimeoutException:
            raise ModelNotAvailable(
                f"The endpoint {self.base_url} sent nothing for {self.timeout_s:g} s "
                "(MEDGEMMA_OPENAI_TIMEOUT_S); the answer was stopped."
            ) from None
        except httpx.ConnectError as exc:
            raise ModelNotAvailable(f"Cannot reach {self.base_url}: {exc}.") from None
        except httpx.HTTPError as exc:  # RemoteProtocolError, ReadError: the server went away mid-answer
            raise ModelNotAvailable(
                f"The endpoint {self.base_url} closed the connection in the middle of the answer ({exc})."
            ) from None
        raise ModelNotAvailable(
            f"The endpoint {self.base_url} ended the answer stream without its final [DONE]; "
            "the answer may be cut short."
        )

    def _refusal(self, resp: httpx.Response) -> str:
        resp.read()
        try:
            detail = resp.json()
            detail = detail.get("error", detail.get("detail", detail)) if isinstance(detail, dict) else detail
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
        except ValueError:
            detail = resp.text
        detail = str(detail).strip()[:300]
        if resp.status_code in (401, 403):
            return (
                f"The endpoint {self.base_url} refused the API key (HTTP {resp.status_code}: {detail}); "
                "check MEDGEMMA_OPENAI_API_KEY."
            )
        return f"The endpoint {self.base_url} answered HTTP {resp.status_code}: {detail}"

    def _text(self, data: str) -> str:
        try:
            choice = json.loads(data)["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelNotAvailable(
                f"The endpoint {self.base_url} sent a piece that is not an OpenAI completion: {data[:200]}"
            ) from None
        return choice.get("text") or ""
