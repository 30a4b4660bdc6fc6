"""The embedded server's life cycle, in a scratch var/ dir (its own server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from archive import embedded_db

ROOT = Path(__file__).resolve().parent.parent


def embedded(var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARCHIVE_VAR_DIR": str(var_dir)}
    return subprocess.run(
        [sys.executable, "-m", "archive.embedded_db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def psql(var_dir: Path, sql: str) -> str:
    env = {**os.environ, "ARCHIVE_VAR_DIR": str(var_dir)}
    code = (
        "import sys; from archive import embedded_db as e; "
        "print(e._psql(sys.argv[1], database='archive'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sql],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_start_stop_reuse_and_recover_from_a_crash(tmp_path: Path):
    var_dir = tmp_path / "var"
    try:
        started = embedded(var_dir, "start")
        assert started.returncode == 0, started.stderr
        assert embedded(var_dir, "status").stdout.strip() == "running"
        # C.UTF-8 database: Chinese punctuation splits lexemes.
        lexemes = psql(var_dir, "SELECT to_tsvector('simple', '建设网络强国，推进自主创新。')")
        assert lexemes == "'建设网络强国':1 '推进自主创新':2"
        # The server runs with the settings sized for this machine.
        wanted = embedded_db.server_settings()
        assert psql(var_dir, "SHOW jit") == "off"
        assert psql(var_dir, "SHOW random_page_cost") == wanted["random_page_cost"]
        for name in ("shared_buffers", "work_mem", "effective_cache_size"):
            size = psql(var_dir, f"SELECT pg_size_bytes(current_setting('{name}'))")
            assert int(size) == int(wanted[name].removesuffix("MB")) * 2**20, name
        psql(var_dir, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")

        assert embedded(var_dir, "stop").returncode == 0
        assert embedded(var_dir, "status").stdout.strip() == "stopped"

        # A second start reuses the data.
        assert embedded(var_dir, "start").returncode == 0
        assert psql(var_dir, "SELECT n FROM kept") == "42"

        # A crash (the postmaster killed) leaves a stale postmaster.pid behind …
        pid = int((var_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert (var_dir / "pgdata" / "postmaster.pid").exists()
        # … which does not block the next start, and the data survives.
        restarted = embedded(var_dir, "start")
        assert restarted.returncode == 0, restarted.stderr
        assert psql(var_dir, "SELECT n FROM kept") == "42"
    finally:
        embedded(var_dir, "stop")


def test_server_settings_fit_small_and_large_machines():
    small = embedded_db.server_settings(512 * 2**20)
    assert small["shared_buffers"] == "128MB"  # PostgreSQL's default: still starts
    assert small["work_mem"] == "4MB"
    assert embedded_db.server_settings(4 * 2**30)["shared_buffers"] == "1024MB"
    large = embedded_db.server_settings(256 * 2**30)
    assert large["shared_buffers"] == "4096MB"
    assert large["jit"] == "off"
    assert embedded_db.physical_memory() > 0
