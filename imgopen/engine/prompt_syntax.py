"""Automatic1111 prompt syntax: extra-network tags and attention weights.

Two passes, in the order A1111 applies them: first the ``<kind:name:weights>`` tags are taken out of the
prompt (they select LoRAs and hypernetworks, they are not text), then what is left is split into pieces of
text with an attention weight each. Both are pure string work; the encoder side lives in prompt_encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# A1111 multiplies by 1.1 for every pair of round brackets and divides by it for square ones.
ROUND_FACTOR: Final = 1.1
SQUARE_FACTOR: Final = 1 / 1.1

BREAK: Final = "BREAK"
# parse_attention's marker for BREAK: this text with this weight ends the current 75-token chunk.
BREAK_WEIGHT: Final = -1.0

_LORA_KINDS: Final = frozenset({"lora", "lyco"})

# `<kind:args>`: the kind is a word; the arguments run to the closing angle bracket (names hold spaces,
# dots, dashes and brackets, never ":" or ">").
_NETWORK_TAG: Final = re.compile(r"<(\w+):([^>]+)>")

# One lexical unit of the attention syntax. The weight must be a well-formed number: a malformed one
# such as "1.2.3" leaves ":" as text and the ")" as a plain 1.1 bracket, rather than failing the prompt.
_ATTENTION_TOKEN: Final = re.compile(
    r"""
      (?P<escaped>\\[()\[\]\\])
    | (?P<weight>:\s*(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))\s*\))
    | (?P<open>[(\[])
    | (?P<close>[)\]])
    | (?P<text>[^\\()\[\]:]+)
    | (?P<other>[\\:])
    """,
    re.VERBOSE,
)
_BREAK_SPLIT: Final = re.compile(r"\s*\bBREAK\b\s*")


class PromptSyntaxError(ValueError):
    """A prompt that cannot be understood (such as a network tag whose weight is not a number)."""


@dataclass(frozen=True)
class NetworkRef:
    """One extra-network tag. ``weight`` is the UNet multiplier (for a hypernetwork: its strength);
    ``te_weight`` is the text-encoder multiplier when the tag sets one apart, else None (same as weight)."""

    kind: str
    name: str
    weight: float
    te_weight: float | None


# --- extra networks ---------------------------------------------------------------------------------
def extract_networks(prompt: str) -> tuple[str, list[NetworkRef]]:
    """Remove the ``<kind:name[:weight...]>`` tags from a prompt: (the prompt without them, the tags in order)."""
    refs = [_network_ref(match.group(0), match.group(1), match.group(2)) for match in _NETWORK_TAG.finditer(prompt)]
    if not refs:
        return prompt, []
    return _tidy(_NETWORK_TAG.sub("", prompt)), refs


def _network_ref(tag: str, kind: str, body: str) -> NetworkRef:
    kind = "lora" if kind.lower() in _LORA_KINDS else kind.lower()
    name, *args = body.split(":")
    name = name.strip()
    if not name:
        raise PromptSyntaxError(f"network tag {tag} has no name")
    positional = [_number(arg, tag) for arg in args if "=" not in arg]
    named = {key.strip(): value for key, _, value in (arg.partition("=") for arg in args if "=" in arg)}
    if kind != "lora":
        return NetworkRef(kind, name, positional[0] if positional else 1.0, None)
    # A1111's order is <lora:name:te:unet>: one number sets both, a second one sets the UNet apart.
    te = _number(named["te"], tag) if "te" in named else (positional[0] if positional else 1.0)
    unet = _number(named["unet"], tag) if "unet" in named else (positional[1] if len(positional) > 1 else te)
    return NetworkRef(kind, name, unet, None if te == unet else te)


def _number(text: str, tag: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise PromptSyntaxError(f"network tag {tag}: weight {text.strip()!r} is not a number") from None


def _tidy(prompt: str) -> str:
    """Clean what removed tags leave behind: runs of spaces, empty comma-separated items, stray ends."""
    prompt = re.sub(r"[ \t]+", " ", prompt)
    prompt = re.sub(r",(?:\s*,)+", ",", prompt)  # "a, , b" -> "a, b"
    prompt = re.sub(r" +,", ",", prompt)  # "a , b" -> "a, b"
    return prompt.strip(" \t\r\n,")


# --- attention ----------------------------------------------------------------------------------------
@dataclass
class _Piece:
    text: str
    weight: float
    is_break: bool = False


class _AttentionParser:
    """A single left-to-right pass. Each open bracket remembers where its text starts; closing it multiplies
    the weight of every piece from there on, so nesting multiplies. Round and square brackets keep separate
    stacks: a ")" closes the latest "(" even across an open "[", as in A1111."""

    def __init__(self) -> None:
        self.pieces: list[_Piece] = []
        self.round: list[int] = []
        self.square: list[int] = []

    def feed(self, match: re.Match[str]) -> None:
        kind = match.lastgroup
        token = match.group(0)
        if kind == "escaped":
            self._add_text(token[1])
        elif kind == "open":
            (self.round if token == "(" else self.square).append(len(self.pieces))
        elif kind == "weight" and self.round:
            self._multiply(self.round.pop(), float(match.group("number")))
        elif kind == "close" and token == ")" and self.round:
            self._multiply(self.round.pop(), ROUND_FACTOR)
        elif kind == "close" and token == "]" and self.square:
            self._multiply(self.square.pop(), SQUARE_FACTOR)
        else:
            # Plain text, or a bracket/weight that closes nothing: A1111 keeps those as literal text.
            self._add_text(token)

    def finish(self) -> list[_Piece]:
        # An unclosed bracket applies to the rest of the prompt.
        for start in reversed(self.round):
            self._multiply(start, ROUND_FACTOR)
        for start in reversed(self.square):
            self._multiply(start, SQUARE_FACTOR)
        return self.pieces

    def _add_text(self, text: str) -> None:
        for index, part in enumerate(_BREAK_SPLIT.split(text)):
            if index > 0:
                self.pieces.append(_Piece(BREAK, BREAK_WEIGHT, is_break=True))
            if part:
                self.pieces.append(_Piece(part, 1.0))

    def _multiply(self, start: int, factor: float) -> None:
        for piece in self.pieces[start:]:
            if not piece.is_break:  # a BREAK inside brackets stays a BREAK
                piece.weight *= factor


def parse_attention(text: str) -> list[tuple[str, float]]:
    """Split a prompt into (text, weight) pieces following A1111's emphasis syntax.

    ``(x)`` is x times 1.1, ``[x]`` x divided by 1.1, ``(x:w)`` x times w, nested brackets multiply,
    ``\\(`` ``\\)`` ``\\[`` ``\\]`` ``\\\\`` are literal characters. ``BREAK`` gives the pair
    ``("BREAK", -1.0)``. Neighbouring pieces of equal weight are merged; an empty prompt gives ``[("", 1.0)]``.
    """
    parser = _AttentionParser()
    for match in _ATTENTION_TOKEN.finditer(text):
        parser.feed(match)
    merged: list[_Piece] = []
    for piece in parser.finish():
        last = merged[-1] if merged else None
        if last is not None and not last.is_break and not piece.is_break and last.weight == piece.weight:
            last.text += piece.text
        else:
            merged.append(piece)
    if not merged:
        return [("", 1.0)]
    return [(piece.text, piece.weight) for piece in merged]


def is_break(piece: tuple[str, float]) -> bool:
    """Whether a parse_attention piece is the BREAK marker."""
    return piece == (BREAK, BREAK_WEIGHT)


def plain_prompt(text: str) -> tuple[str, bool]:
    """The prompt's words without the attention syntax (for encoders that take plain text: Flux's T5
    and CLIP), and whether it weighted anything (weights other than 1, which are then not applied)."""
    pieces = parse_attention(text)
    words = "".join(" " if is_break(piece) else piece[0] for piece in pieces)
    weighted = any(not is_break(piece) and piece[1] != 1.0 for piece in pieces)
    return " ".join(words.split()), weighted
