"""services.py holds the process-wide shared state: the loaded model, the knowledge base with its loaded
indexes and embedders (one KnowledgeState), the safety guard and the starter build's status line, each
loaded lazily and swapped under a lock (e.g. a new adapter).

It knows nothing about the UI; the app, the CLI and the evaluation runner each use one Services (tests
build their own), and pass it to what needs it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from medgemma.config import Settings
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.embeddings import default_embedding_model
from medgemma.knowledge.state import KnowledgeState
from medgemma.models.adapters import active_adapter_path
from medgemma.models.backends import Backend, load_backend
from medgemma.models.devices import pick_device
from medgemma.safety.guard import SafetyGuard

logger = logging.getLogger(__name__)


class Services:
    def __init__(
        self, settings: Settings, *, knowledge: Any = None, guard: Any = None, backend: Backend | None = None
    ) -> None:
        """Collaborators can be passed in (tests pass fakes with the same interface)."""
        self.settings = settings
        self._lock = threading.RLock()
        self._backend: Backend | None = backend
        self._backend_key: tuple[str, str] | None = (
            (settings.model, settings.adapter) if backend is not None else None
        )
        self._fixed_backend = backend is not None
        self._knowledge: Any = knowledge
        self._knowledge_state: KnowledgeState | None = None
        self._guard: Any = guard
        self._embedder: Any = None
        self.starter_status = ""  # one line on the starter index build for the Chat tab; "" once it is ready

    # ---- the starter build's status line ----------------------------------------
    def report_starter(self, fraction: float, message: str) -> None:
        """The starter build's progress callback: keeps `starter_status` (the Chat tab's line) current,
        e.g. '📚 Keyword search: 33,278 chunks ready · Meaning search: 4,120 of 33,278 (12%), about 40 min
        left' while the vectors fill in behind a complete keyword side."""
        if message.startswith("Keyword search"):
            self.starter_status = f"📚 {message}"
        elif fraction >= 1.0:
            self.starter_status = ""
        else:
            self.starter_status = f"📚 Building the knowledge base: {message} ({fraction:.0%})"

    def building_note(self) -> str:
        """For a 'no source' answer while the knowledge base is still being built: a sentence saying so and
        when it will be done; '' once it is complete."""
        return self.knowledge().coverage().note()

    # ---- model ------------------------------------------------------------------
    def active_adapter(self) -> str:
        """The adapter chosen in the admin registry, else the one in settings."""
        chosen = active_adapter_path(self.settings)
        return self.settings.adapter if chosen is None else chosen

    def backend(self, model: str | None = None, adapter: str | None = None) -> Backend:
        """The loaded model; reloads when the requested model or adapter changes."""
        key = (model or self.settings.model, self.active_adapter() if adapter is None else adapter)
        with self._lock:
            if self._fixed_backend and self._backend is not None:
                return self._backend
            if self._backend is None or self._backend_key != key:
                self._backend = None  # free the old one first
                self._backend = load_backend(self.settings, model=key[0], adapter=key[1])
                self._backend_key = key
            return self._backend

    # ---- knowledge base, embedder, safety ---------------------------------------
    def knowledge_state(self) -> KnowledgeState:
        """The loaded index generations, retrievers and embedders this process shares (made on first use)."""
        with self._lock:
            if self._knowledge_state is None:
                self._knowledge_state = KnowledgeState()
            return self._knowledge_state

    def embedder(self):
        """The configured embedding model (the one the index uses), loaded once."""
        with self._lock:
            if self._embedder is None:
                device = pick_device(self.settings.device)
                name = default_embedding_model(
                    self.settings.embedding_model, device, self.settings.embedding_backend
                )
                self._embedder = self.knowledge_state().embedders.get(
                    name, self.settings.path("models"), device
                )
            return self._embedder

    def knowledge(self):
        """The default knowledge base, over this process's KnowledgeState."""
        with self._lock:
            if self._knowledge is None:
                self._knowledge = KnowledgeBase(self.settings, state=self.knowledge_state())
            return self._knowledge

    def guard(self):
        """The safety guard; its learned layer shares this process's embedders."""
        with self._lock:
            if self._guard is None:
                self._guard = SafetyGuard(self.settings, embedders=self.knowledge_state().embedders)
            return self._guard
