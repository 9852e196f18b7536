"""registry.py owns where the list of jobs is kept: the run folders' status.json files themselves (FileRegistry,
the default) or, with MEDGEMMA_DATABASE_URL set, a `jobs` table (medgemma/db/jobs_state.py) so every replica
lists the same jobs. Logs, metrics and outputs always stay in the run folder; medgemma/db/state.py picks.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Protocol

from medgemma.config import Settings
from medgemma.jobs import runs

HOST = socket.gethostname()  # runs record where they run: only there can a pid be checked or signalled


class JobRegistry(Protocol):
    """`record` is called after a run's status.json changed (by the app or the job itself); `runs` lists
    runs newest first; `find` is one run by id, or None."""

    def record(self, folder: Path) -> None: ...

    def runs(self, kind: str = "") -> list[runs.RunInfo]: ...

    def find(self, run_id: str, kind: str = "") -> runs.RunInfo | None: ...


class FileRegistry:
    """The run folders under <home>/runs/<kind>/ are the registry: status.json read back with pid liveness."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def record(self, folder: Path) -> None:
        """Nothing to do: status.json already is the record."""

    def runs(self, kind: str = "") -> list[runs.RunInfo]:
        found: list[runs.RunInfo] = []
        for k in [kind] if kind else list(runs.KINDS):
            root = runs.runs_root(self.settings, k)
            if not root.is_dir():
                continue
            for folder in root.iterdir():
                if (folder / runs.STATUS_FILE).is_file():
                    found.append(runs.get_run(folder))
        return sorted(found, key=lambda r: (r.created, r.run_id), reverse=True)

    def find(self, run_id: str, kind: str = "") -> runs.RunInfo | None:
        for k in [kind] if kind else list(runs.KINDS):
            folder = runs.run_folder(self.settings, k, run_id)
            if (folder / runs.STATUS_FILE).is_file():
                return runs.get_run(folder)
        return None


def job_side_registry() -> JobRegistry:
    """The registry inside a `python -m medgemma` job: its own settings (the run's settings.yaml, with the
    database URL from the environment the app passed on) decide, as they decide everything else it does."""
    from medgemma.config import load_settings
    from medgemma.db.state import job_registry

    return job_registry(load_settings())
