"""The optional models the understanding tools upgrade to, and where each one is looked for.

None of them ships in a registry package (see shared/notes/offline-models.md): without them the
tools run their offline methods. Transformers models are whole folders (config.json, weights,
processor or tokenizer files) placed in the folder named below, or one level under it.
"""

from __future__ import annotations

from pathlib import Path

from imgopen.errors import ImgOpenError
from imgopen.tools.weights import WeightsSpec

CAPTIONING = WeightsSpec(
    label="image captioning model (BLIP, BLIP-2, GIT or Florence-2 transformers folder)",
    folders=("captioning",),
    files=("config.json", "*/config.json"),
    licence="BLIP: BSD-3-Clause; GIT: MIT; Florence-2: MIT; BLIP-2: MIT (check the folder's model card)",
    notes="e.g. Salesforce/blip-image-captioning-base saved with save_pretrained",
)
CLIP = WeightsSpec(
    label="CLIP model (transformers CLIPModel folder with its processor)",
    folders=("clip",),
    files=("config.json", "*/config.json"),
    licence="OpenAI CLIP: MIT; OpenCLIP/LAION models: MIT (check the folder's model card)",
    notes="e.g. openai/clip-vit-base-patch32 or clip-vit-large-patch14 saved with save_pretrained",
)
TAGGER = WeightsSpec(
    label="WD14-style ONNX image tagger (model .onnx with selected_tags.csv)",
    folders=("taggers",),
    files=("*.onnx", "*/*.onnx"),
    licence="SmilingWolf WD 1.4 / WD v3 taggers: Apache-2.0",
    notes="input NHWC float32 BGR 0..255 (448x448), output 1xN sigmoid probabilities, one per CSV row",
)
PROMPT_LM = WeightsSpec(
    label="causal language model for prompt expansion (GPT-2 style transformers folder with its tokenizer)",
    folders=("prompt_expansion",),
    files=("config.json", "*/config.json"),
    licence="depends on the model: GPT-2 and distilgpt2 are MIT; Fooocus's expansion model is non-commercial",
)


def find_model_folder(spec: WeightsSpec, models_dir: Path) -> Path | None:
    """The first installed transformers folder of `spec` (the folder holding config.json)."""
    config = spec.find(models_dir)
    return config.parent if config is not None else None


def tag_list_for(model: Path) -> Path:
    """The tag list of a tagger: `<stem>.csv` beside it, else `selected_tags.csv` in its folder."""
    for candidate in (model.with_suffix(".csv"), model.parent / "selected_tags.csv"):
        if candidate.is_file():
            return candidate
    raise ImgOpenError(
        "503",
        f"the tagger {model.name} has no tag list: put selected_tags.csv (or {model.stem}.csv) into {model.parent}",
    )


def load_failed(spec: WeightsSpec, folder: Path, exc: Exception) -> ImgOpenError:
    """A folder that is there but does not load: "503" naming it, so the operator can fix it."""
    return ImgOpenError("503", f"the {spec.label} in {folder} could not be loaded: {exc}")
