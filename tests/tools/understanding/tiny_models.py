"""Tiny random-weight models with the published models' architectures, inputs and outputs, written
where the understanding tools look for them: a BLIP captioner, a CLIP model, a GPT-2 language
model with a word-level tokenizer, and a WD14-style ONNX tagger with designed weights."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

CAPTION_WORDS = "a an the photo picture of cat dog person man woman sitting standing on sofa red blue green with in"
LM_WORDS = (
    "a cat on sofa golden hour cinematic lighting highly detailed soft glow sharp focus misty forest painting "
    "photo warm light dramatic shadows vivid colors portrait bokeh"
)
LM_SPECIALS = ("<|endoftext|>", "<unk>")


# The vision encoder every tiny captioner and CLIP here shares: 32 px images in 8 px patches.
TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}


def blip_captioner(folder: Path, seed: int = 0) -> Path:
    """BlipForConditionalGeneration (32 px images, 8 px patches) with a BERT word-piece tokenizer
    and BLIP's processor, as Salesforce/blip-image-captioning-* folders are laid out."""
    import torch
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *CAPTION_WORDS.split()]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}, bos_token="[DEC]")
    config = BlipConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "bos_token_id": vocab.index("[DEC]"),
            "pad_token_id": 0,
            "sep_token_id": vocab.index("[SEP]"),
            "eos_token_id": vocab.index("[SEP]"),
        },
        vision_config=dict(TINY_VISION),
        projection_dim=32,
    )
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    with torch.no_grad():  # end-of-caption likely, so captions end after a few words as real ones do
        model.text_decoder.cls.predictions.bias[vocab.index("[SEP]")] = 3.0
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    model.save_pretrained(str(folder))
    processor.save_pretrained(str(folder))
    return folder


def git_captioner(folder: Path, seed: int = 0) -> Path:
    """GitForCausalLM (a decoder-only captioner: image tokens, then text) with CLIP's image
    processor and a BERT tokenizer, as microsoft/git-* folders are laid out."""
    import torch
    from transformers import BertTokenizerFast, CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CAPTION_WORDS.split()]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)})
    config = GitConfig(
        vision_config=dict(TINY_VISION),
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        bos_token_id=vocab.index("[CLS]"),
        eos_token_id=vocab.index("[SEP]"),
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    model = GitForCausalLM(config).eval()
    with torch.no_grad():  # end-of-caption likely, so captions end after a few words
        model.output.bias[vocab.index("[SEP]")] = 3.0
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    GitProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(str(folder))
    model.save_pretrained(str(folder))
    return folder


def clip_model(folder: Path, seed: int = 0) -> Path:
    """CLIPModel (32 px, 8 px patches, 16-d projection) with imgopen's real CLIP tokenizer and
    CLIP's image processor (resize, centre crop, CLIP mean/std)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from imgopen.engine.tokenizers import build_clip_tokenizer

    config = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
        },
        vision_config=dict(TINY_VISION),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=build_clip_tokenizer())
    model.save_pretrained(str(folder))
    processor.save_pretrained(str(folder))
    return folder


def gpt2_language_model(folder: Path, seed: int = 0) -> Path:
    """GPT2LMHeadModel with a word-level tokenizer over LM_WORDS and ",", so every word it can
    write is known to the test."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate([*LM_SPECIALS, ",", *LM_WORDS.split()])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", unk_token="<unk>")
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


# Tag rows of the test tagger: (name, category, channel it reads (BGR index) or None, threshold on
# that channel's mean in 0..255, constant logit for ratings).
TAGGER_ROWS: tuple[tuple[str, int, int | None, float], ...] = (
    ("general", 9, None, 2.0),
    ("sensitive", 9, None, 0.0),
    ("blue_sky", 0, 0, 200.0),  # B > 200
    ("green_(theme)", 0, 1, 64.0),  # G > 64
    ("red_theme", 0, 2, 200.0),  # R > 200
    ("hatsune_miku", 4, 2, 210.0),  # R > 210, a character (kept only above 0.85)
)
TAGGER_SIDE = 448
STEEPNESS = 0.2  # logit per level of channel mean


def wd14_tagger(path: Path) -> Path:
    """A WD14-shaped ONNX tagger (input NHWC float32 1x448x448x3, output 1xN sigmoid) whose tags
    read the mean of one BGR channel in 0..255, so a test knows which tags an image must get;
    selected_tags.csv beside it."""
    import onnx
    from onnx import TensorProto, helper

    count = len(TAGGER_ROWS)
    weights = np.zeros((3, count), np.float32)
    bias = np.zeros(count, np.float32)
    for column, (_name, _category, channel, value) in enumerate(TAGGER_ROWS):
        if channel is None:
            bias[column] = value
        else:
            weights[channel, column] = STEEPNESS
            bias[column] = -STEEPNESS * value
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input_1:0"], ["channel_means"], axes=[1, 2], keepdims=0),
            helper.make_node("MatMul", ["channel_means", "weights"], ["projected"]),
            helper.make_node("Add", ["projected", "bias"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["predictions_sigmoid"]),
        ],
        "tiny_wd14",
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, ["batch", TAGGER_SIDE, TAGGER_SIDE, 3])],
        [helper.make_tensor_value_info("predictions_sigmoid", TensorProto.FLOAT, ["batch", count])],
        [
            helper.make_tensor("weights", TensorProto.FLOAT, weights.shape, weights.ravel().tolist()),
            helper.make_tensor("bias", TensorProto.FLOAT, bias.shape, bias.tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    with (path.parent / "selected_tags.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for index, (name, category, _channel, _value) in enumerate(TAGGER_ROWS):
            writer.writerow([index, name, category, 100])
    return path
