"""What a tool's submit-time checks may consult: the settings and the installed models' metadata
(the catalog, upscaler names). Nothing here loads a model, so the API role can run every check."""

from __future__ import annotations

from dataclasses import dataclass, field

from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.engine.resolve import GENERATION_FAMILIES
from imgopen.errors import ImgOpenError
from imgopen.vision.upscale.names import UpscalerNames


@dataclass
class SubmitChecks:
    settings: Settings
    catalog: ModelCatalog
    # Whether tasks run on a CUDA device; None where this process does not know (the API role of a
    # cluster): device-bound checks are then left to the worker.
    on_cuda: bool | None = None
    upscalers: UpscalerNames = field(init=False)

    def __post_init__(self) -> None:
        self.upscalers = UpscalerNames(self.settings.models_dir)

    def has_sd_checkpoint(self) -> bool:
        """Whether an SD checkpoint is installed (tools fall back to classical methods if not)."""
        return any(e.base_model in GENERATION_FAMILIES for e in self.catalog.entries("checkpoint"))


def check_output_pixels(field_name: str, width: int, height: int, settings: Settings) -> None:
    """ "400" naming `field_name` when an output of width x height is over the pixel limit."""
    if width * height > settings.max_output_pixels:
        raise ImgOpenError(
            "400",
            f"{field_name}: the output would be {width}x{height} = {width * height / 1e6:.0f} megapixels, over the "
            f"limit of {settings.max_output_pixels / 1e6:g}",
        )
