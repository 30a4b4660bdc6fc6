"""Backups of the archive's database with the PostgreSQL tools that match its server.

    python -m archive.backup backup [FILE] [--database NAME]
    python -m archive.backup restore FILE [--database NAME] [--create]

(`make backup`, `make restore FILE=…`.) A backup is `pg_dump --format=custom`:
a consistent snapshot taken without blocking readers or writers. A restore is
`pg_restore --clean --if-exists --single-transaction`: it replaces what the
target database holds, all or nothing; `--create` first creates the database
(e.g. after it was dropped) with the UTF-8 C.UTF-8 builtin locale the archive's
text search needs.

Which tools: for the embedded server (no DATABASE_URL), the wheel's own
pg_dump/pg_restore, which are exactly the server's version; with DATABASE_URL,
the ones on PATH, refused if their major version is older than the server's
(pg_dump cannot dump a newer server: Debian 12's tools are 15, the compose
server is 18 — run the backup inside the `db` container then, see README).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from archive import embedded_db

BACKUP_DIR = embedded_db.VAR_DIR / "backups"


class BackupError(Exception):
    pass


def database_url(database: str | None = None) -> str:
    """The libpq connection string of the archive's database (or `database` on
    the same server)."""
    url = os.environ.get("DATABASE_URL") or embedded_db.database_url()
    url = re.sub(r"^postgres(ql)?\+?[a-z0-9]*://", "postgresql://", url)
    return make_conninfo(url, dbname=database) if database else make_conninfo(url)


def _server_major(conninfo: str) -> int:
    params = conninfo_to_dict(conninfo)
    params["dbname"] = "postgres"  # reachable even when the target does not exist yet
    with psycopg.connect(make_conninfo(**params), connect_timeout=10) as conn:
        return conn.info.server_version // 10000


def tool(name: str, conninfo: str) -> str:
    """The pg_dump / pg_restore / psql that matches the server."""
    if not os.environ.get("DATABASE_URL"):
        return embedded_db.tool_path(name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"(\d+)(?:\.\d+)?", version.stdout)
    client_major = int(match.group(1)) if match else 0
    server_major = _server_major(conninfo)
    if client_major < server_major:
        raise BackupError(
            f"{found} is PostgreSQL {client_major} but the server is {server_major}: "
            f"use the server's own tools (e.g. `docker compose exec db {name} …`)"
        )
    return found


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed ({result.returncode}):\n{result.stderr}")


STORED_PAGES = "speeches_storedpage"


def backup(path: Path | None = None, *, database: str | None = None) -> Path:
    """Dump the database to `path` (default var/backups/archive-<UTC time>.dump)."""
    conninfo = database_url(database)
    if path is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = BACKUP_DIR / f"archive-{stamp}.dump"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    _run(
        [
            tool("pg_dump", conninfo),
            "--format=custom",
            "--no-owner",
            # Rendered pages (speeches/pagestore.py) are derived data, rebuilt
            # on the next request: the table is restored empty.
            f"--exclude-table-data={STORED_PAGES}",
            "--file",
            str(tmp),
            conninfo,
        ]
    )
    tmp.replace(path)  # a backup file that exists is a complete one
    return path


def create_database(database: str) -> None:
    params = conninfo_to_dict(database_url(database))
    params["dbname"] = "postgres"
    with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists:
            raise BackupError(f"database {database!r} already exists; restore without --create")
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' "
                "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'"
            ).format(sql.Identifier(database))
        )


def restore(path: Path, *, database: str | None = None, create: bool = False) -> None:
    """Replace the database's contents with the backup at `path`, in one transaction."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    if create:
        create_database(database or conninfo_to_dict(database_url())["dbname"])
    conninfo = database_url(database)
    _run(
        [
            tool("pg_restore", conninfo),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            conninfo,
            str(path),
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m archive.backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("backup", help="pg_dump the database to FILE")
    dump.add_argument("file", nargs="?", type=Path)
    dump.add_argument("--database", help="another database on the same server")
    load = commands.add_parser("restore", help="replace the database with FILE")
    load.add_argument("file", type=Path)
    load.add_argument("--database", help="another database on the same server")
    load.add_argument("--create", action="store_true", help="create the database first")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        embedded_db.start()
    try:
        if args.command == "backup":
            path = backup(args.file, database=args.database)
            print(f"Backup written: {path} ({path.stat().st_size / 1e6:.1f} MB)")
        else:
            restore(args.file, database=args.database, create=args.create)
            print(f"Restored {args.file} into {args.database or 'the archive database'}.")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
