"""logs.py configures logging once for the app and the CLI, and scrubs secrets from log records."""

from __future__ import annotations

import logging
import re

from medgemma.config import env_var

_SECRET_PATTERN = re.compile(r"(hf_[A-Za-z0-9]{10,}|sk-[A-Za-z0-9]{10,})")


class SecretFilter(logging.Filter):
    """Masks anything shaped like a Hugging Face or OpenAI token before it reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if _SECRET_PATTERN.search(msg):
            record.msg = _SECRET_PATTERN.sub("***", msg)
            record.args = ()
        return True


def setup_logging(level: str | None = None) -> None:

    level = (level or env_var("MEDGEMMA_LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    if not any(isinstance(f, SecretFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(SecretFilter())
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in (
        "httpx",
        "httpcore",
        "urllib3",
        "sentence_transformers",
        "filelock",
        "faiss.loader",
        "bm25s",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
