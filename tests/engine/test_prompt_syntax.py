"""A1111 prompt syntax: extra-network tags and attention weights."""

from __future__ import annotations

import pytest

from imgopen.engine.prompt_syntax import (
    BREAK,
    BREAK_WEIGHT,
    NetworkRef,
    PromptSyntaxError,
    extract_networks,
    is_break,
    parse_attention,
)

ROUND = 1.1
SQUARE = 1 / 1.1


def assert_pieces(actual: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [text for text, _ in actual] == [text for text, _ in expected]
    for (_, got), (_, want) in zip(actual, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-6)


# --- attention ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat", [("a cat", 1.0)]),
        ("a (red:1.5) cat", [("a ", 1.0), ("red", 1.5), (" cat", 1.0)]),
        ("(x)", [("x", ROUND)]),
        ("((x))", [("x", 1.21)]),
        ("[x]", [("x", SQUARE)]),
        ("[[x]]", [("x", SQUARE * SQUARE)]),
        ("(a [b] c:2)", [("a ", 2.0), ("b", 2.0 * SQUARE), (" c", 2.0)]),
        ("((x:1.5))", [("x", 1.5 * ROUND)]),
        ("(x : 0.5 )", [("x ", 0.5)]),
        ("(x:.5)", [("x", 0.5)]),
        ("(a)(b)", [("ab", ROUND)]),
        ("(x:1.0) y", [("x y", 1.0)]),
        ("([x])", [("x", 1.0)]),  # 1.1 / 1.1: merged with nothing, still one piece
    ],
)
def test_weights(prompt: str, expected: list[tuple[str, float]]) -> None:
    assert_pieces(parse_attention(prompt), expected)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (r"\(x\)", [("(x)", 1.0)]),
        (r"\[x\]", [("[x]", 1.0)]),
        (r"a \\ b", [("a \\ b", 1.0)]),
        (r"(\(x\):2)", [("(x)", 2.0)]),
        (r"a\b", [(r"a\b", 1.0)]),  # a lone backslash before an ordinary letter is just text
        ("a:b", [("a:b", 1.0)]),
    ],
)
def test_escapes_and_literals(prompt: str, expected: list[tuple[str, float]]) -> None:
    assert_pieces(parse_attention(prompt), expected)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("(a", [("a", ROUND)]),  # an unclosed bracket runs to the end
        ("x (a [b", [("x ", 1.0), ("a ", ROUND), ("b", ROUND * SQUARE)]),
        ("a) b", [("a) b", 1.0)]),  # a stray closer is text
        ("a] b", [("a] b", 1.0)]),
        ("a:1.5) b", [("a:1.5) b", 1.0)]),  # a weight that closes nothing is text too
        ("(x:1.2.3)", [("x:1.2.3", ROUND)]),  # a malformed weight: ":" is text, ")" a plain bracket
        ("(x:)", [("x:", ROUND)]),
        ("()", [("", 1.0)]),
    ],
)
def test_unbalanced_brackets_are_lenient(prompt: str, expected: list[tuple[str, float]]) -> None:
    assert_pieces(parse_attention(prompt), expected)


def test_break_is_a_separate_marker() -> None:
    assert parse_attention("a BREAK b") == [("a", 1.0), (BREAK, BREAK_WEIGHT), ("b", 1.0)]
    assert parse_attention("a, BREAK\nb") == [("a,", 1.0), (BREAK, BREAK_WEIGHT), ("b", 1.0)]
    assert parse_attention("BREAK a") == [(BREAK, BREAK_WEIGHT), ("a", 1.0)]
    assert is_break(parse_attention("a BREAK b")[1])


def test_break_must_be_an_uppercase_word() -> None:
    assert parse_attention("a break b") == [("a break b", 1.0)]
    assert parse_attention("aBREAK b BREAKs") == [("aBREAK b BREAKs", 1.0)]


def test_break_inside_brackets_stays_a_break() -> None:
    assert_pieces(parse_attention("(a BREAK b)"), [("a", ROUND), (BREAK, BREAK_WEIGHT), ("b", ROUND)])


def test_empty_prompt() -> None:
    assert parse_attention("") == [("", 1.0)]


# --- extra networks -------------------------------------------------------------------------------------
def test_prompt_without_tags_is_unchanged() -> None:
    prompt = "a  cat, (red:1.2),, <not a tag"
    assert extract_networks(prompt) == (prompt, [])


def test_lora_weights() -> None:
    prompt = "<lora:a> <lora:b:0.7> <lora:c:0.7:0.5> <lora:d:te=0.3> <lora:e:0.8:unet=0.2>"
    cleaned, refs = extract_networks(prompt)
    assert cleaned == ""
    assert refs == [
        NetworkRef("lora", "a", 1.0, None),
        NetworkRef("lora", "b", 0.7, None),
        # A1111's positional order is te, then unet: weight (UNet) 0.5, text encoder 0.7
        NetworkRef("lora", "c", 0.5, 0.7),
        NetworkRef("lora", "d", 0.3, None),
        NetworkRef("lora", "e", 0.2, 0.8),
    ]


def test_other_kinds() -> None:
    cleaned, refs = extract_networks("cat <lyco:style:0.6> <hypernet:anime v3:0.4> <hypernet:plain>")
    assert cleaned == "cat"
    assert refs == [
        NetworkRef("lora", "style", 0.6, None),
        NetworkRef("hypernet", "anime v3", 0.4, None),
        NetworkRef("hypernet", "plain", 1.0, None),
    ]


def test_names_with_spaces_dots_dashes_brackets() -> None:
    cleaned, refs = extract_networks("a cat <lora:My Style (v1.5)-final.v2:0.9>")
    assert cleaned == "a cat"
    assert refs == [NetworkRef("lora", "My Style (v1.5)-final.v2", 0.9, None)]


@pytest.mark.parametrize(
    ("prompt", "cleaned"),
    [
        ("a cat, <lora:x:1>, red", "a cat, red"),
        ("<lora:x:1>, a cat", "a cat"),
        ("a cat, <lora:x:1>", "a cat"),
        ("a cat <lora:x:1> <lora:y:1> red", "a cat red"),
        ("a cat ,<lora:x>, , red", "a cat, red"),
        ("(a cat:1.2) <lora:x>, [dog]", "(a cat:1.2), [dog]"),
        ("a cat\n<lora:x>\nred", "a cat\n\nred"),
    ],
)
def test_tidies_what_tags_leave(prompt: str, cleaned: str) -> None:
    assert extract_networks(prompt)[0] == cleaned


@pytest.mark.parametrize("prompt", ["<lora:x:abc>", "<lora:x:0.5:strong>", "<hypernet:h:1x>", "<lora:x:te=high>"])
def test_bad_weight_names_the_tag(prompt: str) -> None:
    with pytest.raises(PromptSyntaxError, match=r"<\w+:x|<hypernet:h") as caught:
        extract_networks(f"a cat, {prompt}")
    assert prompt in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_tag_without_name() -> None:
    with pytest.raises(PromptSyntaxError, match="<lora: :1>"):
        extract_networks("<lora: :1>")
