"""The editors' admin: configured, not rewritten.

Every model with history uses SimpleHistoryAdmin (history pages; revert).
Writes that span rows — publishing, slug changes, inserting, splitting,
merging, deleting and tagging passages, reverting a passage — go through
`speeches.services`, the same functions the commands use.

The passage editor is the Passage changelist filtered by speech
(`?speech__id__exact=<id>`, linked from each speech as "Edit passages (N)"):
one row per passage with every version's opening words side by side, and
bulk actions. A passage's change form shows one text per version, aligned.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from simple_history.admin import SimpleHistoryAdmin
from taggit.models import Tag

from speeches import services
from speeches.anchoring import reanchor_annotations
from speeches.forms import (
    ImportSpeechForm,
    InsertPassageForm,
    PassageAdminForm,
    PassageTextInlineForm,
    ReasonForm,
    SplitPassageForm,
    ThemeActionForm,
)
from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Correction,
    Coverage,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    SlugHistory,
    Speaker,
    Speech,
    TaggedPassage,
    Term,
    Version,
)

PREVIEW_LENGTH = 120


def _preview(text: str, length: int = PREVIEW_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _passage_editor_url(speech_id: int) -> str:
    return (
        reverse("admin:speeches_passage_changelist")
        + "?"
        + urlencode({"speech__id__exact": speech_id})
    )


def _action_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    form,
    title: str,
    action: str,
    button: str,
    extra: dict | None = None,
) -> TemplateResponse:
    """The intermediate page of an admin action that needs input (a reason, a theme)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "queryset": queryset,
        "form": form,
        "action": action,
        "button": button,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "select_across": request.POST.get("select_across", "0"),
        **(extra or {}),
    }
    return TemplateResponse(request, "admin/speeches/action_form.html", context)


# ---------------------------------------------------------------- speakers


@admin.register(Speaker)
class SpeakerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "name_original", "roles", "slug"]
    search_fields = ["name", "name_original", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# ---------------------------------------------------------------- speeches


class VersionInline(admin.TabularInline):
    model = Version
    fields = ["code", "language", "is_original", "title", "translators", "source_name"]
    extra = 0
    classes = ["collapse"]
    show_change_link = True


@admin.register(Speech)
class SpeechAdmin(SimpleHistoryAdmin):
    list_display = [
        "title",
        "speaker",
        "delivered_on",
        "kind",
        "original_language",
        "status",
        "passages_link",
    ]
    list_filter = [
        "status",
        "kind",
        "original_language",
        ("speaker", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["speaker"]
    date_hierarchy = "delivered_on"
    search_fields = ["title", "nickname", "slug", "speaker__name", "speaker__name_original"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["speaker"]
    inlines = [VersionInline]
    actions = ["publish_selected", "withdraw_selected"]
    change_list_template = "admin/speeches/speech/change_list.html"
    fieldsets = [
        (None, {"fields": ["title", "slug", "speaker", "passages_link"]}),
        (
            "Event",
            {
                "fields": [
                    ("delivered_on", "date_precision"),
                    "occasion",
                    "place",
                    ("original_language", "kind"),
                    "nickname",
                ]
            },
        ),
        ("Description", {"fields": ["summary", "themes"]}),
        ("Publication", {"fields": ["status", "published_at", "withdrawn_reason"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(passage_count=Count("passages"))

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.PUBLISH_PERMISSION)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = ["passages_link", "published_at"]
        if not self.has_publish_permission(request):
            fields += ["status", "withdrawn_reason"]
        return fields

    @admin.display(description="Passages")
    def passages_link(self, obj: Speech) -> str:
        if obj.pk is None:
            return "—"
        count = getattr(obj, "passage_count", None)
        if count is None:
            count = obj.passages.count()
        return format_html(
            '<a href="{}">Edit passages ({})</a>', _passage_editor_url(obj.pk), count
        )

    def save_model(self, request: HttpRequest, obj: Speech, form, change: bool) -> None:
        """Status and slug changes go through the services, whatever form or
        history revert carried them: compared with the database, not the form."""
        stored = Speech.objects.filter(pk=obj.pk).first() if change else None
        new_status, new_slug = obj.status, obj.slug
        old_status = stored.status if stored else Speech.Status.DRAFT
        if new_status != old_status:
            obj.status = old_status
            if stored is not None:
                obj.published_at = stored.published_at
                obj.withdrawn_reason = stored.withdrawn_reason
        if stored is not None and new_slug != stored.slug:
            obj.slug = stored.slug
        super().save_model(request, obj, form, change)
        if stored is not None and new_slug != stored.slug:
            services.change_speech_slug(speech=obj, new_slug=new_slug, user=request.user)
            obj.slug = new_slug
        if new_status == old_status or not self.has_publish_permission(request):
            return
        if new_status == Speech.Status.PUBLISHED:
            services.publish_speech(speech=obj, user=request.user)
        elif new_status == Speech.Status.WITHDRAWN:
            reason = form.cleaned_data.get("withdrawn_reason") or "Withdrawn by a publisher."
            services.withdraw_speech(speech=obj, user=request.user, reason=reason)
        else:
            obj.status = new_status
            obj.save(update_fields=["status"])

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class SpeechForm(form):
            def clean_slug(self) -> str:
                slug = self.cleaned_data["slug"]
                taken = SlugHistory.objects.filter(old_slug=slug)
                if self.instance.pk:
                    taken = taken.exclude(speech_id=self.instance.pk)
                if taken.exists():
                    raise ValidationError("This slug was used by another speech; old links use it.")
                return slug

        return SpeechForm

    @admin.action(description="Publish selected speeches", permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for speech in queryset:
            services.publish_speech(speech=speech, user=request.user)
        self.message_user(request, f"Published {len(queryset)} speech(es).", messages.SUCCESS)

    @admin.action(description="Withdraw selected speeches…", permissions=["publish"])
    def withdraw_selected(self, request: HttpRequest, queryset: QuerySet):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for speech in queryset:
                services.withdraw_speech(
                    speech=speech, user=request.user, reason=form.cleaned_data["reason"]
                )
            self.message_user(request, f"Withdrew {len(queryset)} speech(es).", messages.SUCCESS)
            return None
        return _action_page(
            self,
            request,
            queryset,
            form=form,
            title="Withdraw speeches",
            action="withdraw_selected",
            button="Withdraw",
        )

    # ------------------------------------------------------------ import

    def get_urls(self):
        urls = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="speeches_speech_import",
            )
        ]
        return urls + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Import one speech (or several DigiChina files) from uploaded files.

        Everything is parsed before anything is written; a parse error is shown
        naming the file and line and nothing is written. All documents are
        written in one transaction.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportSpeechForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            imported = self._import_files(request, form.cleaned_data["files"])
            if imported is not None:
                self.message_user(
                    request,
                    "Imported as draft: " + ", ".join(s.title for s in imported),
                    messages.SUCCESS,
                )
                if len(imported) == 1:
                    return HttpResponseRedirect(
                        reverse("admin:speeches_speech_change", args=[imported[0].pk])
                    )
                return HttpResponseRedirect(reverse("admin:speeches_speech_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import speech from files",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/speeches/speech/import.html", context)

    def _import_files(self, request: HttpRequest, files: list) -> list[Speech] | None:
        # Imported here, not at module level: the admin must load even while
        # an importer module is broken, and most admin requests never import.
        from speeches.importers.document import ImportFormatError

        with tempfile.TemporaryDirectory(prefix="speech-import-") as folder:
            paths = []
            for upload in files:
                target = os.path.join(folder, os.path.basename(upload.name))
                with open(target, "wb") as handle:
                    for chunk in upload.chunks():
                        handle.write(chunk)
                paths.append(target)
            try:
                documents = _parse_uploaded(paths)
                if not self.has_publish_permission(request):
                    # Front matter may say `status: published`; only publishers publish.
                    for document in documents:
                        document.status = Speech.Status.DRAFT
                with transaction.atomic():
                    return [_write_document(document, request.user) for document in documents]
            except ImportFormatError as error:
                message = str(error).replace(folder + os.sep, "")
                self.message_user(request, f"Nothing imported. {message}", messages.ERROR)
                return None


def _parse_uploaded(paths: list[str]) -> list:
    from speeches.importers.document import ImportFormatError, SpeechDocument

    if paths[0].lower().endswith(".md"):
        from speeches.importers.native import parse_native_files

        return parse_native_files(paths)
    from speeches.importers.digichina import parse_digichina_file

    documents = []
    for file_path in paths:
        document = parse_digichina_file(file_path)
        if not isinstance(document, SpeechDocument):
            raise ImportFormatError(
                "this is an article about a speech (coverage), not a speech; "
                "add it under Coverage or with the import command",
                path=file_path,
            )
        documents.append(document)
    return documents


def _write_document(document, user) -> Speech:
    from speeches.importers.writer import import_speech_document

    return import_speech_document(document, user=user).speech


# ---------------------------------------------------------------- passages


class PassageTextInline(admin.TabularInline):
    """One row per version: editing a passage shows all its versions aligned."""

    model = PassageText
    form = PassageTextInlineForm
    extra = 0
    can_delete = False
    ordering = ["-version__is_original", "version__code"]

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "version":
            # A plain select: no add/change/view buttons beside each text.
            return db_field.formfield(**kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            field = formset.form.base_fields["version"]
            field.queryset = Version.objects.filter(speech_id=obj.speech_id)
            formset.max_num = field.queryset.count()
        return formset

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("version")


class AnnotationInline(admin.TabularInline):
    """Annotations are listed here; they are written in the Annotation admin."""

    model = Annotation
    fields = ["body", "version", "exact", "visibility", "is_orphaned"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("version")


@admin.register(Passage)
class PassageAdmin(SimpleHistoryAdmin):
    form = PassageAdminForm
    inlines = [PassageTextInline, AnnotationInline]
    list_filter = [("speech", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["speech"]
    list_per_page = 250  # a whole speech (30–200 passages) on one page
    show_full_result_count = False
    search_fields = ["key", "turn_speaker", "texts__text"]
    ordering = ["speech", "position"]
    readonly_fields = ["speech", "key", "position", "public_link"]
    fields = ["speech", "key", "position", "public_link", "turn_speaker", "themes", "new_themes"]
    actions = ["tag_with_theme", "untag_theme", "merge_with_next", "delete_with_reason"]
    change_list_template = "admin/speeches/passage/change_list.html"
    change_form_template = "admin/speeches/passage/change_form.html"
    object_history_template = "admin/speeches/passage/object_history.html"

    # Passages are created and removed only by the services (keys, positions, redirects).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def revert_disabled(self, request: HttpRequest, obj=None) -> bool:
        # simple-history's own revert would restore `position` too; a passage is
        # reverted by `services.revert_passage` (texts and themes) instead.
        return True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "texts", queryset=PassageText.objects.only("passage_id", "version_id", "text")
                ),
                "themes",
            )
        )

    def _filtered_speech(self, request: HttpRequest) -> Speech | None:
        if not hasattr(request, "_passage_editor_speech"):
            speech_id = request.GET.get("speech__id__exact", "")
            speech = None
            if speech_id.isdigit():
                speech = Speech.objects.filter(pk=speech_id).first()
            request._passage_editor_speech = speech
            request._passage_editor_versions = list(speech.versions.all()) if speech else []
        return request._passage_editor_speech

    def get_list_display(self, request: HttpRequest) -> list:
        if self._filtered_speech(request) is None:
            return ["speech", "position", "key", "turn_speaker", "text_preview", "theme_list"]
        columns: list = ["position", "key", "turn_speaker"]
        columns += [_version_column(version) for version in request._passage_editor_versions]
        return [*columns, "theme_list"]

    def get_list_display_links(self, request: HttpRequest, list_display) -> list[str]:
        return ["position", "key"]

    @admin.display(description="Text")
    def text_preview(self, obj: Passage) -> str:
        return format_html_join(
            "", "<div>{}</div>", ((_preview(pt.text),) for pt in obj.texts.all())
        )

    @admin.display(description="Themes")
    def theme_list(self, obj: Passage) -> str:
        return ", ".join(sorted(tag.name for tag in obj.themes.all()))

    @admin.display(description="Public page")
    def public_link(self, obj: Passage) -> str:
        return format_html('<a href="{0}">{0}</a>', obj.get_absolute_url())

    def changelist_view(self, request: HttpRequest, extra_context=None):
        speech = self._filtered_speech(request)
        extra = {"speech": speech}
        if speech is not None:
            extra["insert_at_start_url"] = self._insert_url(speech.pk, None)
            extra["speech_change_url"] = reverse("admin:speeches_speech_change", args=[speech.pk])
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url="", extra_context=None
    ):
        # The passage, its texts and its themes saved by one form are one step in history.
        with services.changeset():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        passage = self.get_object(request, object_id)
        extra = {}
        if passage is not None:
            extra = {
                "split_url": reverse("admin:speeches_passage_split", args=[passage.pk]),
                "insert_after_url": self._insert_url(passage.speech_id, passage.pk),
                "passage_editor_url": _passage_editor_url(passage.speech_id),
                "add_annotation_url": reverse("admin:speeches_annotation_add")
                + "?"
                + urlencode({"passage": passage.pk}),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not PassageText:
            return super().save_formset(request, form, formset, change)
        for passage_text in formset.save(commit=False):
            if passage_text.pk:
                services.update_passage_text(
                    passage_text=passage_text, text=passage_text.text, user=request.user
                )
            else:
                passage_text.save()
        reanchor_annotations(passage=form.instance)

    @staticmethod
    def _insert_url(speech_id: int, after_id: int | None) -> str:
        query = {"speech": speech_id, **({"after": after_id} if after_id else {})}
        return reverse("admin:speeches_passage_insert") + "?" + urlencode(query)

    # ------------------------------------------------------------ extra views

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("insert/", wrap(self.insert_view), name="speeches_passage_insert"),
            path("<int:object_id>/split/", wrap(self.split_view), name="speeches_passage_split"),
            path("<int:object_id>/revert/", wrap(self.revert_view), name="speeches_passage_revert"),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, template: str, title: str, **context) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            **context,
        }
        return TemplateResponse(request, template, context)

    def insert_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("speeches.add_passage"):
            raise PermissionDenied
        speech = get_object_or_404(Speech, pk=request.GET.get("speech") or 0)
        after = None
        if request.GET.get("after"):
            after = get_object_or_404(Passage, pk=request.GET["after"], speech=speech)
        form = InsertPassageForm(request.POST or None, speech=speech)
        if request.method == "POST" and form.is_valid():
            try:
                passage = services.insert_passage(
                    speech=speech,
                    after=after,
                    texts=form.cleaned_data["texts"],
                    turn_speaker=form.cleaned_data["turn_speaker"],
                    user=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    f"Inserted passage {passage.key} at ¶{passage.position}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(_passage_editor_url(speech.pk))
        where = f"after ¶{after.position} ({after.key})" if after else "at the start"
        return self._page(
            request,
            "admin/speeches/passage/insert.html",
            f"Insert a passage {where} of “{speech}”",
            form=form,
            speech=speech,
            after=after,
        )

    def split_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        passage = get_object_or_404(Passage.objects.select_related("speech"), pk=object_id)
        if not self.has_change_permission(request, passage):
            raise PermissionDenied
        form = SplitPassageForm(request.POST or None, passage=passage)
        if request.method == "POST" and form.is_valid():
            try:
                first, second = services.split_passage(
                    passage=passage, version_splits=form.cleaned_data["splits"], user=request.user
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    f"Split ¶{first.position}: {first.key} kept its key; the rest is {second.key}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(_passage_editor_url(passage.speech_id))
        return self._page(
            request,
            "admin/speeches/passage/split.html",
            f"Split passage ¶{passage.position} ({passage.key})",
            form=form,
            original=passage,
            marker="||",
        )

    def revert_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        passage = get_object_or_404(Passage, pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, passage):
            raise PermissionDenied
        as_of = parse_datetime(request.POST.get("as_of", ""))
        history_url = reverse("admin:speeches_passage_history", args=[passage.pk])
        if as_of is None:
            self.message_user(request, "Choose a version to revert to.", messages.ERROR)
            return HttpResponseRedirect(history_url)
        if timezone.is_naive(as_of):
            as_of = timezone.make_aware(as_of)
        try:
            services.revert_passage(passage=passage, as_of=as_of, user=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(history_url)
        self.message_user(
            request, f"Reverted texts and themes to {as_of:%Y-%m-%d %H:%M:%S}.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:speeches_passage_change", args=[passage.pk]))

    def history_view(self, request: HttpRequest, object_id, extra_context=None):
        """The usual history plus one timeline of text and theme changes, each
        with a "Revert to this version" button."""
        passage = Passage.objects.filter(pk=object_id).first()
        timeline = _passage_timeline(passage) if passage is not None else []
        can_revert = passage is not None and self.has_change_permission(request, passage)
        extra = {
            "timeline": timeline,
            "can_revert_passage": can_revert,
            "revert_url": reverse("admin:speeches_passage_revert", args=[object_id])
            if passage is not None
            else "",
        }
        return super().history_view(request, object_id, {**extra, **(extra_context or {})})

    # ------------------------------------------------------------ actions

    def _ordered(self, queryset: QuerySet) -> list[Passage]:
        return list(queryset.order_by("speech_id", "position"))

    @admin.action(description="Tag selected passages with theme…", permissions=["change"])
    def tag_with_theme(self, request: HttpRequest, queryset: QuerySet):
        return self._theme_action(request, queryset, add=True)

    @admin.action(description="Remove a theme from selected passages…", permissions=["change"])
    def untag_theme(self, request: HttpRequest, queryset: QuerySet):
        return self._theme_action(request, queryset, add=False)

    def _theme_action(self, request: HttpRequest, queryset: QuerySet, *, add: bool):
        form = ThemeActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            names = form.theme_names()
            passages = self._ordered(queryset)
            if add:
                count = services.tag_passages(passages=passages, themes=names, user=request.user)
                self.message_user(request, f"Added {count} theme link(s).", messages.SUCCESS)
            else:
                count = services.untag_passages(passages=passages, themes=names, user=request.user)
                self.message_user(request, f"Removed {count} theme link(s).", messages.SUCCESS)
            return None
        return _action_page(
            self,
            request,
            queryset,
            form=form,
            title="Tag passages with themes" if add else "Remove themes from passages",
            action="tag_with_theme" if add else "untag_theme",
            button="Tag" if add else "Remove",
            extra={"theme_names": Tag.objects.order_by("name").values_list("name", flat=True)},
        )

    @admin.action(description="Merge with next passage", permissions=["change"])
    def merge_with_next(self, request: HttpRequest, queryset: QuerySet) -> None:
        # From the last selected backwards, so earlier positions do not move
        # under our feet; selecting ¶2 and ¶3 merges ¶2, ¶3 and ¶4.
        merged = 0
        for passage in reversed(self._ordered(queryset)):
            passage.refresh_from_db()
            following = Passage.objects.filter(
                speech_id=passage.speech_id, position=passage.position + 1
            ).first()
            if following is None:
                self.message_user(
                    request,
                    f"¶{passage.position} ({passage.key}) is the last passage.",
                    messages.WARNING,
                )
                continue
            services.merge_passages(first=passage, second=following, user=request.user)
            merged += 1
        if merged:
            self.message_user(
                request, f"Merged {merged} passage(s) with the next.", messages.SUCCESS
            )

    @admin.action(description="Delete passages (with reason)…", permissions=["change"])
    def delete_with_reason(self, request: HttpRequest, queryset: QuerySet):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            orphaned = 0
            passages = self._ordered(queryset)
            try:
                for passage in passages:
                    orphaned += passage.annotations.count()
                    services.delete_passage(
                        passage=passage, reason=form.cleaned_data["reason"], user=request.user
                    )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return None
            message = f"Deleted {len(passages)} passage(s); their keys now answer 410 Gone."
            if orphaned:
                message += (
                    f" {orphaned} annotation(s) moved to a neighbouring passage"
                    " and flagged orphaned."
                )
            self.message_user(request, message, messages.SUCCESS)
            return None
        return _action_page(
            self,
            request,
            queryset,
            form=form,
            title="Delete passages",
            action="delete_with_reason",
            button="Delete with this reason",
            extra={"annotation_count": Annotation.objects.filter(passage__in=queryset).count()},
        )


def _version_column(version: Version) -> Callable[[Passage], str]:
    @admin.display(description=f"{version.code}")
    def column(obj: Passage) -> str:
        for passage_text in obj.texts.all():
            if passage_text.version_id == version.pk:
                return format_html(
                    '<span lang="{}">{}</span>', version.language, _preview(passage_text.text)
                )
        return "—"

    column.__name__ = f"version_{version.pk}"
    return column


def _passage_timeline(passage: Passage) -> list[dict]:
    """Text, theme and passage changes, newest first, for the history page."""
    entries: list[dict] = []
    versions = {v.pk: v.code for v in Version.objects.filter(speech_id=passage.speech_id)}
    text_records = PassageText.history.filter(passage_id=passage.pk).select_related("history_user")
    for record in text_records.order_by("history_date"):
        previous = record.prev_record
        entries.append(
            {
                "date": record.history_date,
                "user": record.history_user,
                "what": f"Text [{versions.get(record.version_id, record.version_id)}]",
                "type": record.get_history_type_display(),
                "old": _preview(previous.text, 300) if previous is not None else "",
                "new": _preview(record.text, 300) if record.history_type != "-" else "",
                "reason": record.history_change_reason or "",
            }
        )
    tag_records = TaggedPassage.history.filter(content_object_id=passage.pk).select_related(
        "history_user"
    )
    tag_names = dict(
        Tag.objects.filter(pk__in={r.tag_id for r in tag_records}).values_list("pk", "name")
    )
    for record in tag_records:
        added = record.history_type == "+"
        entries.append(
            {
                "date": record.history_date,
                "user": record.history_user,
                "what": "Theme",
                "type": "Added" if added else "Removed",
                "old": "" if added else tag_names.get(record.tag_id, "?"),
                "new": tag_names.get(record.tag_id, "?") if added else "",
                "reason": record.history_change_reason or "",
            }
        )
    for record in passage.history.select_related("history_user"):
        previous = record.prev_record
        if previous is not None and previous.turn_speaker == record.turn_speaker:
            continue
        entries.append(
            {
                "date": record.history_date,
                "user": record.history_user,
                "what": "Turn speaker" if previous is not None else "Passage",
                "type": record.get_history_type_display(),
                "old": previous.turn_speaker if previous is not None else "",
                "new": record.turn_speaker,
                "reason": record.history_change_reason or "",
            }
        )
    entries.sort(key=lambda entry: entry["date"], reverse=True)
    # One revert button per changeset (rows of one edit share their date); none
    # on the newest, which is the current state.
    seen = {entries[0]["date"]} if entries else set()
    for entry in entries:
        entry["revertible"] = entry["date"] not in seen
        seen.add(entry["date"])
    return entries


# ---------------------------------------------------------------- editorial records


@admin.register(Version)
class VersionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "code", "language", "is_original", "speech", "source_name"]
    list_filter = ["language", "is_original"]
    list_select_related = ["speech"]
    search_fields = ["title", "code", "speech__title", "translators", "source_name"]
    autocomplete_fields = ["speech"]


@admin.register(Annotation)
class AnnotationAdmin(SimpleHistoryAdmin):
    list_display = [
        "__str__",
        "passage",
        "version",
        "exact_preview",
        "visibility",
        "is_orphaned",
        "author",
        "updated_at",
    ]
    list_filter = ["is_orphaned", "visibility"]
    list_select_related = ["passage", "version", "author"]
    search_fields = ["body", "exact", "passage__key"]
    autocomplete_fields = ["passage", "version"]
    readonly_fields = ["author", "is_orphaned", "created_at", "updated_at"]
    fields = [
        "passage",
        "version",
        "body",
        "exact",
        "prefix",
        "suffix",
        "start",
        "visibility",
        "is_orphaned",
        "author",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Quote")
    def exact_preview(self, obj: Annotation) -> str:
        return _preview(obj.exact, 60)

    def save_model(self, request: HttpRequest, obj: Annotation, form, change: bool) -> None:
        if not change or obj.author_id is None:
            obj.author = request.user
        super().save_model(request, obj, form, change)
        # Locate (or flag) the quote in the current text right away.
        reanchor_annotations(passage=obj.passage)


@admin.register(Footnote)
class FootnoteAdmin(SimpleHistoryAdmin):
    list_display = ["number", "kind", "version", "passage", "body_preview"]
    list_filter = ["kind"]
    list_select_related = ["version", "passage"]
    search_fields = ["body", "version__speech__title"]
    autocomplete_fields = ["version", "passage"]

    @admin.display(description="Body")
    def body_preview(self, obj: Footnote) -> str:
        return _preview(obj.body, 80)


@admin.register(Correction)
class CorrectionAdmin(SimpleHistoryAdmin):
    list_display = ["date", "version", "description_preview"]
    list_select_related = ["version"]
    date_hierarchy = "date"
    search_fields = ["description", "version__speech__title"]
    autocomplete_fields = ["version", "passages"]

    @admin.display(description="Description")
    def description_preview(self, obj: Correction) -> str:
        return _preview(obj.description, 100)


@admin.register(Coverage)
class CoverageAdmin(SimpleHistoryAdmin):
    list_display = ["title", "outlet", "published_on", "kind", "speech"]
    list_filter = ["kind"]
    list_select_related = ["speech"]
    date_hierarchy = "published_on"
    search_fields = ["title", "outlet", "excerpt", "speech__title"]
    autocomplete_fields = ["speech", "passages"]


@admin.register(Term)
class TermAdmin(SimpleHistoryAdmin):
    list_display = ["original", "pinyin", "translation", "status", "first_seen_in"]
    list_filter = ["status"]
    list_select_related = ["first_seen_in"]
    search_fields = ["original", "pinyin", "translation", "variants"]
    prepopulated_fields = {"slug": ["original"]}
    autocomplete_fields = ["first_seen_in"]
    actions = ["confirm_terms"]

    @admin.action(description="Confirm selected terms", permissions=["change"])
    def confirm_terms(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        # Saved one by one so that history records each confirmation.
        for term in queryset.filter(status=Term.Status.CANDIDATE):
            term.status = Term.Status.CONFIRMED
            term.save()
            count += 1
        self.message_user(request, f"Confirmed {count} term(s).", messages.SUCCESS)


class CollectionItemInline(admin.TabularInline):
    model = CollectionItem
    fields = ["position", "speech"]
    autocomplete_fields = ["speech"]
    ordering = ["position", "pk"]
    extra = 1


@admin.register(Collection)
class CollectionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "slug"]
    search_fields = ["title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [CollectionItemInline]


# ---------------------------------------------------------------- permanence (read-only)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PassageRedirect)
class PassageRedirectAdmin(ReadOnlyAdmin):
    list_display = ["old_key", "passage", "reason", "speech", "old_position", "created_at"]
    list_filter = ["reason"]
    list_select_related = ["passage", "speech"]
    search_fields = ["old_key", "passage__key", "speech__title"]


@admin.register(SlugHistory)
class SlugHistoryAdmin(ReadOnlyAdmin):
    list_display = ["old_slug", "speech", "created_at"]
    list_select_related = ["speech"]
    search_fields = ["old_slug", "speech__slug", "speech__title"]
