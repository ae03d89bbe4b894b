"""A real PostgreSQL server for the tests that share an optuna study between machines (tests/test_sweep_storage.py).

Debian's PostgreSQL 15 (`apt-get install postgresql`, which .ci/run does) is started in a temporary folder on a free
loopback port, with a database and a password-protected user for the sweeps, and stopped at the end. The server
refuses to run as root, so as root it runs as the `postgres` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Debian's server binaries, of whichever major version its postgresql package installed (15 on Debian 12)
BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name),
          default=Path("/usr/lib/postgresql/15/bin"))
CHROMIUM = shutil.which("chromium")
USER, PASSWORD, DATABASE = "sweeper", "s3cret-pw", "sweeps"


def missing(what: str, package: str) -> None:
    """Skip on a developer's machine without `what`; fail under CI (`COURSE_CI` set by .ci/run), which installs it."""
    reason = f"{what} is not installed: .ci/run installs Debian's {package} package (apt-get install -y {package})"
    if os.environ.get("COURSE_CI"):
        pytest.fail(reason + ", and CI did not", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A running PostgreSQL: its port, and the URL of the sweeps' database as a teacher would write it."""

    port: int
    folder: Path

    def url(self, password: str = PASSWORD, host: str = "127.0.0.1", port: int | None = None) -> str:
        """`postgresql://USER:PASSWORD@HOST:PORT/DATABASE`: psycopg 3 through SQLAlchemy 2."""
        return f"postgresql://{USER}:{password}@{host}:{port or self.port}/{DATABASE}"


def as_server_user(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run `command` as the `postgres` user when we are root (the server refuses root), else as ourselves."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """Start a fresh PostgreSQL 15 with the sweeps' user and database; stop it and delete its folder at the end."""
    if not (BIN / "initdb").is_file():
        missing(f"PostgreSQL's server ({BIN}/initdb)", "postgresql")
    folder = Path(tempfile.mkdtemp(prefix="sweep-postgres-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o755)  # the server's user reaches it
    data, port = folder / "data", free_port()
    try:
        as_server_user([str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                        "--auth-host=scram-sha-256", "--no-sync"])
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"),
                        "-w", "start"])
        try:
            psql = [str(BIN / "psql"), "-h", str(folder), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
            as_server_user([*psql, "-c", f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"])
            as_server_user([*psql, "-c", f"CREATE DATABASE {DATABASE} OWNER {USER}"])
            yield Server(port, folder)
        finally:
            as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
