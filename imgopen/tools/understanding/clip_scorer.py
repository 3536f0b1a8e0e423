"""Zero-shot scores with a CLIP model (transformers folder under models/clip/): how well each of a
list of labels describes an image, as CLIP's softmax over label similarities."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tools.understanding.loaded import Loaded
from imgopen.tools.understanding.model_folders import CLIP, find_model_folder, load_failed

TEXT_BATCH = 64


@dataclass
class _Clip:
    model: Any
    processor: Any
    logit_scale: float
    texts: dict[str, NDArray[np.float32]] = field(
        default_factory=dict
    )  # text -> unit embedding, dropped with the model
    lock: threading.Lock = field(default_factory=threading.Lock)


def _unit(features: Any) -> NDArray[np.float32]:
    """Embeddings as unit vectors; transformers 5 wraps them in an output whose pooler_output
    holds the projected features, older versions return the tensor itself."""
    tensor = getattr(features, "pooler_output", features)
    array = np.asarray(tensor.detach().float().cpu().numpy(), np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return np.asarray(array / np.maximum(norms, 1e-8), np.float32)


def _load(folder: Path) -> _Clip:
    try:
        from transformers import AutoModel, AutoProcessor

        processor = AutoProcessor.from_pretrained(str(folder), local_files_only=True)
        model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    except Exception as exc:  # a broken or foreign folder: the operator must fix it
        raise load_failed(CLIP, folder, exc) from exc
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise load_failed(CLIP, folder, TypeError(f"{type(model).__name__} is not an image-text embedding model"))
    scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
    return _Clip(model, processor, scale)


class ClipScorer:
    """Holders on one cache share the model and its text embeddings (interrogate, identifyStyle)."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        self._loaded: Loaded[_Clip] = Loaded(own_cache(cache), "clip", _load)

    @staticmethod
    def folder(models_dir: Path) -> Path | None:
        return find_model_folder(CLIP, models_dir)

    def image_embedding(self, folder: Path, image: Image.Image) -> NDArray[np.float32]:
        import torch

        clip = self._loaded.get(folder)
        inputs = clip.processor(images=image.convert("RGB"), return_tensors="pt")
        with torch.no_grad():
            features = clip.model.get_image_features(pixel_values=inputs["pixel_values"])
        return np.asarray(_unit(features)[0], np.float32)

    def text_embeddings(self, folder: Path, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit embeddings of `texts`, computed once per loaded model."""
        import torch

        clip = self._loaded.get(folder)
        with clip.lock:
            missing = [text for text in dict.fromkeys(texts) if text not in clip.texts]
        for start in range(0, len(missing), TEXT_BATCH):
            batch = missing[start : start + TEXT_BATCH]
            tokens = clip.processor(text=batch, return_tensors="pt", padding=True, truncation=True)
            with torch.no_grad():
                embedded = _unit(
                    clip.model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
                )
            with clip.lock:
                clip.texts.update(zip(batch, embedded, strict=True))
        with clip.lock:
            return np.asarray(np.stack([clip.texts[text] for text in texts]), np.float32)

    def label_scores(
        self, folder: Path, image: Image.Image | NDArray[np.float32], labels: Sequence[Sequence[str]]
    ) -> NDArray[np.float64]:
        """Per label, the probability that it is the one describing the image (softmax over the
        labels of CLIP's scaled cosine similarity). A label with several prompts is their mean
        embedding (prompt ensembling, as in CLIP's paper)."""
        clip = self._loaded.get(folder)
        picture = image if isinstance(image, np.ndarray) else self.image_embedding(folder, image)
        prompts = [prompt for label in labels for prompt in label]
        embedded = self.text_embeddings(folder, prompts)
        centres, at = [], 0
        for label in labels:
            mean = embedded[at : at + len(label)].mean(axis=0)
            centres.append(mean / max(float(np.linalg.norm(mean)), 1e-8))
            at += len(label)
        logits = clip.logit_scale * (np.stack(centres).astype(np.float64) @ picture.astype(np.float64))
        logits -= logits.max()
        weights = np.exp(logits)
        return np.asarray(weights / weights.sum(), np.float64)
