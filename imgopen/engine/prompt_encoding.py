"""Prompts of any length, with A1111 attention weights, encoded for diffusers' Stable Diffusion pipelines.

diffusers truncates a prompt at 77 tokens and ignores emphasis. Automatic1111 instead cuts the tokens into
chunks of 75, encodes each chunk on its own (BOS + 75 tokens + EOS) and concatenates the outputs along the
sequence axis, which the UNet's cross-attention accepts at any length. Weights scale each token's output
vector, then the chunk is rescaled so its mean stays what it was unweighted ("mean restore").

The result goes to the pipeline as ``prompt_embeds`` and friends (``PromptEmbeds.as_kwargs()``). For a plain
prompt of at most 75 tokens it equals what the pipeline's own ``encode_prompt`` computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import torch

from imgopen.engine.prompt_syntax import is_break, parse_attention

CHUNK_LENGTH: Final = 75  # CLIP's 77 positions less BOS and EOS
# A full chunk is cut after its last comma when that comma is this close to the end, so that the phrase
# the comma starts moves whole into the next chunk (A1111's "comma padding backtrack" default).
COMMA_BACKTRACK: Final = 20


@dataclass(frozen=True)
class PromptEmbeds:
    """Keyword arguments for a pipeline call, in place of ``prompt`` and ``negative_prompt``."""

    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor
    pooled_prompt_embeds: torch.Tensor | None = None  # SDXL only
    negative_pooled_prompt_embeds: torch.Tensor | None = None

    def as_kwargs(self) -> dict[str, torch.Tensor]:
        kwargs = {"prompt_embeds": self.prompt_embeds, "negative_prompt_embeds": self.negative_prompt_embeds}
        if self.pooled_prompt_embeds is not None and self.negative_pooled_prompt_embeds is not None:
            kwargs["pooled_prompt_embeds"] = self.pooled_prompt_embeds
            kwargs["negative_pooled_prompt_embeds"] = self.negative_pooled_prompt_embeds
        return kwargs


@dataclass
class TokenChunk:
    """Up to CHUNK_LENGTH token ids (no BOS/EOS) and the attention weight of each."""

    tokens: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


# --- tokens -> chunks ---------------------------------------------------------------------------------
class _ChunkBuilder:
    def __init__(self, comma_id: int | None) -> None:
        self.comma_id = comma_id
        self.chunks: list[TokenChunk] = []
        self.current = TokenChunk()
        self.last_comma = -1  # index of the last comma in the current chunk

    def add(self, token: int, weight: float) -> None:
        if len(self.current.tokens) == CHUNK_LENGTH:
            self._wrap(moving_comma=token == self.comma_id)
        if token == self.comma_id:
            self.last_comma = len(self.current.tokens)
        self.current.tokens.append(token)
        self.current.weights.append(weight)

    def close(self) -> None:
        self.chunks.append(self.current)
        self.current = TokenChunk()
        self.last_comma = -1

    def finish(self) -> list[TokenChunk]:
        # A trailing empty chunk adds nothing, but a prompt with no tokens still needs one chunk.
        if self.current.tokens or not self.chunks:
            self.close()
        return self.chunks

    def _wrap(self, moving_comma: bool) -> None:
        """The chunk is full and another token comes: start a new chunk, taking along the words after a
        recent comma (a comma arriving now needs no backtrack: it already falls at a phrase boundary)."""
        keep = CHUNK_LENGTH
        if not moving_comma and self.last_comma >= 0 and CHUNK_LENGTH - self.last_comma <= COMMA_BACKTRACK:
            keep = self.last_comma + 1
        moved = TokenChunk(self.current.tokens[keep:], self.current.weights[keep:])
        del self.current.tokens[keep:], self.current.weights[keep:]
        self.close()
        self.current = moved


def split_chunks(pieces: Sequence[tuple[Sequence[int], float] | None], comma_id: int | None) -> list[TokenChunk]:
    """Lay weighted token runs out in chunks of at most CHUNK_LENGTH tokens; None (a BREAK) ends a chunk."""
    builder = _ChunkBuilder(comma_id)
    for piece in pieces:
        if piece is None:
            builder.close()  # as in A1111, even an empty chunk: "BREAK BREAK" leaves a blank chunk
            continue
        tokens, weight = piece
        for token in tokens:
            builder.add(token, weight)
    return builder.finish()


def tokenize_prompt(pipe: Any, tokenizer: Any, prompt: str) -> list[TokenChunk]:
    """A prompt in A1111 attention syntax as weighted token chunks for one tokenizer."""
    parsed = parse_attention(prompt)
    texts = [text for text, _ in parsed]
    if _has_multi_vector_tokens(tokenizer):
        texts = [_expand_textual_inversion(pipe, tokenizer, text) for text in texts]
    # Every piece is tokenized on its own, without BOS/EOS, as A1111 does.
    ids = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False).input_ids
    pieces = [None if is_break(piece) else (piece_ids, piece[1]) for piece, piece_ids in zip(parsed, ids, strict=True)]
    return split_chunks(pieces, _comma_id(tokenizer))


def _has_multi_vector_tokens(tokenizer: Any) -> bool:
    """Whether a loaded textual inversion has several vectors (tokens ``tok`` and ``tok_1``). Only then is
    maybe_convert_prompt needed, and skipping it spares its re-tokenization (and transformers' warning about
    sequences longer than 77 tokens, which chunking makes harmless)."""
    added = set(getattr(tokenizer, "added_tokens_encoder", {}))
    return any(token.endswith("_1") and token[:-2] in added for token in added)


def _expand_textual_inversion(pipe: Any, tokenizer: Any, text: str) -> str:
    """A multi-vector embedding's token becomes ``tok tok_1 ...``, one token per vector."""
    convert = getattr(pipe, "maybe_convert_prompt", None)
    return str(convert(text, tokenizer)) if convert is not None and text else text


def _comma_id(tokenizer: Any) -> int | None:
    ids = tokenizer(",", add_special_tokens=False).input_ids
    return int(ids[0]) if len(ids) == 1 else None


# --- chunks -> tensors ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Encoder:
    """One text encoder and how A1111/diffusers read its output."""

    tokenizer: Any
    model: Any
    layer: int  # index into hidden_states; -1 with final_norm is the model's own last_hidden_state
    final_norm: bool
    pooled: bool  # whether its projected pooled output (SDXL's text_embeds) is wanted


def _chunk_inputs(tokenizer: Any, chunks: Sequence[TokenChunk]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, attention mask and weights, each (chunks, 77): BOS + tokens + EOS, then padding."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids, mask, weights = [], [], []
    for chunk in chunks:
        padding = CHUNK_LENGTH - len(chunk.tokens)
        ids.append([tokenizer.bos_token_id, *chunk.tokens, tokenizer.eos_token_id] + [pad] * padding)
        mask.append([1] * (len(chunk.tokens) + 2) + [0] * padding)
        weights.append([1.0, *chunk.weights, 1.0] + [1.0] * padding)
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(weights)


def _run_encoder(encoder: _Encoder, chunks: Sequence[TokenChunk]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(1, chunks * 77, width) token embeddings, and the first chunk's pooled output when asked for."""
    from diffusers.utils.torch_utils import get_module_execution_device

    ids, mask, weights = _chunk_inputs(encoder.tokenizer, chunks)
    device = get_module_execution_device(encoder.model)
    # diffusers passes a mask only to encoders configured for one; matching it keeps results identical.
    use_mask = bool(getattr(encoder.model.config, "use_attention_mask", False))
    needs_hidden = not (encoder.final_norm and encoder.layer == -1)
    output = encoder.model(
        ids.to(device), attention_mask=mask.to(device) if use_mask else None, output_hidden_states=needs_hidden
    )
    if needs_hidden:
        hidden = output.hidden_states[max(encoder.layer, -len(output.hidden_states))]
        if encoder.final_norm:
            hidden = _final_layer_norm(encoder.model)(hidden)
    else:
        hidden = output.last_hidden_state
    hidden = _apply_weights(hidden, weights.to(hidden.device))
    pooled = output.text_embeds[:1] if encoder.pooled else None  # A1111 pools the first chunk only
    return hidden.reshape(1, -1, hidden.shape[-1]), pooled


def _final_layer_norm(model: Any) -> Any:
    # transformers 5 flattened CLIPTextModel (the norm sits on the model itself); 4.x and the projection
    # model keep it under text_model. diffusers' own clip_skip path still assumes text_model.
    norm = getattr(model, "final_layer_norm", None)
    return norm if norm is not None else model.text_model.final_layer_norm


def _apply_weights(hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Scale each token's vector by its weight, then restore each chunk's mean (in float32 for half models)."""
    if bool((weights == 1.0).all()):
        return hidden  # untouched, so plain prompts stay bit-identical to diffusers
    values = hidden.float()
    original_mean = values.mean(dim=(1, 2), keepdim=True)
    values = values * weights.unsqueeze(-1)
    new_mean = values.mean(dim=(1, 2), keepdim=True)
    # A chunk whose weighted mean is zero cannot be rescaled; it is left as weighted.
    scale = torch.where(new_mean == 0, torch.ones_like(new_mean), original_mean / new_mean)
    return (values * scale).to(hidden.dtype)


# --- pipelines ----------------------------------------------------------------------------------------
def _encoders(pipe: Any, clip_skip: int) -> list[_Encoder]:
    if clip_skip < 1:
        raise ValueError(f"clip_skip must be 1 or more, got {clip_skip}")
    if not hasattr(pipe, "text_encoder_2"):
        # SD 1.x/2.x: A1111's "stop at last layers" n takes hidden_states[-n] through the final norm.
        return [_Encoder(pipe.tokenizer, pipe.text_encoder, -clip_skip, final_norm=True, pooled=False)]
    if "WithProjection" not in type(pipe.text_encoder_2).__name__:
        raise TypeError(f"{type(pipe).__name__}: only Stable Diffusion 1.x/2.x and SDXL pipelines are supported")
    # SDXL, diffusers' convention: the penultimate layer (clip_skip 1) without final norm, for both encoders.
    encoders = [(pipe.tokenizer, pipe.text_encoder, False), (pipe.tokenizer_2, pipe.text_encoder_2, True)]
    return [
        _Encoder(tokenizer, model, -(clip_skip + 1), final_norm=False, pooled=pooled)
        for tokenizer, model, pooled in encoders
        if model is not None  # the SDXL refiner has no first encoder
    ]


def _encode_side(
    encoders: Sequence[_Encoder], chunk_lists: Sequence[list[TokenChunk]], count: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One prompt through every encoder, each padded with empty chunks to `count`, widths concatenated."""
    outputs, pooled = [], None
    for encoder, chunks in zip(encoders, chunk_lists, strict=True):
        padded = chunks + [TokenChunk() for _ in range(count - len(chunks))]
        hidden, encoder_pooled = _run_encoder(encoder, padded)
        outputs.append(hidden)
        pooled = encoder_pooled if encoder_pooled is not None else pooled
    dtype = outputs[-1].dtype  # diffusers casts SDXL's concatenation to the last (bigG) encoder's dtype
    return torch.cat([output.to(dtype) for output in outputs], dim=-1), pooled


def encode_prompts(
    pipe: Any, prompt: str, negative_prompt: str, clip_skip: int = 1, device: torch.device | str | None = None
) -> PromptEmbeds:
    """Encode a prompt and its negative in A1111's manner for a Stable Diffusion (1.x/2.x) or SDXL pipeline.

    Both come out with the same number of 77-token chunks (the shorter padded with encodings of "").
    Extra-network tags must be removed beforehand (prompt_syntax.extract_networks).
    """
    encoders = _encoders(pipe, clip_skip)
    positive = [tokenize_prompt(pipe, encoder.tokenizer, prompt) for encoder in encoders]
    negative = [tokenize_prompt(pipe, encoder.tokenizer, negative_prompt) for encoder in encoders]
    count = max(len(chunks) for chunks in (*positive, *negative))
    negative_pooled: torch.Tensor | None
    with torch.no_grad():
        prompt_embeds, pooled = _encode_side(encoders, positive, count)
        if pooled is not None and not negative_prompt.strip() and _forces_zeros(pipe):
            # SDXL base was trained with zeros as the empty negative, and its config says so.
            negative_embeds, negative_pooled = torch.zeros_like(prompt_embeds), torch.zeros_like(pooled)
        else:
            negative_embeds, negative_pooled = _encode_side(encoders, negative, count)
    target = torch.device(device) if device is not None else prompt_embeds.device
    return PromptEmbeds(
        prompt_embeds.to(target),
        negative_embeds.to(target),
        pooled.to(target) if pooled is not None else None,
        negative_pooled.to(target) if negative_pooled is not None else None,
    )


def _forces_zeros(pipe: Any) -> bool:
    return bool(getattr(pipe.config, "force_zeros_for_empty_prompt", False))
