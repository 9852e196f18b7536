"""The knowledge base: files -> Documents -> Chunks -> vectors -> a stored index -> ranked Hits.

It owns reading files and corpus packs, upload checks, chunking, embeddings, the on-disk store, the
build engine and retrieval. It knows nothing of prompts, models that write answers, or the UI.
Public names are imported lazily, so `import medgemma.knowledge` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "KnowledgeBase": "base",
    "DocumentInfo": "base",
    "Builder": "builder",
    "FileStatus": "builder",
    "Source": "builder",
    "Chunker": "chunking",
    "chunk_documents": "chunking",
    "normalize_text": "chunking",
    "StarterSource": "corpus",
    "find_starter": "corpus",
    "Embedder": "embeddings",
    "Embedders": "embeddings",
    "default_embedding_model": "embeddings",
    "read_documents": "ingest",
    "is_supported": "uploads",
    "Retriever": "retrieve",
    "KnowledgeState": "state",
    "Store": "store",
    "Snapshot": "store",
    "check_count": "uploads",
    "check_file": "uploads",
}
__all__ = [
    "Builder",
    "Chunker",
    "DocumentInfo",
    "Embedder",
    "Embedders",
    "FileStatus",
    "KnowledgeBase",
    "KnowledgeState",
    "Retriever",
    "Snapshot",
    "Source",
    "StarterSource",
    "Store",
    "check_count",
    "check_file",
    "chunk_documents",
    "default_embedding_model",
    "find_starter",
    "is_supported",
    "normalize_text",
    "read_documents",
]

if TYPE_CHECKING:
    from medgemma.knowledge.base import DocumentInfo, KnowledgeBase
    from medgemma.knowledge.builder import Builder, FileStatus, Source
    from medgemma.knowledge.chunking import Chunker, chunk_documents, normalize_text
    from medgemma.knowledge.corpus import StarterSource, find_starter
    from medgemma.knowledge.embeddings import Embedder, Embedders, default_embedding_model
    from medgemma.knowledge.ingest import read_documents
    from medgemma.knowledge.retrieve import Retriever
    from medgemma.knowledge.state import KnowledgeState
    from medgemma.knowledge.store import Snapshot, Store
    from medgemma.knowledge.uploads import check_count, check_file, is_supported


__getattr__ = lazy_exports(__name__, _EXPORTS)
