"""Corpus loaders on real sample files, broken inputs, and the load_corpus command."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from speeches.importers.corpus import corpus_items, millercenter, prc_reports, tang, ungd
from speeches.importers.document import ImportFormatError
from speeches.models import Coverage, Passage, PassageText, Speech

TANG = "tang-transcripts-zh-en"
PRC = "prc-government-work-reports-zh"
MILLER = "us-presidential-speeches-millercenter"
UNGD = "un-general-debate-corpus-2015-2024"


def _pair(corpus_dir: str, en_file: str) -> tang.Pair:
    return next(p for p in tang.read_pairs(os.path.join(corpus_dir, TANG)) if p.en_file == en_file)


# ---------------------------------------------------------------- Tang transcripts


def test_tang_pair_with_differing_paragraph_counts(corpus_dir: str) -> None:
    folder = os.path.join(corpus_dir, TANG)
    pair = _pair(corpus_dir, "2019-11-23-Interview-with-DW-Business.md")
    _, _, en = tang.parse_transcript(os.path.join(folder, "transcripts", pair.en_file))
    _, _, zh = tang.parse_transcript(os.path.join(folder, "transcripts", pair.zh_file))
    assert (len(en), len(zh)) == (19, 22)

    doc = tang.load_pair(folder, pair)
    assert doc.title == "Interview with DW Business"
    assert doc.slug == "2019-11-23-interview-with-dw-business"
    assert doc.delivered_on == dt.date(2019, 11, 23)
    assert (doc.speaker_name, doc.speaker_name_original) == ("Audrey Tang", "唐鳳")
    assert doc.kind == "interview"
    assert doc.original_language == "en"
    assert [(v.code, v.is_original, v.licence) for v in doc.versions] == [
        ("en", True, "CC0 1.0"),
        ("zh-Hant", False, "CC0 1.0"),
    ]
    assert doc.version("zh-Hant").title == "德國之聲採訪"
    # Every paragraph of both sides ends up in exactly one passage, in order.
    assert len(doc.passages) == 19
    assert [p.texts["en"] for p in doc.passages] == [p.text for p in en]
    assert "\n\n".join(p.texts["zh-Hant"] for p in doc.passages) == "\n\n".join(p.text for p in zh)
    # The interviewer's two Chinese paragraphs share the first passage.
    assert doc.passages[0].turn_speaker == "Interviewer"
    assert doc.passages[0].texts["zh-Hant"].count("\n\n") == 1
    assert doc.passages[1].turn_speaker == "Audrey Tang"


def test_tang_iframe_becomes_a_link_and_no_html_is_kept(corpus_dir: str) -> None:
    folder = os.path.join(corpus_dir, TANG)
    doc = tang.load_pair(
        folder, _pair(corpus_dir, "2025-10-01-Right-Livelihood-Award-Press-Conference.md")
    )
    assert doc.kind == "press-conference"
    texts = [text for p in doc.passages for text in p.texts.values()]
    assert not any("<iframe" in t or "<br" in t or "</" in t for t in texts)
    assert texts[0].startswith("[Video](https://www.youtube-nocookie.com/embed/")
    assert doc.passages[0].turn_speaker == ""


def test_tang_br_becomes_line_breaks_and_notes_are_paragraphs() -> None:
    assert tang.clean_html("one<br>two<br/>  three") == "one\ntwo\nthree"
    assert tang.clean_html('<a href="https://x.org/?a=1&amp;b=2">slides</a>') == (
        "[slides](https://x.org/?a=1&b=2)"
    )
    assert tang.clean_html("a<sup>[note](https://n.org)</sup>") == "a[note](https://n.org)"


def test_tang_columns_are_chinese_originals() -> None:
    assert tang.original_language(
        "BW Column: Making Algorithms Kind", "商周專欄：讓演算法變得善良"
    ) == ("zh-Hant")
    assert tang.original_language("Interview with BBC NewsDay", "BBC NewsDay 訪談") == "en"
    assert tang.speech_kind("BW Column: Making Algorithms Kind", "") == "article"


def test_tang_parse_notes_and_speakers(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text(
        "# 2020-01-02 A Talk\n\n> (opening)\n>\n> [Video](https://v.example)\n"
        "### 唐鳳：\n第一段。\n\n第二段<br>續行。\n",
        encoding="utf-8",
    )
    date, title, paragraphs = tang.parse_transcript(str(path))
    assert (date, title) == (dt.date(2020, 1, 2), "A Talk")
    assert [(p.text, p.turn_speaker, p.line) for p in paragraphs] == [
        ("(opening)", "", 3),
        ("[Video](https://v.example)", "", 5),
        ("第一段。", "唐鳳", 7),
        ("第二段\n續行。", "唐鳳", 9),
    ]


def test_tang_file_without_title_line(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text("\n### Audrey Tang:\nHello.\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        tang.parse_transcript(str(path))
    assert str(info.value) == f"{path}, line 2: expected a first line '# YYYY-MM-DD Title'"


# ---------------------------------------------------------------- PRC work reports


def _prc_record(corpus_dir: str, year: str | None, index: int = 0) -> tuple[str, int, dict]:
    records = prc_reports.read_records(os.path.join(corpus_dir, PRC))
    return [r for r in records if r[2]["year"] == year][index]


def test_prc_report_2024(corpus_dir: str) -> None:
    path, line, record = _prc_record(corpus_dir, "2024")
    doc = prc_reports.parse_record(record, path=path, line=line)
    assert doc.slug == "gov-work-report-2024"
    assert doc.title == "2024年中华人民共和国国务院政府工作报告"
    assert (doc.speaker_name, doc.speaker_name_original) == ("Li Qiang", "李强")
    assert doc.speaker_slug == "li-qiang"
    assert (doc.delivered_on, doc.date_precision) == (dt.date(2024, 3, 5), "day")
    assert doc.occasion == "第十四届全国人民代表大会第二次会议"
    assert doc.kind == "report"
    assert doc.original_language == "zh-Hans"
    assert [v.code for v in doc.versions] == ["zh-Hans"]
    assert doc.versions[0].source_url == record["url"]
    # The header (title, date line, Premier) is not text; the salutation opens it.
    assert doc.passages[0].texts == {"zh-Hans": "各位代表："}
    assert doc.passages[2].texts["zh-Hans"] == "一、2023年工作回顾"
    # Wikisource's stray single newlines are joined without a space.
    assert not any("\n" in p.texts["zh-Hans"] for p in doc.passages)


def test_prc_report_without_header_uses_the_presenters_table(corpus_dir: str) -> None:
    path, line, record = _prc_record(corpus_dir, "1960")
    doc = prc_reports.parse_record(record, path=path, line=line)
    assert (doc.speaker_name, doc.speaker_name_original) == ("Tan Zhenlin", "谭震林")
    assert (doc.delivered_on, doc.date_precision) == (dt.date(1960, 1, 1), "year")
    path, line, record = _prc_record(corpus_dir, "1957")
    doc = prc_reports.parse_record(record, path=path, line=line)
    assert (doc.speaker_name, doc.delivered_on) == ("Zhou Enlai", dt.date(1957, 6, 26))


def test_prc_resolutions_are_skipped(corpus_dir: str) -> None:
    items = corpus_items(os.path.join(corpus_dir, PRC))
    assert len(items) == 52
    path, line, record = _prc_record(corpus_dir, None)
    assert prc_reports.parse_record(record, path=path, line=line) is None


def test_corpus_items_sample_spreads_over_the_folder(corpus_dir: str) -> None:
    items = corpus_items(os.path.join(corpus_dir, MILLER), sample=4)
    assert [Path(item.label).name[:4] for item in items] == ["1789", "1867", "1931", "1978"]


def test_prc_truncated_json_line(tmp_path: Path) -> None:
    folder = tmp_path / PRC
    folder.mkdir()
    good = json.dumps({"title": "t", "url": "", "content": "各位代表：\n\n正文。", "year": "2024"})
    (folder / prc_reports.FILE_NAME).write_text(good + "\n" + good[:40] + "\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        corpus_items(folder)
    assert str(info.value).startswith(f"{folder / prc_reports.FILE_NAME}, line 2: invalid JSON (")


# ---------------------------------------------------------------- Miller Center


def test_miller_center_speech(corpus_dir: str) -> None:
    path = os.path.join(corpus_dir, MILLER, "data", "2013-01-21-second-inaugural-address.txt")
    doc = millercenter.parse_file(path)
    assert doc.title == "Second Inaugural Address"
    assert doc.slug == "2013-01-21-second-inaugural-address"
    assert doc.speaker_name == "Barack Obama"
    assert doc.delivered_on == dt.date(2013, 1, 21)
    assert doc.kind == "speech"
    assert doc.versions[0].source_url == (
        "https://millercenter.org/the-presidency/presidential-speeches/"
        "january-21-2013-second-inaugural-address"
    )
    assert doc.passages[0].texts["en"] == (
        "Vice President Biden, Mr. Chief Justice, members of the United States Congress, "
        "distinguished guests, and fellow citizens:"
    )
    assert doc.passages[1].texts["en"].startswith("Each time we gather to inaugurate a President")


def test_miller_center_kinds_and_bracketed_notes(corpus_dir: str) -> None:
    path = os.path.join(corpus_dir, MILLER, "data", "1974-02-25-presidents-news-conference.txt")
    doc = millercenter.parse_file(path)
    assert doc.kind == "press-conference"
    assert doc.title == "Presidents News Conference"
    assert any("[Laughter]" in p.texts["en"] for p in doc.passages)
    assert millercenter.speech_kind("debate-richard-nixon-chicago") == "debate"
    assert millercenter.speech_kind("first-annual-message-congress") == "letter"


def test_miller_center_file_without_extension(corpus_dir: str) -> None:
    files = millercenter.list_files(os.path.join(corpus_dir, MILLER))
    assert len(files) == 1010
    doc = millercenter.parse_file(
        os.path.join(corpus_dir, MILLER, "data", "2020-08-08-press-conference-executive-orders")
    )
    assert doc.speaker_name == "Donald Trump"
    assert doc.kind == "press-conference"


def test_miller_center_invalid_utf8_and_missing_president(tmp_path: Path) -> None:
    bad = tmp_path / "2001-01-01-bad.txt"
    bad.write_bytes(b"President: Someone\n\nOK line\n\xff\xfe broken\n")
    with pytest.raises(ImportFormatError) as info:
        millercenter.parse_file(bad)
    assert str(info.value) == f"{bad}, line 4: not valid UTF-8 (byte 0xff at offset 28)"
    headless = tmp_path / "2001-01-02-headless.txt"
    headless.write_text("\n\nSome text.\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        millercenter.parse_file(headless)
    assert str(info.value) == f"{headless}, line 3: expected a first line 'President: <name>'"


# ---------------------------------------------------------------- UN General Debate


def test_un_statement_with_form_feeds(corpus_dir: str) -> None:
    folder = os.path.join(corpus_dir, UNGD)
    path = os.path.join(folder, "TXT", "Session 70 - 2015", "AFG_70_2015.txt")
    assert "\x0c" in Path(path).read_text(encoding="utf-8")
    doc = ungd.parse_file(path, ungd.read_speakers(folder))
    assert doc.title == "Statement by Afghanistan at the 70th session of the UN General Debate"
    assert doc.speaker_name == "Abdullah Abdullah"
    assert doc.slug == "2015-un-general-debate-afghanistan"
    assert (doc.delivered_on, doc.date_precision) == (dt.date(2015, 9, 1), "month")
    assert doc.kind == "statement"
    texts = [p.texts["en"] for p in doc.passages]
    assert not any("\x0c" in t or "A/70/PV.15" in t or "15-29425" in t for t in texts)
    # The sentence cut by the page break is one paragraph again.
    assert any("However, it also poses a serious challenge" in t for t in texts)


def test_un_hard_wrapped_statement(corpus_dir: str) -> None:
    folder = os.path.join(corpus_dir, UNGD)
    path = os.path.join(folder, "TXT", "Session 79 - 2024", "CHN_79_2024.txt")
    doc = ungd.parse_file(path, ungd.read_speakers(folder))
    texts = [p.texts["en"] for p in doc.passages]
    assert texts[0] == "Mr. President, Colleagues,"
    assert texts[1].startswith("Today, humanity has once again come to a historical crossroads.")
    assert "Meanwhile, we are also embracing a world full of hope." in texts[1]
    assert not any("\n" in t for t in texts)


def test_un_rebuild_paragraphs_rules() -> None:
    text = (
        "1\nFirst line of a long\nparagraph goes on.\n\x0c\n2/3\nnext starts lower.\n\nNew one.\n"
    )
    assert ungd.rebuild_paragraphs(text) == [
        "First line of a long paragraph goes on. next starts lower.",
        "New one.",
    ]


def test_un_speaker_typos_and_fallback(tmp_path: Path) -> None:
    folder = tmp_path / UNGD
    (folder / "TXT" / "Session 79 - 2024").mkdir(parents=True)
    (folder / ungd.SPEAKERS_FILE).write_text(
        "Year,Session,ISO Code,Country,Name of Person Speaking,Post\n"
        "2024,79,POR,Portugal,Mr. Luís Montenegro,Prime Minister\n"
        "2023,78,XYZ,Xyzland,Someone,President\n",
        encoding="utf-8",
    )
    speakers = ungd.read_speakers(folder)
    assert speakers[("PRT", 2024)].name == "Mr. Luís Montenegro"
    for iso in ("PRT", "XYZ"):
        (folder / "TXT" / "Session 79 - 2024" / f"{iso}_79_2024.txt").write_text(
            "We speak.\n", encoding="utf-8"
        )
    prt, xyz = (ungd.parse_file(p, speakers) for p in ungd.list_files(folder))
    assert prt.speaker_name == "Luís Montenegro"
    assert (xyz.speaker_name, xyz.title) == (
        "Xyzland",
        "Statement by Xyzland at the 79th session of the UN General Debate",
    )


# ---------------------------------------------------------------- the command


def _mini_miller(tmp_path: Path, corpus_dir: str, names: list[str]) -> Path:
    folder = tmp_path / MILLER
    (folder / "data").mkdir(parents=True)
    for name in names:
        shutil.copy(os.path.join(corpus_dir, MILLER, "data", name), folder / "data" / name)
    return folder


MILLER_SAMPLE = [
    "1789-04-30-first-inaugural-address.txt",
    "2013-01-21-second-inaugural-address.txt",
]


@pytest.mark.django_db
def test_load_corpus_dry_run_writes_nothing(tmp_path: Path, corpus_dir: str) -> None:
    folder = _mini_miller(tmp_path, corpus_dir, MILLER_SAMPLE)
    call_command("load_corpus", str(folder), "--dry-run", stdout=io.StringIO())
    assert not Speech.objects.exists()
    assert not Passage.objects.exists()


@pytest.mark.django_db
def test_load_corpus_twice_keeps_keys(tmp_path: Path, corpus_dir: str, monkeypatch) -> None:
    monkeypatch.setenv("DEMO_CORPUS", str(tmp_path))
    _mini_miller(tmp_path, corpus_dir, MILLER_SAMPLE)
    call_command("load_corpus", MILLER, "--publish", stdout=io.StringIO())
    keys = list(Passage.objects.order_by("speech__slug", "position").values_list("key", flat=True))
    texts = PassageText.objects.count()
    assert Speech.objects.filter(status="published").count() == 2
    call_command("load_corpus", MILLER, stdout=io.StringIO())
    again = list(Passage.objects.order_by("speech__slug", "position").values_list("key", flat=True))
    assert again == keys and PassageText.objects.count() == texts
    assert Speech.objects.filter(status="published").count() == 2


@pytest.mark.django_db
def test_load_corpus_stops_at_a_bad_file(tmp_path: Path, corpus_dir: str) -> None:
    folder = _mini_miller(tmp_path, corpus_dir, MILLER_SAMPLE)
    bad = folder / "data" / "1999-01-01-empty.txt"
    bad.write_text("", encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("load_corpus", str(folder), stdout=io.StringIO())
    assert str(info.value) == (
        f"{bad}, line 1: file is empty — stopped; that document was not written"
    )
    # Files sort by date: the 1789 speech before the bad file is kept, the bad one is not.
    assert list(Speech.objects.values_list("slug", flat=True)) == [
        "1789-04-30-first-inaugural-address"
    ]


@pytest.mark.django_db
def test_load_corpus_limit_and_seeds(tmp_path: Path, seeds_dir: str, monkeypatch) -> None:
    monkeypatch.setenv("DEMO_CORPUS", str(tmp_path / "corpus"))
    (tmp_path / "corpus").mkdir()
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    call_command("load_corpus", "seeds", stdout=io.StringIO())
    speech = Speech.objects.get()
    assert speech.speaker.name == "Xi Jinping"
    assert Coverage.objects.count() == 4
    assert Coverage.objects.get(outlet="The Register").speech == speech


def test_load_corpus_unknown_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEMO_CORPUS", str(tmp_path))
    with pytest.raises(CommandError) as info:
        call_command("load_corpus", "nope")
    assert str(info.value).startswith(f"nope: no such corpus folder under {tmp_path}")


@pytest.mark.django_db
def test_load_demo_data_without_corpus_prints_help(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DEMO_CORPUS", str(tmp_path / "missing"))
    call_command("load_demo_data")
    out = capsys.readouterr().out
    assert "manage.py load_corpus" in out and "manage.py import_speech" in out
    assert not Speech.objects.exists()


@pytest.mark.django_db
def test_load_demo_data_loads_a_published_sample_into_an_empty_archive(
    tmp_path: Path, corpus_dir: str, seeds_dir: str, monkeypatch
) -> None:
    from speeches.management.commands import load_demo_data

    monkeypatch.setitem(load_demo_data.SAMPLE, MILLER, 1)
    monkeypatch.setenv("DEMO_CORPUS", str(tmp_path / "corpus"))
    (tmp_path / "corpus").mkdir()
    _mini_miller(tmp_path / "corpus", corpus_dir, MILLER_SAMPLE)
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    call_command("load_demo_data", stdout=io.StringIO())
    # The seed translation and one of the two Miller Center speeches.
    assert Speech.objects.count() == 2
    assert Coverage.objects.filter(speech__isnull=False).count() == 1
    assert not Speech.objects.exclude(status="published").exists()
    call_command("load_demo_data", "--all", stdout=io.StringIO())  # not empty: does nothing
    assert Speech.objects.count() == 2
    call_command("load_demo_data", "--all", "--force", stdout=io.StringIO())
    assert Speech.objects.count() == 3
