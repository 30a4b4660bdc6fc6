"""PostgreSQL extensions used by search, and the Editor / Publisher groups.

Editors import, edit, tag and annotate; only Publishers hold
`speeches.publish_speech` (publish / withdraw). Hand-written; reviewed code.
"""

from django.contrib.auth.management import create_permissions
from django.contrib.postgres.operations import (
    BtreeGinExtension,
    TrigramExtension,
    UnaccentExtension,
)
from django.db import migrations

EDITOR_MODELS = {
    "speeches": [
        "speaker",
        "speech",
        "version",
        "passage",
        "passagetext",
        "footnote",
        "annotation",
        "correction",
        "coverage",
        "term",
        "collection",
        "collectionitem",
        "taggedpassage",
        "taggedspeech",
    ],
    "taggit": ["tag"],
}
# Editors may delete these small editorial records; speeches and passages are
# removed only through services that leave redirects and tombstones.
EDITOR_DELETABLE = {
    "annotation",
    "footnote",
    "correction",
    "coverage",
    "taggedpassage",
    "taggedspeech",
    "collectionitem",
    "term",
}


def _ensure_permissions(apps) -> None:
    # Permissions are normally created after all migrations; a data migration
    # that assigns them must create them first.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_groups(apps, schema_editor):
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editor_codenames = []
    for app_label, models in EDITOR_MODELS.items():
        for model in models:
            actions = ["view", "add", "change"]
            if model in EDITOR_DELETABLE:
                actions.append("delete")
            editor_codenames += [(app_label, f"{action}_{model}") for action in actions]
    editor_perms = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in editor_codenames
    ]
    editor, _ = Group.objects.get_or_create(name="Editor")
    editor.permissions.set(editor_perms)
    publisher, _ = Group.objects.get_or_create(name="Publisher")
    publish = Permission.objects.get(content_type__app_label="speeches", codename="publish_speech")
    publisher.permissions.set([*editor_perms, publish])


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Editor", "Publisher"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("speeches", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("taggit", "0006_rename_taggeditem_content_type_object_id_taggit_tagg_content_8fc721_idx"),
    ]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        BtreeGinExtension(),
        migrations.RunPython(create_groups, remove_groups),
    ]
