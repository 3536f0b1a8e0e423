"""Face tools on the 512x512 astronaut: detection, a face swap and a face restoration, all with
the offline backends (MediaPipe, the mesh swap, Real-ESRGAN on the face crop)."""

from __future__ import annotations

from functools import cache

from bench.tool_cases import ToolCase


@cache
def _other_face() -> str:
    """Another person's face for the swap: lfw_subset face 3, enlarged to 200 px in a 400 px frame."""
    import cv2
    import numpy as np
    from PIL import Image
    from skimage import data

    from imgopen.testing.images import data_uri, encode

    grey = cv2.resize(np.asarray(data.lfw_subset()[3] * 255, np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
    framed = cv2.copyMakeBorder(grey, 100, 100, 100, 100, cv2.BORDER_REPLICATE)
    return data_uri(encode(Image.fromarray(framed).convert("RGB")))


CASES = [
    ToolCase("face/detection", "face/detection (blazeface)", lambda image: {"imageUrl": image}, goal_direct_ms=15),
    ToolCase(
        "face/detection",
        "face/detection (blazeface, jpeg out)",
        lambda image: {"imageUrl": image, "outputFormat": "jpeg"},
        goal_direct_ms=15,
    ),
    ToolCase("roop", "roop (mesh swap)", lambda image: {"sourceUrl": _other_face(), "targetUrl": image}),
    ToolCase(
        "codeformer",
        "codeformer (realesrgan face crop)",
        lambda image: {"sourceImage": image, "fidelityWeight": 0.5},
        rounds=3,
    ),
]
