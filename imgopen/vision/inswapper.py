"""The neural face swap of roop and FaceFusion: an ArcFace recogniser gives the source face's
identity, and insightface's inswapper_128 redraws the target face with it.

- ArcFace (w600k_r50.onnx and kin): the face aligned to the 112 px ArcFace template, RGB,
  (x - 127.5) / 127.5, NCHW; out comes a 512-d embedding, used L2-normalised.
- inswapper_128: input "target", the target face aligned to the ArcFace template at 128 px, RGB
  in 0..1; input "source", the identity as (1, 512): the normalised embedding times the model's
  own 512x512 "emap" matrix (the graph's last initializer), normalised again. Output (1, 3, 128,
  128), RGB in 0..1, pasted back with the inverse of the alignment and a soft-edged mask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imgopen.vision import face_align

METHOD = "inswapper_128"
ARCFACE_SIZE = 112


def embedding(session: Any, rgb: NDArray[np.uint8], five: NDArray[np.float32]) -> NDArray[np.float32]:
    """The L2-normalised identity embedding of the face at `five` (ArcFace)."""
    shape = session.get_inputs()[0].shape
    size = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else ARCFACE_SIZE
    aligned, _matrix = face_align.crop(rgb, five, face_align.arcface_template(size), size)
    blob = (aligned.astype(np.float32) - 127.5) / 127.5
    output = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(blob.transpose(2, 0, 1)[None])})
    vector = np.asarray(output[0], np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        raise ValueError("the recogniser returned a zero embedding")
    return np.asarray(vector / norm, np.float32)


def load_emap(path: Path) -> NDArray[np.float32]:
    """The swapper's identity projection: its last 512x512 initializer."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    for initializer in reversed(model.graph.initializer):
        if tuple(initializer.dims) == (512, 512):
            return np.asarray(numpy_helper.to_array(initializer), np.float32)
    raise ValueError(f"{path.name} has no 512x512 emap initializer: not an inswapper model")


def latent(identity: NDArray[np.float32], emap: NDArray[np.float32]) -> NDArray[np.float32]:
    projected = identity.reshape(1, -1) @ emap
    return np.asarray(projected / np.linalg.norm(projected), np.float32)


def swap(
    session: Any,
    emap: NDArray[np.float32],
    rgb: NDArray[np.uint8],
    target_five: NDArray[np.float32],
    identity: NDArray[np.float32],
) -> NDArray[np.uint8]:
    """The RGB image with the face at `target_five` redrawn with `identity`."""
    inputs = {item.name: item for item in session.get_inputs()}
    target_input = inputs.get("target") or session.get_inputs()[0]
    source_input = inputs.get("source") or session.get_inputs()[1]
    shape = target_input.shape
    size = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else 128
    aligned, matrix = face_align.crop(rgb, target_five, face_align.arcface_template(size), size)
    blob = np.ascontiguousarray((aligned.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])
    output = session.run(None, {target_input.name: blob, source_input.name: latent(identity, emap)})
    face = np.asarray(output[0], np.float32)[0].transpose(1, 2, 0)
    swapped = np.asarray(np.clip(np.rint(face * 255.0), 0, 255), np.uint8)
    # The crop's edges hold background and hair the swapper did not mean to change: fade them out.
    mask = face_align.box_mask(size, margin=0.1, feather=0.05)
    return face_align.paste(rgb, swapped, matrix, mask)
