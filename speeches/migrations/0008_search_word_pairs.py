"""Word pairs for English phrases.

`speeches_word_pairs(search_vector)` lists each lexeme of a vector with the
lexeme at the next position that holds one, and the distance between them:
"government of the people" → 'govern peopl 3' (stopwords hold no lexeme, so the
pair spans them). A GIN index over it (English rows) lets a phrase of frequent
words look up its pairs — 'govern peopl 3' is in 3,276 of 1M texts where
'govern' & 'peopl' are in 39,681 — instead of intersecting two long posting
lists and rechecking positions row by row (docs/search.md, "Phrases").

It is an index over a function of the stored vector, not a column: PostgreSQL
keeps it with every write, so it cannot drift, and it costs no heap space.
Positions at PostgreSQL's cap (16,383: every word past it sits there) make no
pairs, and a pair longer than 1,000 bytes is left out (a tsvector lexeme must
stay under 2 kB); a phrase then falls back to its plain match (search.py).
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

WORD_PAIRS_SQL = r"""
CREATE FUNCTION speeches_word_pairs(v tsvector) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  lx text[];
  ps int[];
  n int;
  j int;
  k int;
  pairs text[] := '{}';
BEGIN
  SELECT array_agg(u.lexeme ORDER BY pos), array_agg(pos ORDER BY pos) INTO lx, ps
    FROM unnest(v) AS u, unnest(u.positions) AS pos;
  n := coalesce(array_length(ps, 1), 0);
  FOR i IN 1 .. n - 1 LOOP
    EXIT WHEN ps[i] >= 16383;
    j := i + 1;
    WHILE j <= n AND ps[j] = ps[i] LOOP
      j := j + 1;
    END LOOP;
    k := j;
    WHILE k <= n AND ps[k] = ps[j] AND ps[k] < 16383 LOOP
      IF octet_length(lx[i]) + octet_length(lx[k]) < 1000 THEN
        pairs := pairs || (lx[i] || ' ' || lx[k] || ' ' || (ps[k] - ps[i]));
      END IF;
      k := k + 1;
    END LOOP;
  END LOOP;
  RETURN array_to_tsvector(pairs);
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("speeches", "0007_search_day_in_gin"),
    ]

    operations = [
        migrations.RunSQL(WORD_PAIRS_SQL, "DROP FUNCTION speeches_word_pairs(tsvector)"),
        migrations.AddIndex(
            model_name="passagetext",
            index=django.contrib.postgres.indexes.GinIndex(
                models.Func(
                    models.F("search_vector"),
                    function="speeches_word_pairs",
                    output_field=django.contrib.postgres.search.SearchVectorField(),
                ),
                models.Func(
                    models.F("search_date"),
                    template="(%(expressions)s - DATE '1970-01-01')",
                    output_field=models.IntegerField(),
                ),
                condition=models.Q(("search_lang", "en"), ("search_public", True)),
                name="passage_text_search_pairs",
            ),
        ),
    ]
