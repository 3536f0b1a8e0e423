"""erase: the hole rebuilt closer to the truth than a flat fill, the rest untouched; LaMa's pre- and
post-processing with small models of its interface; SD with the tiny checkpoints; bad masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from imgopen.errors import ImgOpenError
from imgopen.services import Services
from imgopen.testing.direct import direct_checks
from imgopen.testing.images import astronaut, data_uri, encode
from imgopen.tools.pixels import masks, sd_paint
from imgopen.tools.pixels.erase import EraseParams, EraseTool
from tests.tools.pixels import onnx_models
from tests.tools.pixels.conftest import context, pixels

BOX = (330, 40, 380, 90)  # 50 x 50 px of the astronaut's background (the rocket and the wall)


def uri(image: Image.Image) -> str:
    return data_uri(encode(image))


def defaced() -> tuple[np.ndarray, Image.Image, Image.Image]:
    """The truth, the photo with a foreign object (a red square) on it, and the object's mask."""
    truth = np.asarray(astronaut())
    spoiled = truth.copy()
    left, top, right, bottom = BOX
    spoiled[top:bottom, left:right] = (255, 0, 0)
    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, BOX)
    return truth, Image.fromarray(spoiled), mask


def test_classical_erase_beats_the_mean_colour_and_touches_nothing_else(tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    truth, spoiled, mask = defaced()
    result = EraseTool().run(EraseParams(sourceImage=uri(spoiled), maskImage=uri(mask)), ctx)
    assert result.method == "opencv-xphoto-fsr" and (result.width, result.height) == (512, 512)
    out = pixels(ctx, result.outputImageUrl)
    hole = masks.dilate(np.asarray(mask) > 127, masks.default_dilation((512, 512)))
    inside = np.asarray(mask) > 127
    error = np.abs(out[inside] - truth[inside]).mean()
    mean_fill = np.abs(truth[~hole].mean(axis=0) - truth[inside]).mean()
    assert error < mean_fill * 0.5, (error, mean_fill)
    assert (out[inside][:, 0] - out[inside][:, 1]).mean() < 60  # no red square left
    assert np.array_equal(out[~hole], np.asarray(spoiled).astype(int)[~hole])


def test_a_mask_of_the_same_shape_is_scaled_and_of_another_is_400(tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    _truth, spoiled, mask = defaced()
    half = mask.resize((256, 256), Image.Resampling.NEAREST)
    result = EraseTool().run(EraseParams(sourceImage=uri(spoiled), maskImage=uri(half)), ctx)
    out = pixels(ctx, result.outputImageUrl)
    left, top, right, bottom = BOX
    centre = out[top + 5 : bottom - 5, left + 5 : right - 5]
    assert (centre[..., 0] - centre[..., 1]).mean() < 60  # the red square is gone
    tool = EraseTool()
    params = EraseParams(sourceImage="x", maskImage="y")
    with pytest.raises(ImgOpenError) as refused:
        tool.precheck(params, {"sourceImage": (512, 512), "maskImage": (512, 300)}, direct_checks(ctx.settings))
    assert refused.value.code == "400" and "maskImage" in refused.value.msg and "512x300" in refused.value.msg


def test_empty_or_full_masks_and_transparent_stroke_layers(tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    _truth, spoiled, _mask = defaced()
    for fill, words in ((0, "empty"), (255, "whole image")):
        with pytest.raises(ImgOpenError) as refused:
            params = EraseParams(sourceImage=uri(spoiled), maskImage=uri(Image.new("L", (512, 512), fill)))
            EraseTool().run(params, ctx)
        assert refused.value.code == "400" and words in refused.value.msg
    # Strokes on a transparent layer: opaque white strokes count, the transparent white canvas does not.
    layer = np.zeros((512, 512, 4), np.uint8)
    layer[..., :3] = 255
    left, top, right, bottom = BOX
    layer[top:bottom, left:right, 3] = 255
    binary = masks.to_binary(Image.fromarray(layer, "RGBA"), (512, 512))
    assert binary.sum() == 50 * 50 and binary[top:bottom, left:right].all()


@pytest.mark.parametrize(
    ("name", "fixed", "out_255"),
    [("lama.onnx", 512, True), ("lama_fp32.onnx", None, False)],
)
def test_lama_onnx_exports_are_fed_and_read_right(tmp_path: Path, name: str, fixed: int | None, out_255: bool) -> None:
    colour = (0.2, 0.6, 0.4)
    onnx_models.lama(tmp_path / "models" / "inpaint" / name, colour, fixed=fixed, out_255=out_255)
    ctx = context(tmp_path, tmp_path / "models")
    _truth, spoiled, mask = defaced()
    params = EraseParams(sourceImage=uri(spoiled), maskImage=uri(mask), model="lama", maskDilation=0)
    result = EraseTool().run(params, ctx)
    assert result.method == f"lama:{name}"
    out = pixels(ctx, result.outputImageUrl)
    inside = np.asarray(mask) > 127
    # The model's hole colour plus half the image it was given there: the hole came in blanked.
    assert np.abs(out[inside] - np.array(colour) * 255).max() <= 3
    assert np.array_equal(out[~inside], np.asarray(spoiled).astype(int)[~inside])


class _TinyLama(torch.nn.Module):
    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        colour = torch.tensor([0.9, 0.1, 0.5]).view(1, 3, 1, 1)
        return image * (1 - mask) + (colour + image * 0.5) * mask


def test_lama_torchscript_big_lama_pt(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "inpaint"
    folder.mkdir(parents=True)
    torch.jit.script(_TinyLama()).save(str(folder / "big-lama.pt"))
    ctx = context(tmp_path, tmp_path / "models")
    _truth, spoiled, mask = defaced()
    result = EraseTool().run(EraseParams(sourceImage=uri(spoiled), maskImage=uri(mask), maskDilation=0), ctx)
    assert result.method == "lama:big-lama.pt"  # "auto" takes LaMa when installed
    out = pixels(ctx, result.outputImageUrl)
    inside = np.asarray(mask) > 127
    assert np.abs(out[inside] - np.array([0.9, 0.1, 0.5]) * 255).max() <= 3
    assert np.array_equal(out[~inside], np.asarray(spoiled).astype(int)[~inside])


def test_lama_asked_for_but_missing_is_503_naming_file_and_folder(tmp_path: Path) -> None:
    ctx = context(tmp_path, tmp_path / "models")
    params = EraseParams(sourceImage="x", maskImage="y", model="lama")
    with pytest.raises(ImgOpenError) as missing:
        EraseTool().precheck(params, {"sourceImage": (8, 8), "maskImage": (8, 8)}, direct_checks(ctx.settings))
    assert missing.value.code == "503"
    assert "lama.onnx" in missing.value.msg and str(tmp_path / "models" / "inpaint") in missing.value.msg


def test_sd_erase_with_the_tiny_checkpoint(
    engine_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny model's VAE scales by 2, not 8: it paints at 64 px here, not 256 (CPU time).
    monkeypatch.setattr(sd_paint, "work_side", lambda _engine, _region: 64)
    ctx = context(tmp_path, tmp_path / "models")
    photo = Image.fromarray(data.coffee()).resize((120, 80))
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (40, 20, 70, 50))
    tool = EraseTool(engine_services.engine)
    params = EraseParams(sourceImage=uri(photo), maskImage=uri(mask), model="sd", seed=5, maskDilation=2)
    result = tool.run(params, ctx)
    assert result.method.startswith("sd-inpaint:") and (result.width, result.height) == (120, 80)
    out = pixels(ctx, result.outputImageUrl)
    before = np.asarray(photo).astype(int)
    near = masks.dilate(np.asarray(mask) > 127, 2 + 3 * 4)  # the dilation, and 3 sigma of the mask blur (4)
    changed = np.argwhere(np.any(out != before, axis=2) & ~near)
    assert changed.size == 0, (changed[:5], masks.bounding_box(np.any(out != before, axis=2)))
    inside = np.asarray(mask) > 127
    assert np.abs(out[inside] - before[inside]).mean() > 5
    with pytest.raises(ImgOpenError) as no_engine:
        EraseTool().precheck(params, {"sourceImage": (120, 80), "maskImage": (120, 80)}, direct_checks(ctx.settings))
    assert no_engine.value.code == "503" and "checkpoint" in no_engine.value.msg
