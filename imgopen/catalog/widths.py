"""The widths that tie add-ons to checkpoints: a LoRA's cross-attention input must match the
checkpoint's context width, an embedding's vectors its text encoder's width."""

from __future__ import annotations

from typing import Any

from imgopen.catalog.tensor_index import TensorIndex

_TEXT_EMBEDDING_KEYS = (
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
    "cond_stage_model.model.token_embedding.weight",
    "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
)


def index_widths(index: TensorIndex) -> dict[str, int]:
    """{"context_width", "text_width"} of a single-file checkpoint, where its keys show them."""
    widths: dict[str, int] = {}
    for key, shape in index.shapes.items():
        if key.endswith("attn2.to_k.weight") and len(shape) == 2:
            widths["context_width"] = shape[1]
            break
    for key in _TEXT_EMBEDDING_KEYS:
        embedding = index.shapes.get(key)
        if embedding is not None and len(embedding) == 2:
            widths["text_width"] = embedding[1]
            break
    return widths


def folder_widths(folder: dict[str, Any]) -> dict[str, int]:
    """The same for a diffusers folder, from its component configs."""
    widths: dict[str, int] = {}
    unet = folder.get("unet") or {}
    if isinstance(unet, dict) and isinstance(unet.get("cross_attention_dim"), int):
        widths["context_width"] = unet["cross_attention_dim"]
    text_encoder = folder.get("text_encoder") or {}
    if isinstance(text_encoder, dict) and isinstance(text_encoder.get("hidden_size"), int):
        widths["text_width"] = text_encoder["hidden_size"]
    return widths
