"""Content stamps for the reading page's cache (speeches/reading.py).

* Speech.content_version: a number from the sequence `speeches_content_stamp`,
  given anew whenever a row the speech's reading page shows changes: the
  speech itself (any column but updated_at, the stamp and the search columns),
  its speaker, versions, passages, texts, footnotes, annotations, corrections
  (and their passages), coverage (and its passages), themes (of the speech, of
  its passages, and the themes' names), collections (membership and titles)
  and passage redirects. The page caches under it, so an edit of any kind —
  save(), QuerySet.update(), bulk_update(), the importer's raw INSERTs, a raw
  SQL statement — shows on the next request, and nothing needs invalidating.
* speeches_glossary_stamp: one row, one number, given anew by any change that
  involves a confirmed glossary term (every page links the confirmed terms).
  Candidate terms, which importers create, do not touch it.

Why this is safe. A stamp comes from a sequence, so a value is never handed out
twice, not even after a rollback; the speech row (or the glossary row) is
written in the same transaction as the change, so a reader's snapshot sees the
change and its stamp together or neither. Child tables bump their speeches with
statement-level triggers over transition tables: a bulk insert of 200 passages
bumps its speech once, not 200 times. The speech's own trigger (row-level,
BEFORE) ignores whatever content_version save() sends and decides itself: a
save that changes nothing the page shows keeps the stamp; anything else, the
bumps included, takes a fresh number. Simple-history tables are left alone.
"""

from django.db import migrations, models

SEQUENCE = "speeches_content_stamp"

# Table → the speeches a set of its rows (the transition table `{rows}`)
# belongs to, as a query returning speech ids.
SPEECHES_OF = {
    "speeches_version": "SELECT speech_id FROM {rows}",
    "speeches_passage": "SELECT speech_id FROM {rows}",
    "speeches_passagetext": (
        "SELECT p.speech_id FROM speeches_passage p JOIN {rows} r ON p.id = r.passage_id"
        " UNION SELECT search_speech_id FROM {rows}"
    ),
    "speeches_footnote": (
        "SELECT v.speech_id FROM speeches_version v JOIN {rows} r ON v.id = r.version_id"
    ),
    "speeches_annotation": (
        "SELECT p.speech_id FROM speeches_passage p JOIN {rows} r ON p.id = r.passage_id"
    ),
    "speeches_correction": (
        "SELECT v.speech_id FROM speeches_version v JOIN {rows} r ON v.id = r.version_id"
    ),
    "speeches_correction_passages": (
        "SELECT v.speech_id FROM speeches_correction c"
        " JOIN speeches_version v ON v.id = c.version_id JOIN {rows} r ON c.id = r.correction_id"
    ),
    "speeches_coverage": "SELECT speech_id FROM {rows}",
    "speeches_coverage_passages": (
        "SELECT c.speech_id FROM speeches_coverage c JOIN {rows} r ON c.id = r.coverage_id"
    ),
    "speeches_taggedpassage": (
        "SELECT p.speech_id FROM speeches_passage p JOIN {rows} r ON p.id = r.content_object_id"
    ),
    "speeches_taggedspeech": "SELECT content_object_id FROM {rows}",
    "speeches_collectionitem": "SELECT speech_id FROM {rows}",
    "speeches_collection": (
        "SELECT i.speech_id FROM speeches_collectionitem i JOIN {rows} r ON i.collection_id = r.id"
    ),
    "speeches_passageredirect": "SELECT speech_id FROM {rows}",
    "speeches_speaker": "SELECT s.id FROM speeches_speech s JOIN {rows} r ON s.speaker_id = r.id",
    "taggit_tag": (
        "SELECT p.speech_id FROM speeches_passage p"
        " JOIN speeches_taggedpassage t ON t.content_object_id = p.id"
        " JOIN {rows} r ON t.tag_id = r.id"
        " UNION SELECT t.content_object_id FROM speeches_taggedspeech t"
        " JOIN {rows} r ON t.tag_id = r.id"
    ),
}

# Tables one row of which reaches many speeches (a speaker's hundreds of
# speeches): an UPDATE that changes nothing but updated_at (a save() from a
# form left as it was) bumps none of them.
FAN_OUT = {"speeches_speaker", "speeches_collection", "taggit_tag"}
CHANGED_ROWS = (
    "(SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id"
    " WHERE to_jsonb(n) - 'updated_at' IS DISTINCT FROM to_jsonb(o) - 'updated_at')"
)

# Speech columns whose changes the page does not show (or that follow another
# column: the search columns follow the title).
UNSHOWN_SPEECH_COLUMNS = (
    "updated_at",
    "content_version",
    "search_title_tokens",
    "search_title_source",
    "search_vector",
)

COMMON = f"""
CREATE SEQUENCE {SEQUENCE} AS bigint;

-- Every speech in `ids` takes a fresh stamp (the speech trigger below gives it).
CREATE FUNCTION speeches_bump_speeches(ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE speeches_speech SET content_version = nextval('{SEQUENCE}')
     WHERE id = ANY(ids);
$$;

CREATE FUNCTION speeches_speech_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.content_version IS DISTINCT FROM OLD.content_version
       OR to_jsonb(NEW) - '{{{",".join(UNSHOWN_SPEECH_COLUMNS)}}}'::text[]
          IS DISTINCT FROM to_jsonb(OLD) - '{{{",".join(UNSHOWN_SPEECH_COLUMNS)}}}'::text[] THEN
        NEW.content_version := nextval('{SEQUENCE}');
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER speech_stamp
    BEFORE INSERT OR UPDATE ON speeches_speech
    FOR EACH ROW EXECUTE FUNCTION speeches_speech_stamp();

-- Whatever stamp the rows had (0 from the new column), each takes its own.
UPDATE speeches_speech SET content_version = nextval('{SEQUENCE}');

CREATE TABLE speeches_glossary_stamp (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    stamp bigint NOT NULL
);
INSERT INTO speeches_glossary_stamp (stamp) VALUES (nextval('{SEQUENCE}'));

CREATE FUNCTION speeches_term_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    confirmed boolean := false;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        confirmed := true;
    ELSIF TG_OP = 'INSERT' THEN
        confirmed := EXISTS (SELECT FROM new_rows WHERE status = 'confirmed');
    ELSIF TG_OP = 'UPDATE' THEN
        confirmed := EXISTS (SELECT FROM new_rows WHERE status = 'confirmed')
                  OR EXISTS (SELECT FROM old_rows WHERE status = 'confirmed');
    ELSE
        confirmed := EXISTS (SELECT FROM old_rows WHERE status = 'confirmed');
    END IF;
    IF confirmed THEN
        UPDATE speeches_glossary_stamp SET stamp = nextval('{SEQUENCE}');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER term_stamp_insert AFTER INSERT ON speeches_term
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION speeches_term_stamp();
CREATE TRIGGER term_stamp_update AFTER UPDATE ON speeches_term
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION speeches_term_stamp();
CREATE TRIGGER term_stamp_delete AFTER DELETE ON speeches_term
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION speeches_term_stamp();
CREATE TRIGGER term_stamp_truncate AFTER TRUNCATE ON speeches_term
    FOR EACH STATEMENT EXECUTE FUNCTION speeches_term_stamp();

-- A whole table emptied (manage.py flush): every speech takes a fresh stamp.
CREATE FUNCTION speeches_bump_all_speeches() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE speeches_speech SET content_version = nextval('{SEQUENCE}');
    RETURN NULL;
END $$;
"""

DROP_COMMON = f"""
DROP TRIGGER IF EXISTS term_stamp_truncate ON speeches_term;
DROP TRIGGER IF EXISTS term_stamp_delete ON speeches_term;
DROP TRIGGER IF EXISTS term_stamp_update ON speeches_term;
DROP TRIGGER IF EXISTS term_stamp_insert ON speeches_term;
DROP FUNCTION IF EXISTS speeches_term_stamp();
DROP TABLE IF EXISTS speeches_glossary_stamp;
DROP TRIGGER IF EXISTS speech_stamp ON speeches_speech;
DROP FUNCTION IF EXISTS speeches_speech_stamp();
DROP FUNCTION IF EXISTS speeches_bump_all_speeches();
DROP FUNCTION IF EXISTS speeches_bump_speeches(bigint[]);
DROP SEQUENCE IF EXISTS {SEQUENCE};
"""


def _table_sql(table: str, speeches_of: str) -> str:
    new_ids = speeches_of.format(rows="new_rows")
    old_ids = speeches_of.format(rows="old_rows")
    # Their ids never change, so the new rows that differ name every speech.
    updated_ids = (
        speeches_of.format(rows=CHANGED_ROWS) if table in FAN_OUT else f"{new_ids} UNION {old_ids}"
    )
    return f"""
CREATE FUNCTION {table}_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM speeches_bump_speeches(ARRAY({new_ids}));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM speeches_bump_speeches(ARRAY({updated_ids}));
    ELSE
        PERFORM speeches_bump_speeches(ARRAY({old_ids}));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER {table}_stamp_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_stamp();
CREATE TRIGGER {table}_stamp_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_stamp();
CREATE TRIGGER {table}_stamp_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_stamp();
CREATE TRIGGER {table}_stamp_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION speeches_bump_all_speeches();
"""


def _drop_table_sql(table: str) -> str:
    return (
        "".join(
            f"DROP TRIGGER IF EXISTS {table}_stamp_{event} ON {table};\n"
            for event in ("insert", "update", "delete", "truncate")
        )
        + f"DROP FUNCTION IF EXISTS {table}_stamp();\n"
    )


STAMP_SQL = COMMON + "".join(_table_sql(t, q) for t, q in SPEECHES_OF.items())
DROP_STAMP_SQL = "".join(_drop_table_sql(t) for t in SPEECHES_OF) + DROP_COMMON


class Migration(migrations.Migration):
    dependencies = [
        ("speeches", "0004_search_guard"),
    ]

    operations = [
        migrations.AddField(
            model_name="speech",
            name="content_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.RunSQL(STAMP_SQL, DROP_STAMP_SQL),
    ]
