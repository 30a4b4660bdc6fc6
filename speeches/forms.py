"""Forms of the editors' admin: the passage form and the intermediate pages
of admin actions and extra admin views (split, insert, tag, delete, import)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from taggit.models import Tag

from speeches.models import Passage, PassageText, Speech, Version

SPLIT_MARKER = "||"


def _text_attrs(version: Version, rows: int = 5) -> dict[str, str]:
    return {"rows": str(rows), "cols": "80", "lang": version.language, "class": "vLargeTextField"}


class PassageAdminForm(forms.ModelForm):
    """Themes: existing ones through the admin's autocomplete (search over the
    taggit Tag admin), new ones typed as comma-separated names."""

    themes = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.all(), required=False, label="Themes"
    )
    new_themes = forms.CharField(
        required=False,
        label="New themes",
        help_text="Comma-separated names of themes that do not exist yet.",
    )

    class Meta:
        model = Passage
        fields = ["turn_speaker", "themes"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        themes = self.fields["themes"]
        themes.widget = AutocompleteSelectMultiple(Passage._meta.get_field("themes"), admin.site)
        themes.widget.choices = themes.choices
        if self.instance.pk:
            self.initial["themes"] = list(self.instance.themes.all())

    def clean(self) -> dict:
        cleaned = super().clean()
        names = [name.strip() for name in cleaned.get("new_themes", "").split(",")]
        # TaggableManager.save_form_data accepts Tag objects and names alike.
        cleaned["themes"] = [*cleaned.get("themes", []), *[n for n in names if n]]
        return cleaned


class PassageTextInlineForm(forms.ModelForm):
    class Meta:
        model = PassageText
        fields = ["version", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A text stays in its version; move text between versions by editing.
            self.fields["version"].disabled = True
            self.fields["text"].widget.attrs["lang"] = self.instance.version.language


class ThemeActionForm(forms.Form):
    themes = forms.CharField(
        label="Themes",
        help_text="One or more themes, comma-separated. Existing names are suggested.",
        widget=forms.TextInput(attrs={"list": "theme-names", "size": 60, "autofocus": True}),
    )

    def theme_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["themes"].split(",") if name.strip()]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Recorded in the public correction notice and on the tombstone page.",
    )


class SplitPassageForm(forms.Form):
    """One textarea per version holding the passage's text: the editor types
    `||` where the second part should begin. Leaving a version without the
    marker keeps its whole text on the first part."""

    def __init__(self, *args, passage: Passage, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.texts = list(passage.texts.select_related("version"))
        for passage_text in self.texts:
            version = passage_text.version
            self.fields[f"text_{version.pk}"] = forms.CharField(
                label=f"{version.code} — {version.language}",
                initial=passage_text.text,
                required=False,
                strip=False,
                widget=forms.Textarea(attrs=_text_attrs(version, rows=8)),
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        splits: dict[Version, tuple[str, str]] = {}
        for passage_text in self.texts:
            name = f"text_{passage_text.version_id}"
            value = cleaned.get(name)
            if not value:
                continue
            count = value.count(SPLIT_MARKER)
            if count > 1:
                self.add_error(name, f"Put the marker {SPLIT_MARKER} once only.")
            elif count == 1:
                head, tail = value.split(SPLIT_MARKER)
                splits[passage_text.version] = (head, tail)
        if not splits and not self.errors:
            raise forms.ValidationError(
                f"Type {SPLIT_MARKER} where the new passage should begin, in at least one version."
            )
        cleaned["splits"] = splits
        return cleaned


class InsertPassageForm(forms.Form):
    turn_speaker = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, speech: Speech, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.versions = list(speech.versions.all())
        for version in self.versions:
            self.fields[f"text_{version.pk}"] = forms.CharField(
                label=f"{version.code} — {version.language}",
                required=False,
                widget=forms.Textarea(attrs=_text_attrs(version)),
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        texts = {
            version: cleaned.get(f"text_{version.pk}", "")
            for version in self.versions
            if cleaned.get(f"text_{version.pk}", "").strip()
        }
        if not texts:
            raise forms.ValidationError("Write the new passage in at least one version.")
        cleaned["texts"] = texts
        return cleaned


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class ImportSpeechForm(forms.Form):
    files = MultipleFileField(
        help_text="Native Markdown (.md, one file per version of one speech) "
        "or DigiChina plain-text translations (.txt, one speech each).",
    )

    def clean_files(self) -> list:
        files = self.cleaned_data["files"]
        kinds = {_file_kind(f.name) for f in files}
        if None in kinds:
            raise forms.ValidationError("Only .md (native) and .txt (DigiChina) files.")
        if len(kinds) > 1:
            raise forms.ValidationError("Import native .md files and .txt files separately.")
        return files


def _file_kind(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(".md"):
        return "native"
    if lowered.endswith(".txt"):
        return "digichina"
    return None
