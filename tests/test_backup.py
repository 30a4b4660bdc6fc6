"""The restore drill (archive/backup.py, `make backup` / `make restore`): back up
the test database with the server's own pg_dump, restore into a scratch
database created for it, and compare row counts and a content checksum; then
damage the copy and restore over it."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test import Client
from psycopg import sql
from taggit.models import Tag

from archive import backup
from speeches.models import Annotation, StoredPage, TaggedPassage
from tests.factories import make_bilingual_speech

TABLES = [
    "speeches_speaker",
    "speeches_speech",
    "speeches_version",
    "speeches_passage",
    "speeches_passagetext",
    "speeches_annotation",
    "speeches_taggedpassage",
    "speeches_historicalpassagetext",
    "taggit_tag",
    "auth_group",
    "django_migrations",
]
CHECKSUM = """
    SELECT md5(string_agg(p.key || '|' || v.code || '|' || t.text, E'\\n'
                          ORDER BY p.key, v.code))
    FROM speeches_passagetext t
    JOIN speeches_passage p ON p.id = t.passage_id
    JOIN speeches_version v ON v.id = t.version_id
"""


def snapshot(database: str) -> dict[str, object]:
    with psycopg.connect(backup.database_url(database)) as conn:
        counts: dict[str, object] = {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in TABLES
        }
        counts["checksum"] = conn.execute(CHECKSUM).fetchone()[0]
    return counts


def drop_database(database: str) -> None:
    admin = backup.database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


@pytest.mark.django_db(transaction=True)
def test_backup_drop_restore_gives_back_the_same_content(tmp_path):
    for n in range(3):
        speech = make_bilingual_speech(4 + n)
        speech.themes.add(f"Theme {n}")
        passage = speech.passages.first()
        Annotation.objects.create(passage=passage, body="长城 — a *note*")
        TaggedPassage.objects.create(
            content_object=passage, tag=Tag.objects.get_or_create(name="Shared")[0]
        )
    client = Client()
    assert client.get(speech.get_absolute_url(), secure=True).status_code == 200
    assert StoredPage.objects.count() == 1
    source = connection.settings_dict["NAME"]
    scratch = f"{source}_restore"
    drop_database(scratch)
    before = snapshot(source)
    assert before["speeches_passagetext"] == 2 * (4 + 5 + 6) and before["checksum"]

    path = backup.backup(tmp_path / "archive.dump", database=source)
    assert path.stat().st_size > 0
    try:
        backup.restore(path, database=scratch, create=True)
        assert snapshot(scratch) == before
        with psycopg.connect(backup.database_url(scratch)) as conn:
            # Derived data stays out of backups; the table itself is there.
            assert conn.execute("SELECT count(*) FROM speeches_storedpage").fetchone() == (0,)

        # Damage the copy, then restore over it: the backup replaces it whole.
        with psycopg.connect(backup.database_url(scratch), autocommit=True) as conn:
            conn.execute("DELETE FROM speeches_annotation")
            # (search_source: the search-token guard, see migration 0004)
            conn.execute(
                "UPDATE speeches_passagetext SET text = 'damaged', "
                "search_source = md5('damaged')::uuid"
            )
        assert snapshot(scratch) != before
        backup.restore(path, database=scratch)
        assert snapshot(scratch) == before
    finally:
        drop_database(scratch)


def test_restore_refuses_a_missing_file_and_an_existing_database(tmp_path):
    with pytest.raises(backup.BackupError, match="no such backup file"):
        backup.restore(tmp_path / "nothing.dump")
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.create_database("postgres")


def test_embedded_server_uses_its_own_tools(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = backup.tool("pg_dump", backup.database_url())
    assert path.startswith(str(backup.embedded_db.bin_dir()))
