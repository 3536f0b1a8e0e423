"""A measured Scene worded two ways: as a prompt a user could reuse (interrogate "clip" offline)
and as Danbooru-style tags (interrogate "deepdanbooru" offline). Each word comes with the score
of the measurement behind it."""

from __future__ import annotations

from dataclasses import dataclass

from imgopen.tools.understanding.scene import Scene
from imgopen.vision.styles import STYLES

STYLE_NOUNS = {
    "photograph": "a photograph",
    "black and white photograph": "a black and white photograph",
    "anime": "an anime illustration",
    "illustration": "a flat illustration",
    "3D render": "a 3D render",
    "oil painting": "an oil painting",
    "watercolour": "a watercolour painting",
    "sketch": "a pencil sketch",
    "pixel art": "pixel art",
    "line art": "line art",
}
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_BOORU_FRAMING = {
    "close-up": "close-up",
    "head and shoulders": "portrait",
    "upper body": "upper body",
    "three-quarter length": "cowboy shot",
    "full body": "full body",
}
GREY_CHROMA = 0.04  # mean chroma under which a picture reads as black and white
THEME_SHARE = 0.35  # a colour covering this much of the picture sets its theme


@dataclass(frozen=True)
class Word:
    text: str
    score: float  # 0..1
    category: str


def _people(count: int) -> str:
    if count == 1:
        return "one person"
    if count < len(_NUMBERS):
        return f"{_NUMBERS[count]} people"
    return "a crowd of people"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _greyscale(scene: Scene) -> bool:
    return scene.chroma < GREY_CHROMA


def _position(x: float) -> str:
    if x < 0.38:
        return "subject on the left"
    if x > 0.62:
        return "subject on the right"
    return "subject centred"


def _format(scene: Scene) -> str:
    ratio = scene.width / scene.height
    if ratio > 1.15:
        return "landscape format"
    if ratio < 0.87:
        return "portrait format"
    return "square format"


def prompt_words(scene: Scene) -> list[Word]:
    """The description as prompt phrases, most important first."""
    style, style_score = scene.styles[0]
    noun = STYLE_NOUNS[style]
    words = [Word(f"{noun} of {_people(scene.people)}" if scene.people else noun, style_score, "style")]
    if scene.people:
        words.append(Word(_people(scene.people), scene.people_score, "people"))
    if scene.framing:
        words.append(Word(scene.framing, scene.framing_score, "framing"))
    if scene.subject_x is not None:
        words.append(Word(_position(scene.subject_x), scene.people_score, "composition"))
    if scene.background is not None:
        words.append(Word(f"plain {scene.background.name} background", scene.background.share, "background"))
    if not _greyscale(scene):
        named = [colour for colour in scene.colours if colour.share >= 0.08][:3] or scene.colours[:1]
        share = sum(colour.share for colour in named)
        words.append(Word(f"{_join([colour.name for colour in named])} tones", share, "colour"))
    if scene.lightness < 30:
        words.append(Word("dark, low-key lighting", 1 - scene.lightness / 30, "lighting"))
    elif scene.lightness > 70:
        words.append(Word("bright, high-key lighting", (scene.lightness - 70) / 30, "lighting"))
    else:
        words.append(Word("balanced exposure", 1 - abs(scene.lightness - 50) / 20, "lighting"))
    if scene.contrast > 25:
        words.append(Word("high contrast", min(1.0, scene.contrast / 40), "lighting"))
    elif scene.contrast < 12:
        words.append(Word("soft, low contrast", 1 - scene.contrast / 12, "lighting"))
    words.append(Word(_format(scene), 1.0, "composition"))
    return words


def caption(words: list[Word]) -> str:
    """The prompt: the style-and-subject phrase, then the others (the people count is in the first)."""
    return ", ".join(word.text for word in words if word.category != "people")


def booru_tags(scene: Scene) -> list[Word]:
    """Danbooru-style tags for the same measurements, best first."""
    style, style_score = scene.styles[0]
    tags = [Word(next(s.booru_tag for s in STYLES if s.name == style), style_score, "general")]
    if scene.people == 0:
        tags.append(Word("no humans", scene.people_score, "general"))
    elif scene.people == 1:
        tags.append(Word("solo", scene.people_score, "general"))
    else:
        tags.append(Word("multiple people", scene.people_score, "general"))
    if scene.framing:
        tags.append(Word(_BOORU_FRAMING[scene.framing], scene.framing_score, "general"))
    if _greyscale(scene):
        certainty = 1 - scene.chroma / GREY_CHROMA
        tags += [Word("greyscale", certainty, "general"), Word("monochrome", certainty, "general")]
    elif scene.colours and scene.colours[0].share >= THEME_SHARE:
        top = scene.colours[0]
        tags.append(Word(f"{top.name} theme", top.share, "general"))
    if scene.background is not None:
        tags.append(Word(f"{scene.background.name} background", scene.background.share, "general"))
        tags.append(Word("simple background", scene.background.share, "general"))
    if scene.lightness < 30:
        tags.append(Word("dark", 1 - scene.lightness / 30, "general"))
    return sorted(tags, key=lambda tag: -tag.score)


def escape_tag(tag: str) -> str:
    """Brackets escaped, so a tag list pasted into an A1111 prompt is not read as weights."""
    return tag.replace("(", "\\(").replace(")", "\\)")
