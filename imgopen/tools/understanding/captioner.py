"""Image captions from a transformers image-to-text model (BLIP, BLIP-2, GIT or Florence-2 folder
under models/captioning/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tools.understanding.loaded import Loaded
from imgopen.tools.understanding.model_folders import CAPTIONING, find_model_folder, load_failed

# Beam search, as A1111's BLIP interrogator: captions are short and a few beams avoid the odd
# word that greedy decoding picks; at least a few tokens, so a caption is never a lone article.
GENERATION: dict[str, Any] = {"num_beams": 3, "max_new_tokens": 40, "min_new_tokens": 4, "do_sample": False}
# Florence-2 is steered by a task token; the others caption an image without any text.
TASK_PROMPTS = {"florence2": "<DETAILED_CAPTION>"}
# Words that BLIP models trained on web captions are known to invent ("arafed" and relatives).
_ARTEFACTS = re.compile(r"\b(?:araf+e*d?|arafe+d|araffe)\b\s*", re.IGNORECASE)


@dataclass
class _Captioner:
    model: Any
    processor: Any
    kind: str  # the config's model_type: "blip", "git", "florence2"...


def _load(folder: Path) -> _Captioner:
    try:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(str(folder), local_files_only=True).eval()
    except Exception as exc:  # a broken or foreign folder: the operator must fix it
        raise load_failed(CAPTIONING, folder, exc) from exc
    return _Captioner(model, processor, str(model.config.model_type))


def clean_caption(text: str) -> str:
    return re.sub(r"\s+", " ", _ARTEFACTS.sub("", text)).strip(" ,.;:")


class Captioner:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._loaded: Loaded[_Captioner] = Loaded(own_cache(cache), "captioner", _load)

    @staticmethod
    def folder(models_dir: Path) -> Path | None:
        return find_model_folder(CAPTIONING, models_dir)

    def caption(self, folder: Path, image: Image.Image) -> tuple[str, str]:
        """(caption, model kind)."""
        import torch

        captioner = self._loaded.get(folder)
        prompt = TASK_PROMPTS.get(captioner.kind)
        if prompt is None:
            inputs = captioner.processor(images=image.convert("RGB"), return_tensors="pt")
        else:
            inputs = captioner.processor(images=image.convert("RGB"), text=prompt, return_tensors="pt")
        with torch.no_grad():
            output = captioner.model.generate(**inputs, **GENERATION)
        if captioner.model.config.is_encoder_decoder is False and "input_ids" in inputs:
            output = output[:, inputs["input_ids"].shape[1] :]  # decoder-only: drop the echoed prompt
        text = captioner.processor.batch_decode(output, skip_special_tokens=True)[0]
        return clean_caption(str(text)), captioner.kind
