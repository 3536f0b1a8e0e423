"""The upscaler service: quality against bicubic on a real photograph, tiling without seams, the
planning of steps, transparency, and user-installed .pth / .safetensors / ONNX upscalers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from imgopen.catalog.detect import detect_upscaler
from imgopen.catalog.tensor_index import read_tensor_index
from imgopen.errors import ImgOpenError
from imgopen.testing.images import astronaut
from imgopen.vision.upscale import bundled_models
from imgopen.vision.upscale.architectures import RRDBNet, SRVGGNetCompact
from imgopen.vision.upscale.service import Upscalers
from imgopen.vision.upscale.tiles import to_uint8, upscale_tiled
from tests.tools.pixels import onnx_models


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def upscalers(models_dir: Path) -> Upscalers:
    return Upscalers(models_dir)


def test_auto_x4_of_a_photograph_beats_bicubic(upscalers: Upscalers) -> None:
    original = data.brick()[:512, :512]  # a photograph of a brick wall, grey
    truth = np.stack([original] * 3, axis=2)
    small = Image.fromarray(truth).resize((128, 128), Image.Resampling.BICUBIC)
    enlarged, method = upscalers.upscale(small, 4)
    assert method == "realesr-animevideov3-x4" and enlarged.size == (512, 512)
    ours = np.asarray(enlarged)
    bicubic = np.asarray(small.resize((512, 512), Image.Resampling.BICUBIC))
    assert peak_signal_noise_ratio(truth, ours) > peak_signal_noise_ratio(truth, bicubic) + 1.0
    assert structural_similarity(truth, ours, channel_axis=2) > structural_similarity(truth, bicubic, channel_axis=2)


def test_a_tiled_run_equals_the_whole_image_run(upscalers: Upscalers) -> None:
    network = upscalers._choose("realesr-animevideov3-x4")[4].load()
    rgb = np.asarray(astronaut())[100:180, 150:230]
    whole = upscale_tiled(rgb, 4, network.run, tile=10_000, pad=0)
    tiled = upscale_tiled(rgb, 4, network.run, tile=40, pad=network.pad)
    difference = np.abs(whole.astype(int) - tiled.astype(int))
    assert difference.max() <= 2 and difference.mean() < 0.01
    # Without the context pad, every tile edge shows: the comparison can see seams.
    seams = np.abs(whole.astype(int) - upscale_tiled(rgb, 4, network.run, tile=40, pad=0).astype(int))
    assert seams.max() > 20


def test_the_service_tiles_a_large_image_without_seams(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiles of 40 px instead of 384, so that a small picture is a "large" one: 6 tiles.
    small_tiles = tuple(replace(model, tile=40) for model in bundled_models.BUNDLED)
    monkeypatch.setattr(bundled_models, "BUNDLED", small_tiles)
    upscalers = Upscalers(models_dir)
    picture = astronaut().crop((200, 100, 300, 180))
    enlarged, _ = upscalers.upscale(picture, 2, "realesr-animevideov3-x2")
    network = upscalers._choose("realesr-animevideov3-x2")[2].load()
    assert network.tile == 40
    whole = upscale_tiled(np.asarray(picture), 2, network.run, tile=10_000, pad=0)
    difference = np.abs(np.asarray(enlarged).astype(int) - whole.astype(int))
    assert enlarged.size == (200, 160) and difference.max() <= 2 and difference.mean() < 0.01


def test_steps_are_network_steps_then_lanczos(upscalers: Upscalers) -> None:
    picture = astronaut().resize((32, 24))
    cases = [
        (2, "auto", (64, 48), "realesr-animevideov3-x2"),
        (2.5, "auto", (80, 60), "realesr-animevideov3-x2+lanczos"),
        (3, "auto", (96, 72), "realesr-animevideov3-x3"),
        (5, "auto", (160, 120), "realesr-animevideov3-x4+lanczos"),
        (1.5, "auto", (48, 36), "lanczos"),
        (1.5, "realesr-animevideov3", (48, 36), "realesr-animevideov3-x2+lanczos"),
        (2, "realesrgan-x4plus", (64, 48), "realesrgan-x4plus+lanczos"),
        (4, "lanczos", (128, 96), "lanczos"),
    ]
    for scale, model, size, method in cases:
        enlarged, used = upscalers.upscale(picture, scale, model)
        assert (enlarged.size, used) == (size, method), (scale, model)
    tiny = astronaut().resize((12, 10))
    enlarged, used = upscalers.upscale(tiny, 8)
    assert (enlarged.size, used) == ((96, 80), "realesr-animevideov3-x4+realesr-animevideov3-x2")


def test_transparency_is_upscaled_without_colour_bleed(upscalers: Upscalers) -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 1] = 255  # fully transparent green: hidden, must not leak into the edges
    rgba[10:30, 10:30] = (255, 0, 0, 255)
    enlarged, method = upscalers.upscale(Image.fromarray(rgba, "RGBA"), 4)
    pixels = np.asarray(enlarged)
    assert enlarged.mode == "RGBA" and enlarged.size == (160, 160) and method == "realesr-animevideov3-x4"
    visible = pixels[..., 3] > 16
    assert pixels[visible][:, 1].max() < 40
    assert pixels[0, 0, 3] <= 2 and pixels[80, 80, 3] >= 253 and pixels[80, 80, 0] > 200


def _direct(network: torch.nn.Module, picture: Image.Image) -> np.ndarray:
    tensor = torch.from_numpy(np.asarray(picture).transpose(2, 0, 1).astype(np.float32) / 255)[None]
    with torch.inference_mode():
        return to_uint8(network(tensor)[0].numpy())


def _old_esrgan_names(state: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """BasicSR's key names written back in the original ESRGAN layout (model.N...)."""
    names = {"conv_first": "model.0", "conv_body": f"model.1.sub.{blocks}", "conv_up1": "model.3"}
    names |= {"conv_up2": "model.6", "conv_hr": "model.8", "conv_last": "model.10"}
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            renamed[f"model.1.sub.{parts[1]}.RDB{parts[2][-1]}.conv{parts[3][-1]}.0.{parts[4]}"] = value
        else:
            renamed[f"{names[parts[0]]}.{parts[1]}"] = value
    return renamed


def test_installed_pth_and_safetensors_upscalers_load_by_their_keys(models_dir: Path, upscalers: Upscalers) -> None:
    torch.manual_seed(0)
    folder = models_dir / "upscale_models"
    folder.mkdir(exist_ok=True)
    rrdb_x4 = RRDBNet(features=8, blocks=2, growth=4).eval()
    rrdb_x2 = RRDBNet(features=8, blocks=1, growth=4, unshuffle=2).eval()
    compact = SRVGGNetCompact(
        [("conv", 3, 8), ("prelu", 8, 0), ("conv", 8, 8), ("prelu", 8, 0), ("conv", 8, 27)], upscale=3
    ).eval()
    for module in (rrdb_x4, rrdb_x2, compact):
        for parameter in module.parameters():  # random, but large enough to change the picture
            parameter.data = torch.randn_like(parameter) * 0.1
    torch.save({"params_ema": rrdb_x4.state_dict()}, folder / "4x-tiny.pth")
    torch.save({"params": rrdb_x2.state_dict()}, folder / "2x-tiny.pth")
    save_file(compact.state_dict(), str(folder / "3x-compact.safetensors"))
    (folder / "esrgan").mkdir(exist_ok=True)
    torch.save(_old_esrgan_names(rrdb_x4.state_dict(), 2), folder / "esrgan" / "4x-old.pth")
    picture = astronaut().resize((32, 24))
    cases = [
        ("4x-tiny.pth", rrdb_x4, "RRDBNet", 4),
        ("2x-tiny", rrdb_x2, "RRDBNet", 2),
        ("3x-compact.safetensors", compact, "SRVGGNetCompact", 3),
        ("esrgan/4x-old.pth", rrdb_x4, "RRDBNet", 4),
    ]
    for name, network, architecture, scale in cases:
        enlarged, method = upscalers.upscale(picture, scale, name)
        assert method == Path(name).name if "." in name else f"{name}.pth"
        expected = _direct(network, picture)
        assert np.abs(np.asarray(enlarged).astype(int) - expected.astype(int)).max() <= 1, name
        assert np.asarray(enlarged).std() > 5  # the random network changed the picture
        path = folder / (name if "." in name else f"{name}.pth")
        detected = detect_upscaler(read_tensor_index(path))  # the catalog reads the same layout
        assert detected.details["architecture"] in (architecture, "ESRGAN")
    listed = {info.name: info for info in upscalers.available()}
    assert listed["3x-compact.safetensors"].scales == (3,)
    assert listed["3x-compact.safetensors"].architecture == "SRVGGNetCompact"
    assert {"realesr-animevideov3-x4", "realesrgan-x4plus", "4x-old.pth"} <= set(listed)


def test_onnx_upscalers_fixed_or_free_size_and_either_output_range(models_dir: Path, upscalers: Upscalers) -> None:
    folder = models_dir / "RealESRGAN"  # A1111's folder name is read too
    free = onnx_models.upscaler(folder / "free.onnx", scale=2)
    onnx_models.upscaler(folder / "fixed.onnx", scale=2, fixed=64)
    onnx_models.upscaler(folder / "bytes.onnx", scale=2, out_255=True)
    picture = astronaut().resize((150, 100))
    rgb = np.asarray(picture).transpose(2, 0, 1).astype(np.float32)[None] / 255
    expected = to_uint8(ort.InferenceSession(str(free)).run(None, {"input": rgb})[0][0]).astype(int)
    for name in ("free.onnx", "fixed.onnx", "bytes.onnx"):
        enlarged, method = upscalers.upscale(picture, 2, name)
        assert enlarged.size == (300, 200) and method == name
        difference = np.abs(np.asarray(enlarged).astype(int) - expected)
        # The fixed-size model sees edge-padding instead of zeros beyond the image: its outer pixels differ.
        inner = difference[4:-4, 4:-4] if name == "fixed.onnx" else difference
        assert inner.max() <= 1, name


def test_unknown_broken_and_unsupported_models(models_dir: Path, upscalers: Upscalers) -> None:
    with pytest.raises(ImgOpenError) as unknown:
        upscalers.check("nope.pth")
    assert unknown.value.code == "400" and "realesr-animevideov3" in unknown.value.msg
    folder = models_dir / "upscale_models"
    folder.mkdir(exist_ok=True)
    (folder / "broken.pth").write_bytes(b"not a pickle")
    save_file({"layers.0.residual_group.blocks.0.attn.qkv.weight": torch.zeros(4, 4)}, str(folder / "swin.safetensors"))
    for name, words in (("broken.pth", "cannot"), ("swin.safetensors", "SwinIR")):
        upscalers.check(name)  # installed: known at submit, judged when loaded
        with pytest.raises(ImgOpenError) as refused:
            upscalers.upscale(astronaut().resize((16, 16)), 2, name)
        assert refused.value.code == "422" and words in refused.value.msg


def test_without_the_bundled_models_auto_is_503(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled_models, "models_folder", lambda: None)
    with pytest.raises(ImgOpenError) as missing:
        Upscalers(models_dir).upscale(astronaut().resize((16, 16)), 2)
    assert missing.value.code == "503" and "upscale_models" in missing.value.msg
