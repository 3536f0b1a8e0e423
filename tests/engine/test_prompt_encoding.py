"""Long, weighted prompts encoded for tiny random-weight SD 1.5 and SDXL pipelines, checked against diffusers."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imgopen.engine.prompt_encoding import (
    PromptEmbeds,
    encode_prompts,
    split_chunks,
    tokenize_prompt,
)
from imgopen.testing.tiny_models import save_embedding, sd15_pipeline, sdxl_pipeline

# 200 characters with no spaces: the byte-level tiny tokenizer makes one token of each, so 3 chunks.
LONG_PROMPT = "abcdefghij" * 20
COMMA = 267  # "," in the tiny tokenizer


@pytest.fixture(scope="module")
def sd() -> Any:
    pipe = sd15_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def sdxl() -> Any:
    pipe = sdxl_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def sd_ti(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same weights as `sd` (same seed), plus a 2-vector textual inversion `tinyneg`."""
    pipe = sd15_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    path = save_embedding(tmp_path_factory.mktemp("emb") / "tinyneg.pt", width=32, vectors=2, seed=21)
    pipe.load_textual_inversion(str(path), token="tinyneg")
    return pipe


def generate(pipe: Any, **kwargs: Any) -> np.ndarray:
    generator = torch.Generator().manual_seed(0)
    images: np.ndarray = pipe(num_inference_steps=2, generator=generator, output_type="np", **kwargs).images
    return images


def sd_reference(pipe: Any, prompt: str, negative: str | None) -> tuple[Any, Any]:
    return pipe.encode_prompt(prompt, "cpu", 1, True, negative)


def chunk(embeds: torch.Tensor, index: int) -> torch.Tensor:
    return embeds[:, index * 77 : (index + 1) * 77]


# --- chunking -------------------------------------------------------------------------------------------
def test_split_chunks_at_75_tokens() -> None:
    chunks = split_chunks([(list(range(200)), 1.0)], COMMA)
    assert [len(c.tokens) for c in chunks] == [75, 75, 50]
    assert [t for c in chunks for t in c.tokens] == list(range(200))
    assert [len(c.tokens) for c in split_chunks([(list(range(75)), 1.0)], COMMA)] == [75]
    assert [len(c.tokens) for c in split_chunks([(list(range(76)), 1.0)], COMMA)] == [75, 1]


def test_split_chunks_backtracks_to_a_recent_comma() -> None:
    tokens = [1] * 60 + [COMMA] + [2] * 30  # comma at index 60: 15 from the end of the chunk
    chunks = split_chunks([(tokens, 1.0)], COMMA)
    assert [len(c.tokens) for c in chunks] == [61, 30]
    assert chunks[0].tokens[-1] == COMMA and chunks[1].tokens == [2] * 30


def test_split_chunks_ignores_a_distant_comma() -> None:
    tokens = [1] * 40 + [COMMA] + [2] * 50  # comma 35 from the end: farther than 20
    assert [len(c.tokens) for c in split_chunks([(tokens, 1.0)], COMMA)] == [75, 16]


def test_split_chunks_keeps_weights_with_moved_tokens() -> None:
    chunks = split_chunks([([1] * 70 + [COMMA], 1.0), ([2] * 10, 1.5)], COMMA)
    assert chunks[0].weights == [1.0] * 71 and chunks[1].weights == [1.5] * 10
    moved = split_chunks([([1] * 60 + [COMMA], 1.0), ([2] * 30, 1.5)], COMMA)
    assert [len(c.tokens) for c in moved] == [61, 30]
    assert moved[1].weights == [1.5] * 30


def test_split_chunks_break_and_empty() -> None:
    assert [c.tokens for c in split_chunks([([1], 1.0), None, ([2], 1.0)], COMMA)] == [[1], [2]]
    assert [c.tokens for c in split_chunks([([1], 1.0), None], COMMA)] == [[1]]
    assert [c.tokens for c in split_chunks([([1], 1.0), None, None, ([2], 1.0)], COMMA)] == [[1], [], [2]]
    assert [c.tokens for c in split_chunks([([], 1.0)], COMMA)] == [[]]


def test_tokenize_prompt_weights_tokens(sd: Any) -> None:
    [only] = tokenize_prompt(sd, sd.tokenizer, "a (cat:1.5)")
    assert len(only.tokens) == 4  # "a", "c", "a", "t" (byte-level)
    assert only.weights == [1.0, 1.5, 1.5, 1.5]


# --- SD 1.5 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("prompt", "negative"), [("a cat, red", "ugly"), ("a cat, red", ""), ("", "")])
def test_sd_plain_prompt_equals_diffusers(sd: Any, prompt: str, negative: str) -> None:
    embeds = encode_prompts(sd, prompt, negative)
    reference = sd_reference(sd, prompt, negative or None)
    assert embeds.pooled_prompt_embeds is None and set(embeds.as_kwargs()) == {
        "prompt_embeds",
        "negative_prompt_embeds",
    }
    assert embeds.prompt_embeds.shape == (1, 77, 32)
    assert torch.allclose(embeds.prompt_embeds, reference[0], atol=1e-5)
    assert torch.allclose(embeds.negative_prompt_embeds, reference[1], atol=1e-5)


def test_sd_image_identical_with_embeds(sd: Any) -> None:
    from_text = generate(sd, prompt="a red cat", negative_prompt="blurry")
    from_embeds = generate(sd, **encode_prompts(sd, "a red cat", "blurry").as_kwargs())
    np.testing.assert_array_equal(from_text, from_embeds)


def test_img2img_pipeline_shares_the_encoding(sd: Any) -> None:
    from diffusers import StableDiffusionImg2ImgPipeline

    img2img = StableDiffusionImg2ImgPipeline(**sd.components)
    embeds = encode_prompts(img2img, "a cat", "ugly")
    reference = sd_reference(img2img, "a cat", "ugly")
    assert torch.allclose(embeds.prompt_embeds, reference[0], atol=1e-5)


def test_weight_scales_its_tokens_and_restores_the_mean(sd: Any) -> None:
    plain = encode_prompts(sd, "a cat on a mat", "").prompt_embeds[0]
    weighted = encode_prompts(sd, "a (cat:1.5) on a mat", "").prompt_embeds[0]
    assert not torch.allclose(plain, weighted)
    # Tokens: BOS, "a", then c-a-t at positions 2..4. The weight multiplies those, then everything is
    # rescaled by one factor so that the mean is back to the plain one.
    ratio = weighted / plain
    scale = ratio[0, 0]
    assert torch.allclose(ratio[2:5], torch.full_like(ratio[2:5], float(scale * 1.5)), atol=1e-4)
    outside = torch.cat([ratio[:2], ratio[5:]])
    assert torch.allclose(outside, torch.full_like(outside, float(scale)), atol=1e-4)
    assert float(weighted.mean()) == pytest.approx(float(plain.mean()), abs=1e-6)


def test_weight_one_equals_plain(sd: Any) -> None:
    plain = encode_prompts(sd, "a cat on a mat", "(ugly:1.0)")
    explicit = encode_prompts(sd, "a (cat:1.0) on a mat", "ugly")
    assert torch.equal(plain.prompt_embeds, explicit.prompt_embeds)
    assert torch.equal(plain.negative_prompt_embeds, explicit.negative_prompt_embeds)


def test_long_prompt_gives_three_chunks_and_an_image(sd: Any) -> None:
    assert [len(c.tokens) for c in tokenize_prompt(sd, sd.tokenizer, LONG_PROMPT)] == [75, 75, 50]
    embeds = encode_prompts(sd, LONG_PROMPT, "")
    assert embeds.prompt_embeds.shape == (1, 231, 32)
    assert embeds.negative_prompt_embeds.shape == (1, 231, 32)
    # Chunks are encoded separately: each starts with BOS, whose output depends on nothing else.
    assert torch.allclose(chunk(embeds.prompt_embeds, 0)[:, 0], chunk(embeds.prompt_embeds, 2)[:, 0], atol=1e-6)
    image = generate(sd, **embeds.as_kwargs())
    assert image.shape == (1, 64, 64, 3) and np.isfinite(image).all()
    assert not np.array_equal(image, generate(sd, prompt=LONG_PROMPT))  # diffusers drops the tail


def test_shorter_side_is_padded_with_empty_chunks(sd: Any) -> None:
    empty = encode_prompts(sd, "", "").prompt_embeds
    short = encode_prompts(sd, "a cat", "").prompt_embeds
    long_positive = encode_prompts(sd, LONG_PROMPT, "a cat")
    assert long_positive.negative_prompt_embeds.shape == (1, 231, 32)
    assert torch.allclose(chunk(long_positive.negative_prompt_embeds, 0), short, atol=1e-6)
    assert torch.allclose(chunk(long_positive.negative_prompt_embeds, 1), empty, atol=1e-6)
    assert torch.allclose(chunk(long_positive.negative_prompt_embeds, 2), empty, atol=1e-6)
    long_negative = encode_prompts(sd, "a cat", LONG_PROMPT)
    assert long_negative.prompt_embeds.shape == (1, 231, 32)
    assert torch.allclose(chunk(long_negative.prompt_embeds, 0), short, atol=1e-6)
    assert torch.allclose(chunk(long_negative.prompt_embeds, 2), empty, atol=1e-6)


def test_break_starts_a_new_chunk(sd: Any) -> None:
    embeds = encode_prompts(sd, "a cat BREAK a dog", "").prompt_embeds
    assert embeds.shape == (1, 154, 32)
    assert torch.allclose(chunk(embeds, 0), encode_prompts(sd, "a cat", "").prompt_embeds, atol=1e-6)
    assert torch.allclose(chunk(embeds, 1), encode_prompts(sd, "a dog", "").prompt_embeds, atol=1e-6)


def test_long_prompt_is_cut_after_a_late_comma(sd: Any) -> None:
    prompt = "x" * 65 + ", " + "y" * 20  # the comma is token 66 of 75: "yyy..." moves whole to chunk 2
    chunks = tokenize_prompt(sd, sd.tokenizer, prompt)
    assert [len(c.tokens) for c in chunks] == [66, 20]
    assert chunks[0].tokens[-1] == COMMA


def test_clip_skip_two_is_the_normed_penultimate_layer(sd: Any) -> None:
    skip1 = encode_prompts(sd, "a cat", "ugly", clip_skip=1)
    skip2 = encode_prompts(sd, "a cat", "ugly", clip_skip=2)
    assert not torch.allclose(skip1.prompt_embeds, skip2.prompt_embeds)
    ids = sd.tokenizer("a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = sd.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
        by_hand = sd.text_encoder.final_layer_norm(hidden)  # transformers 5: no .text_model level
    assert torch.allclose(skip2.prompt_embeds, by_hand, atol=1e-5)
    # Unlike diffusers (whose SD negative ignores clip_skip), the negative skips the same layers.
    ids = sd.tokenizer("ugly", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = sd.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
        negative_by_hand = sd.text_encoder.final_layer_norm(hidden)
    assert torch.allclose(skip2.negative_prompt_embeds, negative_by_hand, atol=1e-5)


def test_clip_skip_must_be_positive(sd: Any) -> None:
    with pytest.raises(ValueError, match="clip_skip"):
        encode_prompts(sd, "a cat", "", clip_skip=0)


def test_textual_inversion_expands_to_its_vectors(sd: Any, sd_ti: Any) -> None:
    first, second = sd_ti.tokenizer.convert_tokens_to_ids(["tinyneg", "tinyneg_1"])
    [only] = tokenize_prompt(sd_ti, sd_ti.tokenizer, "a (tinyneg:1.3) cat")
    assert only.tokens[1:3] == [first, second]
    assert only.weights[1:3] == [1.3, 1.3]
    embeds = encode_prompts(sd_ti, "a tinyneg cat", "tinyneg")
    reference = sd_reference(sd_ti, "a tinyneg cat", "tinyneg")
    assert torch.allclose(embeds.prompt_embeds, reference[0], atol=1e-5)
    assert torch.allclose(embeds.negative_prompt_embeds, reference[1], atol=1e-5)
    # Same weights without the embedding: the word is spelled out byte by byte instead.
    assert not torch.allclose(embeds.prompt_embeds, encode_prompts(sd, "a tinyneg cat", "").prompt_embeds)


def test_follows_text_encoder_dtype() -> None:
    pipe = sd15_pipeline(seed=1)
    pipe.text_encoder.to(torch.float64)
    embeds = encode_prompts(pipe, "a (cat:1.3)", "", device="cpu")
    assert embeds.prompt_embeds.dtype == torch.float64 and embeds.prompt_embeds.device.type == "cpu"


# --- SDXL -----------------------------------------------------------------------------------------------
def sdxl_reference(pipe: Any, prompt: str, negative: str | None, clip_skip: int | None = None) -> PromptEmbeds:
    out = pipe.encode_prompt(
        prompt,
        device="cpu",
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt=negative,
        clip_skip=clip_skip,
    )
    return PromptEmbeds(*out)


def assert_embeds_close(actual: PromptEmbeds, expected: PromptEmbeds) -> None:
    assert actual.as_kwargs().keys() == expected.as_kwargs().keys()
    for name, tensor in expected.as_kwargs().items():
        assert actual.as_kwargs()[name].shape == tensor.shape, name
        assert torch.allclose(actual.as_kwargs()[name], tensor, atol=1e-5), name


def test_sdxl_plain_prompt_equals_diffusers(sdxl: Any) -> None:
    embeds = encode_prompts(sdxl, "a cat, red", "ugly")
    assert embeds.prompt_embeds.shape == (1, 77, 80) and embeds.pooled_prompt_embeds is not None
    assert embeds.pooled_prompt_embeds.shape == (1, 48)
    assert_embeds_close(embeds, sdxl_reference(sdxl, "a cat, red", "ugly"))


def test_sdxl_empty_negative_is_zeros(sdxl: Any) -> None:
    embeds = encode_prompts(sdxl, "a cat", "")
    assert_embeds_close(embeds, sdxl_reference(sdxl, "a cat", None))
    assert not embeds.negative_prompt_embeds.any()
    assert embeds.negative_pooled_prompt_embeds is not None and not embeds.negative_pooled_prompt_embeds.any()
    long = encode_prompts(sdxl, LONG_PROMPT, "")
    assert long.negative_prompt_embeds.shape == (1, 231, 80) and not long.negative_prompt_embeds.any()


def test_sdxl_empty_negative_without_force_zeros(sdxl: Any) -> None:
    sdxl.register_to_config(force_zeros_for_empty_prompt=False)
    try:
        embeds = encode_prompts(sdxl, "a cat", "")
        assert embeds.negative_prompt_embeds.any()
        assert_embeds_close(embeds, sdxl_reference(sdxl, "a cat", ""))
    finally:
        sdxl.register_to_config(force_zeros_for_empty_prompt=True)


def test_sdxl_image_identical_with_embeds(sdxl: Any) -> None:
    from_text = generate(sdxl, prompt="a red cat", negative_prompt="blurry")
    from_embeds = generate(sdxl, **encode_prompts(sdxl, "a red cat", "blurry").as_kwargs())
    np.testing.assert_array_equal(from_text, from_embeds)


def test_sdxl_long_weighted_prompt(sdxl: Any) -> None:
    embeds = encode_prompts(sdxl, f"(red:1.3) {LONG_PROMPT}", "[ugly]")
    assert embeds.prompt_embeds.shape == (1, 231, 80)
    assert embeds.negative_prompt_embeds.shape == (1, 231, 80)
    # The pooled vector comes from the first chunk alone, whatever follows it.
    other_tail = encode_prompts(sdxl, f"(red:1.3) {LONG_PROMPT[:100]}zzz", "[ugly]")
    assert not torch.allclose(chunk(embeds.prompt_embeds, 1), chunk(other_tail.prompt_embeds, 1))
    assert embeds.pooled_prompt_embeds is not None and other_tail.pooled_prompt_embeds is not None
    assert torch.allclose(embeds.pooled_prompt_embeds, other_tail.pooled_prompt_embeds, atol=1e-6)
    image = generate(sdxl, **embeds.as_kwargs())
    assert image.shape == (1, 64, 64, 3) and np.isfinite(image).all()


def test_sdxl_clip_skip(sdxl: Any) -> None:
    skip2 = encode_prompts(sdxl, "a cat", "ugly", clip_skip=2)
    assert not torch.allclose(skip2.prompt_embeds, encode_prompts(sdxl, "a cat", "ugly").prompt_embeds)
    reference = sdxl_reference(sdxl, "a cat", "ugly", clip_skip=1)  # hidden_states[-3] in both
    assert torch.allclose(skip2.prompt_embeds, reference.prompt_embeds, atol=1e-5)
    assert skip2.pooled_prompt_embeds is not None
    assert torch.allclose(skip2.pooled_prompt_embeds, reference.pooled_prompt_embeds, atol=1e-5)


def test_unsupported_pipeline() -> None:
    class FluxLike:
        text_encoder_2 = object()

    with pytest.raises(TypeError, match="FluxLike"):
        encode_prompts(FluxLike(), "a cat", "")


def test_embeds_kwargs_are_the_pipeline_names() -> None:
    embeds = PromptEmbeds(torch.zeros(1, 77, 4), torch.ones(1, 77, 4), torch.zeros(1, 4), torch.ones(1, 4))
    assert list(embeds.as_kwargs()) == [
        "prompt_embeds",
        "negative_prompt_embeds",
        "pooled_prompt_embeds",
        "negative_pooled_prompt_embeds",
    ]
