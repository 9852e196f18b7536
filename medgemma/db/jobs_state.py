"""jobs_state.py is the job registry in PostgreSQL (table jobs of migration 002): each run's status.json
mirrored into a row (id, kind, state, host, pid, created, updated), so every replica lists the same jobs.
Runs whose status.json was never recorded (made before the database was configured) are listed too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.db.connect import Database
from medgemma.db.state import fetch, jsonb, retried
from medgemma.jobs import runs
from medgemma.jobs.registry import HOST, FileRegistry
from medgemma.storage import read_json

COLUMNS = "id, kind, host, folder, status, config"


class PgJobRegistry:
    """The jobs table, and this machine's run folders for runs the table does not know."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.files = db, FileRegistry(settings)

    def record(self, folder: Path) -> None:
        """Upsert the run's row from its status.json and config.json as they are now (an upsert: safe to retry)."""
        folder = Path(folder)
        status = read_json(folder / runs.STATUS_FILE, {}) or {}
        config = read_json(folder / "config.json", {}) or {}
        created = status.get("created") or runs.now_iso()
        retried(self.db, lambda: self._upsert(folder, status, config, created))

    def _upsert(self, folder: Path, status: dict[str, Any], config: dict[str, Any], created: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs (id, kind, state, host, pid, folder, created, status, config)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s::timestamptz, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, state = EXCLUDED.state,"
                " host = EXCLUDED.host, pid = EXCLUDED.pid, folder = EXCLUDED.folder,"
                " status = EXCLUDED.status, config = EXCLUDED.config, updated = clock_timestamp()",
                (
                    status.get("run_id") or folder.name,
                    status.get("kind") or folder.parent.name,
                    status.get("state") or "queued",
                    HOST,
                    status.get("pid"),
                    str(folder),
                    created,
                    jsonb(status),
                    jsonb(config),
                ),
            )

    def runs(self, kind: str = "") -> list[runs.RunInfo]:
        where, args = ("WHERE kind = %s", (kind,)) if kind else ("", ())
        found = {row[0]: _run(row) for row in fetch(self.db, f"SELECT {COLUMNS} FROM jobs {where}", args)}
        for run in self.files.runs(kind):  # run folders here that were never recorded
            found.setdefault(run.run_id, run)
        return sorted(found.values(), key=lambda r: (r.created, r.run_id), reverse=True)

    def find(self, run_id: str, kind: str = "") -> runs.RunInfo | None:
        where, args = ("AND kind = %s", (run_id, kind)) if kind else ("", (run_id,))
        rows = fetch(self.db, f"SELECT {COLUMNS} FROM jobs WHERE id = %s {where}", args)
        return _run(rows[0]) if rows else self.files.find(run_id, kind)


def _run(row: tuple[Any, ...]) -> runs.RunInfo:
    run_id, kind, host, folder, status, config = row
    return runs.run_info(Path(folder), {"kind": kind, "run_id": run_id, **status}, config, host=host)
