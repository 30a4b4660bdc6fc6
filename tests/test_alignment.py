"""Version alignment (speeches.importers.alignment), on small constructed cases
and on real Audrey Tang en/zh-Hant pairs whose paragraph counts differ."""

from __future__ import annotations

import os
import re

import pytest

from speeches.importers.alignment import align_versions
from speeches.importers.document import ImportFormatError, Paragraph

TANG = "tang-transcripts-zh-en"
_HEADING = re.compile(r"^###\s+(.+?)\s*[:：]\s*$")


def parse_tang(path: str) -> list[Paragraph]:
    """A deliberately small reader of a Tang transcript: `### Name:` turns,
    paragraphs as runs of non-blank lines; the title and `>` notes skipped."""
    paragraphs: list[Paragraph] = []
    speaker = ""
    block: list[str] = []
    start = 0
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")

    def flush() -> None:
        if block:
            paragraphs.append(Paragraph("\n".join(block).strip(), turn_speaker=speaker, line=start))
            block.clear()

    for number, line in enumerate(lines, start=1):
        heading = _HEADING.match(line)
        if number == 1 and line.startswith("# "):
            continue
        if heading:
            flush()
            speaker = heading.group(1)
        elif not line.strip() or line.startswith(">"):
            flush()
        else:
            if not block:
                start = number
            block.append(line)
    flush()
    return paragraphs


def tang_pair(corpus_dir: str, en_file: str, zh_file: str) -> dict[str, list[Paragraph]]:
    folder = os.path.join(corpus_dir, TANG, "transcripts")
    return {
        "en": parse_tang(os.path.join(folder, en_file)),
        "zh-Hant": parse_tang(os.path.join(folder, zh_file)),
    }


def P(text: str, speaker: str = "", label: str | None = None, line: int = 0) -> Paragraph:
    return Paragraph(text=text, turn_speaker=speaker, label=label, line=line)


def texts(passages, code):
    return [p.texts.get(code) for p in passages]


# ---------------------------------------------------------------- constructed


def test_same_counts_align_by_order():
    passages = align_versions(
        {"zh": [P("一二三"), P("四五六七八九")], "en": [P("One two three."), P("Four to nine.")]}
    )
    assert texts(passages, "zh") == ["一二三", "四五六七八九"]
    assert texts(passages, "en") == ["One two three.", "Four to nine."]


def test_split_paragraph_is_joined_by_length():
    zh = [P("短句。"), P("这是一个很长的段落，" * 10), P("结尾。")]
    en = [
        P("Short."),
        P("This is the first half of a very long paragraph, " * 3),
        P("and this is the second half of that long paragraph. " * 3),
        P("End."),
    ]
    passages = align_versions({"zh": zh, "en": en})
    assert len(passages) == 3
    assert passages[1].texts["en"] == en[1].text + "\n\n" + en[2].text
    assert passages[2].texts == {"zh": "结尾。", "en": "End."}


def test_turns_match_by_order_not_by_name():
    zh = [P("问？" * 5, "主持人"), P("答。" * 20, "唐鳳"), P("再问？" * 5, "主持人")]
    en = [
        P("Question? " * 5, "Host"),
        P("Answer part one. " * 10, "Audrey Tang"),
        P("Answer part two. " * 10, "Audrey Tang"),
        P("Another question? " * 5, "Host"),
    ]
    passages = align_versions({"zh": zh, "en": en})
    assert [p.turn_speaker for p in passages] == ["主持人", "唐鳳", "主持人"]
    assert passages[1].texts["en"].count("\n\n") == 1


def test_explicit_labels_win_over_order():
    zh = [P("甲", label="a"), P("乙"), P("丙", label="c")]
    en = [P("A", label="a"), P("B1"), P("B2"), P("B3"), P("C", label="c")]
    passages = align_versions({"zh": zh, "en": en})
    assert (passages[0].key, passages[0].texts) == ("a", {"zh": "甲", "en": "A"})
    middle = "\n\n".join(p.texts.get("en", "") for p in passages[1:-1])
    assert middle.replace("\n\n\n\n", "\n\n") == "B1\n\nB2\n\nB3"
    assert passages[-1].key == "c"
    assert passages[-1].texts == {"zh": "丙", "en": "C"}


def test_paragraph_in_one_version_only_becomes_its_own_passage():
    zh = [P("甲", label="k1"), P("乙", label="k2")]
    en = [P("A", label="k1"), P("Only in English", label="k9"), P("B", label="k2")]
    passages = align_versions({"zh": zh, "en": en})
    assert [(p.key, sorted(p.texts)) for p in passages] == [
        ("k1", ["en", "zh"]),
        ("k9", ["en"]),
        ("k2", ["en", "zh"]),
    ]


def test_shared_numbers_and_names_guide_the_alignment():
    # By length alone the long first Chinese paragraph would take two English
    # ones; the year 2016 says the second English paragraph goes with the second.
    en = [
        P("In 2014 we occupied the parliament."),
        P("In 2016 I joined the cabinet as a minister without portfolio."),
        P("It was a long road, and many people helped along the way, for many years."),
    ]
    zh = [
        P("2014 年我們佔領立法院，太陽花運動就此展開，影響非常深遠，改變了許多人。"),
        P("2016 年我入閣擔任政務委員。"),
    ]
    passages = align_versions({"en": en, "zh-Hant": zh})
    assert [p.texts["en"] for p in passages] == [en[0].text, en[1].text + "\n\n" + en[2].text]


def test_three_versions_share_passage_boundaries():
    zh = [P("一" * 10), P("二" * 30), P("三" * 10)]
    en = [P("x" * 30), P("y" * 45), P("y" * 45), P("z" * 30)]
    fr = [P("x" * 33), P("y" * 99), P("z" * 33)]
    passages = align_versions({"zh": zh, "en": en, "fr": fr})
    assert len(passages) == 3
    assert passages[1].texts["en"] == "y" * 45 + "\n\n" + "y" * 45
    assert passages[1].texts["fr"] == "y" * 99


def test_labels_out_of_order_are_an_error_naming_the_line():
    zh = [P("甲", label="a", line=3), P("乙", label="b", line=5)]
    en = [P("B", label="b", line=7), P("A", label="a", line=9)]
    with pytest.raises(ImportFormatError) as info:
        align_versions({"zh": zh, "en": en})
    assert info.value.line == 7
    assert str(info.value) == (
        'version "en": label {#b} is out of order: in version "zh" it comes after labels that '
        '"en" places after it, so the versions cannot be aligned'
    )


def test_empty_versions_contribute_nothing():
    assert align_versions({}) == []
    passages = align_versions({"zh": [], "en": [P("Only English.")]})
    assert [p.texts for p in passages] == [{"en": "Only English."}]


# ---------------------------------------------------------------- real pairs


@pytest.mark.parametrize(
    ("en_file", "zh_file", "en_count", "zh_count"),
    [
        ("2019-11-23-Interview-with-DW-Business.md", "2019-11-23-德國之聲採訪.md", 19, 22),
        (
            "2024-11-28-BW-Column-Why-are-AI-giants-willing-to-collaborate-with-competitors?.md",
            "2024-11-28-商周專欄：AI-巨頭為何願跟對手合作？.md",
            8,
            12,
        ),
        ("2025-02-02-BBC-Interview.md", "2025-02-02-BBC-採訪.md", 67, 79),
    ],
)
def test_real_pairs_with_differing_counts_keep_every_paragraph(
    corpus_dir, en_file, zh_file, en_count, zh_count
):
    pair = tang_pair(corpus_dir, en_file, zh_file)
    assert (len(pair["en"]), len(pair["zh-Hant"])) == (en_count, zh_count)
    passages = align_versions(pair)
    for code, paragraphs in pair.items():
        # Nothing lost, nothing duplicated, order kept.
        joined = [t for t in texts(passages, code) if t is not None]
        assert "\n\n".join(joined) == "\n\n".join(p.text for p in paragraphs)
    # Every passage has both languages: these pairs are complete translations.
    assert all(len(p.texts) == 2 for p in passages)
    assert len(passages) == min(en_count, zh_count)


def test_dw_interview_splits_are_put_together(corpus_dir):
    pair = tang_pair(
        corpus_dir, "2019-11-23-Interview-with-DW-Business.md", "2019-11-23-德國之聲採訪.md"
    )
    passages = align_versions(pair)
    # The Chinese splits the first question in two; both halves face the English one.
    assert passages[0].texts["zh-Hant"].startswith("五個月來")
    assert "台灣島嶼" in passages[0].texts["zh-Hant"]
    assert passages[1].texts["zh-Hant"] == "台灣在新石器時代就已經分離了。"
    assert passages[1].texts["en"].startswith("The breakaway was at the Neolithic Age")
    assert passages[0].turn_speaker == "Interviewer"
