"""The real CLIP tokenizer built offline, and complete copies of the shipped config-only diffusers folders.

Single-file checkpoints hold weights only: diffusers' ``from_single_file(path, config=folder)`` needs a folder with
each component's config and the tokenizers. The configs ship in ``configs/<name>`` (small JSON); the 3.5 MB CLIP
tokenizer is built from the BPE merges that ``open-clip-torch`` ships, so nothing comes from a hub.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

CONFIGS_DIR: Final[Path] = Path(__file__).resolve().parent / "configs"

START_OF_TEXT: Final = "<|startoftext|>"
END_OF_TEXT: Final = "<|endoftext|>"
# OpenCLIP (SD 2.x, SDXL's second encoder) pads with "!", id 0, where OpenAI's CLIP pads with end-of-text.
EXCLAMATION: Final = "!"
CLIP_MAX_LENGTH: Final = 77

_BPE_PACKAGE: Final = "open_clip"
_BPE_FILE: Final = "bpe_simple_vocab_16e6.txt.gz"
# CLIP keeps the first 49152 - 256 - 2 merges: 2 x 256 byte symbols + merges + 2 specials = 49408 ids.
_MERGE_COUNT: Final = 49152 - 256 - 2
_STAMP_FILE: Final = ".imgopen-source"

SHIPPED_CONFIGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "sd15": "Stable Diffusion 1.5 (CLIP ViT-L/14, 512 px, epsilon)",
        "sd15_inpainting": "Stable Diffusion 1.5 inpainting (9-channel UNet)",
        "sd2": "Stable Diffusion 2.x 768-v (OpenCLIP ViT-H, 768 px, v-prediction)",
        "sd2_base": "Stable Diffusion 2.x base (OpenCLIP ViT-H, 512 px, epsilon)",
        "sdxl_base": "Stable Diffusion XL 1.0 base (CLIP ViT-L + OpenCLIP bigG, 1024 px)",
        "sdxl_inpainting": "Stable Diffusion XL 1.0 inpainting (9-channel UNet)",
        "flux_dev": "FLUX.1 dev transformer (guidance-distilled)",
        "flux_schnell": "FLUX.1 schnell transformer (timestep-distilled)",
    }
)

# (base model label, is_inpainting) -> shipped config. "SD 2.x" means the 768-v models that most 2.x checkpoints
# are; a 512 px epsilon 2.x checkpoint needs "sd2_base", which the label alone cannot tell.
CONFIG_FOR_BASE_MODEL: Final[Mapping[tuple[str, bool], str]] = MappingProxyType(
    {
        ("SD 1.5", False): "sd15",
        ("SD 1.5", True): "sd15_inpainting",
        ("SD 2.x", False): "sd2",
        ("SDXL 1.0", False): "sdxl_base",
        ("SDXL 1.0", True): "sdxl_inpainting",
        ("Flux.1 D", False): "flux_dev",
        ("Flux.1 S", False): "flux_schnell",
    }
)

# Which tokenizer subfolders materialize_config fills, and each one's pad token (as in the published repos).
# Flux's tokenizer_2 is T5 (sentencepiece), which cannot be built here: it is left to the caller.
_TOKENIZER_PADS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "sd15": MappingProxyType({"tokenizer": END_OF_TEXT}),
        "sd15_inpainting": MappingProxyType({"tokenizer": END_OF_TEXT}),
        "sd2": MappingProxyType({"tokenizer": EXCLAMATION}),
        "sd2_base": MappingProxyType({"tokenizer": EXCLAMATION}),
        "sdxl_base": MappingProxyType({"tokenizer": END_OF_TEXT, "tokenizer_2": EXCLAMATION}),
        "sdxl_inpainting": MappingProxyType({"tokenizer": END_OF_TEXT, "tokenizer_2": EXCLAMATION}),
        "flux_dev": MappingProxyType({"tokenizer": END_OF_TEXT}),
        "flux_schnell": MappingProxyType({"tokenizer": END_OF_TEXT}),
    }
)


def clip_bpe_path() -> Path:
    """The CLIP BPE merges file inside the installed ``open-clip-torch`` (located without importing it: its import
    pulls in torchvision and timm, which are not dependencies here)."""
    spec = importlib.util.find_spec(_BPE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / _BPE_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"{_BPE_FILE} not found: install open-clip-torch (it ships the CLIP BPE vocabulary)")


def _byte_symbols() -> list[str]:
    """CLIP's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes are mapped to
    code points from 256 on, in byte order (so ids 0..255 follow this list)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    kept = set(printable)
    extra = [b for b in range(256) if b not in kept]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(extra))]


def build_clip_tokenizer(pad_token: str = END_OF_TEXT) -> CLIPTokenizer:
    """The CLIP ViT-L/14 BPE tokenizer (same ids as openai/clip-vit-large-patch14), padding with ``pad_token``."""
    from transformers import CLIPTokenizer

    with gzip.open(clip_bpe_path(), "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    # Line 0 is the "#version" header.
    merges = [tuple(line.split()) for line in lines[1 : _MERGE_COUNT + 1]]
    # The BPE model needs (left, right) pairs: it rejects "left right" strings, whatever transformers' hint says.
    pairs: Any = merges
    symbols = _byte_symbols()
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(m) for m in merges), START_OF_TEXT, END_OF_TEXT]
    vocab = {token: index for index, token in enumerate(tokens)}
    if pad_token not in vocab:
        raise ValueError(f"pad token {pad_token!r} is not in the CLIP vocabulary")
    return CLIPTokenizer(
        vocab=vocab,
        merges=pairs,
        bos_token=START_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=pad_token,
        model_max_length=CLIP_MAX_LENGTH,
    )


def _pad_name(pad_token: str) -> str:
    """A file-name-safe, collision-free name for a pad token: special tokens by their inner word, others by code
    points ("!" -> "u21")."""
    if pad_token in (START_OF_TEXT, END_OF_TEXT):
        return pad_token.strip("<|>")
    return "u" + "-".join(f"{ord(c):x}" for c in pad_token)


def _publish(staging: Path, target: Path) -> None:
    """Move a finished folder into place; if another process got there first, keep theirs (same content)."""
    try:
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise


def clip_tokenizer_dir(cache_dir: Path, pad_token: str = END_OF_TEXT) -> Path:
    """A saved CLIP tokenizer folder under ``cache_dir`` (``clip-<pad name>``), built on first use and reused.

    Built in a temporary folder and renamed into place, so a folder that exists is complete.
    """
    target = cache_dir / f"clip-{_pad_name(pad_token)}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=f".{target.name}-") as tmp:
        staging = Path(tmp) / "tokenizer"
        build_clip_tokenizer(pad_token).save_pretrained(str(staging))
        _publish(staging, target)
    return target


def _source_digest(source: Path, pads: Mapping[str, str]) -> str:
    """Fingerprint of a shipped folder and its tokenizer plan, so an upgraded package refreshes its cached copy."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for subfolder, pad in sorted(pads.items()):
        digest.update(f"{subfolder}={pad}\0".encode())
    return digest.hexdigest()


def materialize_config(name: str, cache_dir: Path) -> Path:
    """A complete diffusers config folder (configs plus tokenizers, no weights) for the shipped config ``name``,
    at ``cache_dir/configs/<name>``: built once, reused while the shipped files are unchanged."""
    if name not in SHIPPED_CONFIGS:
        raise KeyError(f"no shipped config {name!r}; known: {', '.join(SHIPPED_CONFIGS)}")
    source = CONFIGS_DIR / name
    pads = _TOKENIZER_PADS[name]
    stamp = _source_digest(source, pads)
    parent = cache_dir / "configs"
    target = parent / name
    if _stamp_of(target) == stamp:
        return target

    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=f".{name}-") as tmp:
        staging = Path(tmp) / name
        shutil.copytree(source, staging)
        for subfolder, pad in pads.items():
            tokenizer_folder = staging / subfolder
            # Shipped folders carry no tokenizer files; drop any placeholder so the built one is the only content.
            if tokenizer_folder.exists():
                shutil.rmtree(tokenizer_folder)
            shutil.copytree(clip_tokenizer_dir(cache_dir, pad), tokenizer_folder)
        (staging / _STAMP_FILE).write_text(stamp + "\n", encoding="utf-8")
        if target.is_dir() and _stamp_of(target) != stamp:
            # A stale copy from an older package: moved into the temporary folder, which removes it on exit.
            # FileNotFoundError: another process moved it first.
            with contextlib.suppress(FileNotFoundError):
                os.replace(target, Path(tmp) / "stale")
        _publish(staging, target)
    return target


def _stamp_of(folder: Path) -> str | None:
    try:
        return (folder / _STAMP_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
