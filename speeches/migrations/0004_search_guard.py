"""Search guard: the tokens' md5 must equal md5 of the current text (title).

A write that changes a text without recomputing its search tokens (a raw
UPDATE, QuerySet.update, bulk_update without the derived fields) now fails
instead of leaving a stale index behind. Every row was backfilled by 0003.
"""

import django.db.models.functions.comparison
import django.db.models.functions.text
import speeches.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("speeches", "0003_search_index"),
        ("taggit", "0006_rename_taggeditem_content_type_object_id_taggit_tagg_content_8fc721_idx"),
    ]

    operations = [
        migrations.AlterField(
            model_name="passagetext",
            name="search_source",
            field=speeches.models.SearchSourceField(source="text"),
        ),
        migrations.AlterField(
            model_name="speech",
            name="search_title_source",
            field=speeches.models.SearchSourceField(source="title"),
        ),
        migrations.AddConstraint(
            model_name="passagetext",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "search_source",
                        django.db.models.functions.comparison.Cast(
                            django.db.models.functions.text.MD5("text"), models.UUIDField()
                        ),
                    )
                ),
                name="passage_text_search_tokens_current",
            ),
        ),
        migrations.AddConstraint(
            model_name="speech",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "search_title_source",
                        django.db.models.functions.comparison.Cast(
                            django.db.models.functions.text.MD5("title"), models.UUIDField()
                        ),
                    )
                ),
                name="speech_search_tokens_current",
            ),
        ),
    ]
