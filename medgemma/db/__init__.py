"""The PostgreSQL foundation shared by the knowledge store and the shared state: connections (with the
password masked in every message), versioned migrations. Used only when MEDGEMMA_DATABASE_URL is set.
"""

from __future__ import annotations

from medgemma.db.connect import Database, connect, database, mask_url
from medgemma.db.migrations import current_version, migrate, migrations

__all__ = ["Database", "connect", "current_version", "database", "mask_url", "migrate", "migrations"]
