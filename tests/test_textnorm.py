import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from speeches.textnorm import _nfkc, cjk_tokens_only, normalize, search_tokens


def test_traditional_and_simplified_normalise_to_one_form():
    assert normalize("太陽花") == normalize("太阳花") == "太阳花"
    assert normalize("網絡強國") == "网络强国"


def test_full_width_forms_fold_to_half_width():
    assert normalize("ＡＢＣ１２３，網絡") == "abc123,网络"


def test_cjk_runs_become_bigrams_with_final_unigram():
    assert search_tokens("建设网络强国，推进自主创新。") == [
        "建设",
        "设网",
        "网络",
        "络强",
        "强国",
        "国",
        "推进",
        "进自",
        "自主",
        "主创",
        "创新",
        "新",
    ]


def test_mixed_text_keeps_latin_words():
    assert search_tokens("cyber superpower (网络强国) in 2018") == [
        "cyber",
        "superpower",
        "网络",
        "络强",
        "强国",
        "国",
        "in",
        "2018",
    ]
    assert cjk_tokens_only("cyber superpower (網絡強國)") == ["网络", "络强", "强国", "国"]


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2))
def test_every_substring_bigram_of_a_run_is_indexed(run):
    tokens = set(search_tokens(run))
    normalised = normalize(run)
    for i in range(len(normalised) - 1):
        assert normalised[i : i + 2] in tokens


def test_digits_and_letters_touching_cjk_are_separate_tokens():
    assert search_tokens("13亿中国人") == ["13", "亿中", "中国", "国人", "人"]
    assert search_tokens("Uber在美國") == ["uber", "在美", "美国", "国"]


def test_fast_nfkc_folds_full_width_forms_exactly_like_nfkc():
    for code in [0x3000, *range(0xFF01, 0xFF5F)]:
        char = chr(code)
        for text in (char, f"a{char}\u0301", f"{char}\u0308e", f"网{char}络"):
            assert _nfkc(text) == unicodedata.normalize("NFKC", text)


# Full-width forms next to combining marks, kana with (han)dakuten, ligatures,
# circled and Roman numerals, Hangul jamo: everything NFKC composes or folds.
_NFKC_ALPHABET = st.one_of(
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),
    st.sampled_from("aeAE !,.，。ﬁ①Ⅻ㍿ｶﾞ網络"),
)


@given(st.text(alphabet=_NFKC_ALPHABET))
def test_fast_nfkc_equals_nfkc(text):
    assert _nfkc(text) == unicodedata.normalize("NFKC", text)
