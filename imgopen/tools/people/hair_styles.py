"""The hairstyle presets hair/change publishes: a code, the words Stable Diffusion is given, and how
far the new hair reaches (which sets the area that is repainted)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Length = Literal["short", "medium", "long"]


@dataclass(frozen=True)
class HairStyle:
    code: str
    prompt: str
    length: Length


HAIR_STYLES: dict[str, HairStyle] = {
    s.code: s
    for s in (
        HairStyle("buzz_cut", "a buzz cut, very short clipped hair", "short"),
        HairStyle("crew_cut", "a neat crew cut", "short"),
        HairStyle("pixie_cut", "a pixie cut, short cropped hair", "short"),
        HairStyle("undercut", "an undercut, short sides and longer hair on top", "short"),
        HairStyle("quiff", "a voluminous quiff swept up at the front", "short"),
        HairStyle("side_part", "a classic side-parted short haircut", "short"),
        HairStyle("slicked_back", "sleek slicked-back hair", "short"),
        HairStyle("mohawk", "a mohawk with shaved sides", "short"),
        HairStyle("top_bun", "hair pulled up into a top knot bun", "short"),
        HairStyle("short_curly", "short curly hair with tight curls", "short"),
        HairStyle("bob_cut", "a chin-length bob cut", "medium"),
        HairStyle("long_bob", "a shoulder-grazing long bob", "medium"),
        HairStyle("bangs", "straight hair with full blunt bangs", "medium"),
        HairStyle("shag", "a layered shag haircut with curtain bangs", "medium"),
        HairStyle("curly_afro", "a big round curly afro", "medium"),
        HairStyle("ponytail", "hair pulled back into a high ponytail", "medium"),
        HairStyle("shoulder_length", "shoulder-length layered hair", "medium"),
        HairStyle("long_straight", "long sleek straight hair past the shoulders", "long"),
        HairStyle("long_wavy", "long wavy hair with soft waves", "long"),
        HairStyle("long_curly", "long voluminous curly hair", "long"),
        HairStyle("braids", "long box braids", "long"),
        HairStyle("dreadlocks", "long dreadlocks", "long"),
        HairStyle("side_braid", "a loose braid over one shoulder", "long"),
    )
}

STYLE_CODES = tuple(HAIR_STYLES)
NEGATIVE_PROMPT = (
    "hat, helmet, headscarf, bald patches, deformed head, extra face, blurry, lowres, cartoon, painting, text, "
    "watermark"
)


def _key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def resolve_style(value: str) -> tuple[HairStyle | None, str, Length]:
    """(preset or None, what to paint, reach): a preset by its code (spaces and hyphens count as
    underscores), or the user's own words, given the longest reach since any length may be meant."""
    preset = HAIR_STYLES.get(_key(value))
    if preset is not None:
        return preset, preset.prompt, preset.length
    return None, value.strip(), "long"
