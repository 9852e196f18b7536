"""state.py owns what the KnowledgeBase objects of one process share: loaded index generations,
loaded embedders, the newest warmed retriever of each index and the one-starter-build-at-a-time lock.

Services owns one per app process and passes it on; a KnowledgeBase made without one (a CLI verb, a test)
gets its own. It knows nothing about how indexes are built or searched.
"""

from __future__ import annotations

import threading
from pathlib import Path

from medgemma.knowledge.embeddings import Embedders
from medgemma.knowledge.retrieve import Retriever
from medgemma.knowledge.store import SnapshotCache


class KnowledgeState:
    def __init__(self, embedders: Embedders | None = None) -> None:
        self.snapshots = SnapshotCache()
        self.embedders = embedders if embedders is not None else Embedders()
        self.starter_lock = threading.Lock()  # one starter build at a time in this process
        self._ready: dict[Path, Retriever] = {}  # per store folder: the newest fully loaded retriever
        self._loading: set[Path] = set()  # store folders whose newer generation is loading in the background
        self._lock = threading.Lock()

    def publish(self, key: Path, retriever: Retriever) -> None:
        """Make this the ready retriever of its index, unless a newer generation is ready already."""
        with self._lock:
            ready = self._ready.get(key)
            if ready is None or ready.snapshot.generation <= retriever.snapshot.generation:
                self._ready[key] = retriever

    def ready(self, key: Path) -> tuple[Retriever | None, bool]:
        """The ready retriever of an index (None before its first load) and whether the caller should load
        the newer generation in the background: True for one caller until `loaded(key)`."""
        with self._lock:
            ready = self._ready.get(key)
            claim = ready is not None and key not in self._loading
            if claim:
                self._loading.add(key)
        return ready, claim

    def loaded(self, key: Path) -> None:
        """The background load of this index ended (done or failed): the next search may start another."""
        with self._lock:
            self._loading.discard(key)
