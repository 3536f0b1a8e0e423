"""prompts/expand called directly: the offline vocabulary expander (MiniLM relevance) and a tiny
random GPT-2 with a word-level tokenizer; lengths counted with the real CLIP tokenizer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from imgopen.engine.tokenizers import clip_tokenizer_dir
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.understanding.lm_expander import clean, fit
from imgopen.tools.understanding.prompt_expand import PromptExpandParams, PromptExpandResult, PromptExpandTool
from imgopen.tools.understanding.prompt_vocabulary import VOCABULARY
from imgopen.tools.understanding.sampling import Knobs, penalise, pick
from tests.tools.understanding import tiny_models
from tests.tools.understanding.conftest import ContextFactory

SOURCE = "a lighthouse on a rocky cliff at dusk"
TAGS = {p.tag for p in VOCABULARY}
NATURALS = {p.natural for p in VOCABULARY}
WEIGHTED = re.compile(r"^\((?P<tag>.+):(?P<weight>1\.[1-3])\)$")


@pytest.fixture(scope="module")
def tool() -> PromptExpandTool:
    return PromptExpandTool()


@pytest.fixture(scope="module")
def ctx(make_ctx: ContextFactory) -> TaskContext:
    return make_ctx(None)


@pytest.fixture(scope="module")
def clip_tokens(ctx: TaskContext) -> Any:
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir(ctx.settings.data_dir / "cache")))
    return lambda text: len(tokenizer(text)["input_ids"]) - 2  # without the start and end tokens


def expand(tool: PromptExpandTool, ctx: TaskContext, **fields: Any) -> PromptExpandResult:
    return tool.run(PromptExpandParams(**{"sourcePrompt": SOURCE, **fields}), ctx)


def added_pieces(prompt: str, source: str = SOURCE) -> list[str]:
    assert prompt.startswith(source + ", ")
    return prompt[len(source) + 2 :].split(", ")


def test_offline_expansions_keep_the_prompt_and_fit(tool: PromptExpandTool, ctx: TaskContext, clip_tokens: Any) -> None:
    result = expand(tool, ctx, sequencesNum=5, seed=11, maxTokens=60)
    assert result.method == "imgopen-vocabulary+minilm"
    assert result.seed == 11
    assert len(result.prompts) == 5 and len(set(result.prompts)) == 5
    for prompt, length in zip(result.prompts, result.tokens, strict=True):
        assert clip_tokens(prompt) == length <= 60
        pieces = added_pieces(prompt)
        assert len(pieces) >= 5
        for piece in pieces:  # mode 0: vocabulary tags, some weighted (tag:1.1..1.3)
            match = WEIGHTED.match(piece)
            assert (match.group("tag") if match else piece) in TAGS


def test_mode_1_writes_natural_phrases(tool: PromptExpandTool, ctx: TaskContext) -> None:
    result = expand(tool, ctx, mode=1, sequencesNum=3, seed=2)
    for prompt in result.prompts:
        assert all(piece in NATURALS for piece in added_pieces(prompt))
        assert "(" not in prompt


def test_seed_repeats_and_another_seed_changes(tool: PromptExpandTool, ctx: TaskContext) -> None:
    first = expand(tool, ctx, sequencesNum=3, seed=123)
    again = expand(tool, ctx, sequencesNum=3, seed=123)
    other = expand(tool, ctx, sequencesNum=3, seed=124)
    assert first.prompts == again.prompts
    assert first.prompts != other.prompts
    random_seed = expand(tool, ctx, sequencesNum=1)
    assert 0 <= random_seed.seed < 2**32
    assert expand(tool, ctx, sequencesNum=1, seed=random_seed.seed).prompts == random_seed.prompts


def test_phrases_suit_the_kind_of_picture(tool: PromptExpandTool, ctx: TaskContext) -> None:
    """Relevance decides: an anime prompt gets no camera lenses, a portrait photo no brushwork."""
    by_tag = {p.tag: p for p in VOCABULARY}

    def media(prompt: str, source: str) -> set[str]:
        tags = [(WEIGHTED.match(p).group("tag") if WEIGHTED.match(p) else p) for p in added_pieces(prompt, source)]  # type: ignore[union-attr]
        return {by_tag[tag].medium for tag in tags}

    anime = "anime girl with blue hair, watercolor"
    for prompt in expand(tool, ctx, sourcePrompt=anime, sequencesNum=4, seed=5).prompts:
        assert "photo" not in media(prompt, anime)
    photo = "portrait of an old fisherman"
    for prompt in expand(tool, ctx, sourcePrompt=photo, sequencesNum=4, seed=5).prompts:
        assert "art" not in media(prompt, photo)
    # The most relevant style for an anime prompt is drawn with top-k 1 (no penalty: the penalty
    # also counts the prompt's own words, as a language model's does).
    greedy = expand(tool, ctx, sourcePrompt="anime girl with blue hair", topK=1, repetitionPenalty=1.0)
    assert "anime key visual" in greedy.prompts[0]


def test_top_k_1_ignores_the_seed_and_the_penalty_makes_sequences_differ(
    tool: PromptExpandTool, ctx: TaskContext
) -> None:
    one = expand(tool, ctx, topK=1, seed=1, repetitionPenalty=1.0)
    two = expand(tool, ctx, topK=1, seed=2, repetitionPenalty=1.0)
    assert one.prompts == two.prompts
    # Greedy without a penalty can only repeat itself: one prompt, and a warning.
    assert len(expand(tool, ctx, topK=1, repetitionPenalty=1.0, sequencesNum=2).prompts) == 1
    # With a penalty, phrases used by the first expansion lose to others in the next.
    penalised = expand(tool, ctx, topK=1, repetitionPenalty=3.0, sequencesNum=3)
    assert len(set(penalised.prompts)) == 3
    first, second = (set(added_pieces(p)) for p in penalised.prompts[:2])
    assert len(first & second) < len(first) / 2


def test_token_limits(tool: PromptExpandTool, ctx: TaskContext, clip_tokens: Any) -> None:
    short = expand(tool, ctx, sequencesNum=4, seed=3, maxTokens=16)
    assert all(clip_tokens(p) <= 16 for p in short.prompts) and len(short.prompts) == 4
    long = expand(tool, ctx, sequencesNum=2, seed=3, minTokens=110, maxTokens=150)
    assert all(110 <= clip_tokens(p) <= 150 for p in long.prompts)
    # Counted with the CLIP tokenizer, so in run() (not at submit, where no tokenizer is loaded).
    with pytest.raises(ImgOpenError) as error:
        expand(tool, ctx, maxTokens=9)
    assert error.value.code == "400" and "maxTokens" in error.value.msg


def test_bad_fields_are_refused() -> None:
    for fields in (
        {"sequencesNum": 0},
        {"sequencesNum": 9},
        {"sourcePrompt": ""},
        {"sourcePrompt": "   "},
        {"minTokens": 80, "maxTokens": 70},
        {"mode": 2},
        {"temperature": 0},
    ):
        with pytest.raises(ValueError, match=next(iter(fields)) if "minTokens" not in fields else "minTokens"):
            PromptExpandParams(**{"sourcePrompt": SOURCE, **fields})


def test_sampling_knobs() -> None:
    rng = np.random.default_rng(0)
    logits = np.array([1.0, 3.0, 2.0, -np.inf])
    assert {pick(logits, Knobs(1, 1.0, 1.0, 1.0), rng) for _ in range(50)} == {1}
    assert {pick(logits, Knobs(10, 0.01, 1.0, 1.0), rng) for _ in range(50)} == {1}  # nucleus of one
    assert {pick(logits, Knobs(2, 1.0, 1.0, 1.0), rng) for _ in range(200)} == {1, 2}
    assert 3 not in {pick(logits, Knobs(10, 1.0, 50.0, 1.0), rng) for _ in range(300)}  # -inf never drawn
    cold = [pick(logits, Knobs(10, 1.0, 0.05, 1.0), rng) for _ in range(100)]
    assert cold.count(1) == 100
    # CTRL's penalty: positive logits divided, negative ones multiplied, per repetition.
    assert penalise(np.array([4.0, -2.0, 4.0]), np.array([1.0, 1.0, 2.0]), 2.0).tolist() == [2.0, -4.0, 1.0]


# --- with a causal language model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def lm_ctx(make_ctx: ContextFactory, tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    models = tmp_path_factory.mktemp("lm-models")
    tiny_models.gpt2_language_model(models / "prompt_expansion" / "tiny-gpt2")
    return make_ctx(models)


LM_SOURCE = "a cat on a sofa"
LM_VOCABULARY = set(tiny_models.LM_WORDS.split())


def test_language_model_expansions(tool: PromptExpandTool, lm_ctx: TaskContext, clip_tokens: Any) -> None:
    result = tool.run(
        PromptExpandParams(sourcePrompt=LM_SOURCE, sequencesNum=3, seed=7, maxTokens=30, minTokens=12), lm_ctx
    )
    assert result.method == "gpt2-sampling"
    assert len(set(result.prompts)) == 3
    for prompt in result.prompts:
        assert clip_tokens(prompt) <= 30
        words = set(re.findall(r"[a-z]+", prompt[len(LM_SOURCE) :]))
        assert words and words <= LM_VOCABULARY  # written by the model, not invented
    again = tool.run(
        PromptExpandParams(sourcePrompt=LM_SOURCE, sequencesNum=3, seed=7, maxTokens=30, minTokens=12), lm_ctx
    )
    other = tool.run(
        PromptExpandParams(sourcePrompt=LM_SOURCE, sequencesNum=3, seed=8, maxTokens=30, minTokens=12), lm_ctx
    )
    assert again.prompts == result.prompts and other.prompts != result.prompts


def test_language_model_top_k_1_is_greedy_generate(
    tool: PromptExpandTool, lm_ctx: TaskContext, clip_tokens: Any
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = str(lm_ctx.settings.models_dir / "prompt_expansion" / "tiny-gpt2")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for mode in (0, 1):
        result = tool.run(
            PromptExpandParams(
                sourcePrompt=LM_SOURCE, mode=mode, topK=1, repetitionPenalty=1.3, maxTokens=24, minTokens=14, seed=3
            ),
            lm_ctx,
        )
        inputs = tokenizer(f"{LM_SOURCE},", return_tensors="pt")
        room = 24 - clip_tokens(LM_SOURCE)
        with torch.no_grad():
            output = model.generate(
                **inputs,
                do_sample=False,
                repetition_penalty=1.3,
                max_new_tokens=room,
                min_new_tokens=14 - clip_tokens(LM_SOURCE),
                pad_token_id=tokenizer.eos_token_id,
            )
        text = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        expected = fit(LM_SOURCE, clean(text, mode, LM_SOURCE), mode, 24, clip_tokens)
        assert result.prompts == [expected]


def test_broken_language_model_folder_is_503(tool: PromptExpandTool, make_ctx: ContextFactory, tmp_path: Path) -> None:
    (tmp_path / "prompt_expansion" / "gpt").mkdir(parents=True)
    (tmp_path / "prompt_expansion" / "gpt" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ImgOpenError) as error:
        tool.run(PromptExpandParams(sourcePrompt=LM_SOURCE), make_ctx(tmp_path))
    assert error.value.code == "503" and str(tmp_path / "prompt_expansion" / "gpt") in error.value.msg
