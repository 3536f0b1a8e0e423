"""The hair region of a portrait, found offline (MediaPipe ships no hair model in the wheel).

From the face mesh: the face oval, the brows, the top of the forehead and the chin give a head
box and a "face core" that is never hair. Two colour models in Lab, skin (from the cheeks) and
hair (from a band above the forehead, inside the person mask), label the rest of the head by
likelihood ratio; grabCut settles the labels with the image's own colour models and edges, the
selfie mask bounding it (with a margin: that mask is coarse at the crown); a guided filter gives
the edge its softness. Only regions connected to the band above the forehead are kept."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.face_mesh import FaceMesh
from imgopen.vision.matting import guided_filter
from imgopen.vision.segmentation import PersonSegmenter

FloatArray = NDArray[np.float32]
# Face mesh points used (MediaPipe's canonical indices).
FOREHEAD_TOP, CHIN, NOSE_BRIDGE, NOSE_TIP, CHEEK_LEFT, CHEEK_RIGHT = 10, 152, 6, 1, 234, 454
GRABCUT_SIDE = 160  # grabCut runs on the head box scaled to this: its cost grows with the pixel count


@dataclass(frozen=True)
class Head:
    """A face's geometry in pixels, from its mesh."""

    landmarks: NDArray[np.float32]  # (478, 3)
    oval: NDArray[np.float32]  # (36, 2), in order around the face
    brow_y: float  # mean height of the eyebrows
    top: tuple[float, float]  # the top of the forehead (the mesh's, usually at the hairline)
    chin: tuple[float, float]
    height: float  # forehead top to chin
    width: float  # cheek to cheek
    centre_x: float


@dataclass(frozen=True)
class HairRegion:
    alpha: FloatArray  # 0..1, the image's size
    head: Head

    @property
    def fraction(self) -> float:
        return float(self.alpha.mean())


def _oval_order(edges: Any) -> list[int]:
    """MediaPipe gives the face oval as unordered edges; walk them into a polygon."""
    following = dict(edges)
    order = [FOREHEAD_TOP]
    while following[order[-1]] != FOREHEAD_TOP:
        order.append(following[order[-1]])
    return order


class _Gaussian:
    """A colour model: a full-covariance Gaussian over Lab pixels."""

    def __init__(self, samples: FloatArray, floor: tuple[float, float, float]) -> None:
        self.mean = samples.mean(axis=0)
        # The floor keeps the model usable on flat or grey patches (a singular covariance).
        covariance = np.cov(samples.T) + np.diag(floor)
        self.inverse = np.linalg.inv(covariance)
        self.log_det = float(np.log(np.linalg.det(covariance)))

    def log_likelihood(self, pixels: FloatArray) -> FloatArray:
        delta = pixels - self.mean
        distance = np.einsum("...i,ij,...j->...", delta, self.inverse, delta)
        return np.asarray(-0.5 * (distance + self.log_det), np.float32)


_FLOOR = (16.0, 1.0, 1.0)  # lightness varies with shading far more than the chroma does


class HairFinder:
    def __init__(self, cache: ModelCache | None = None) -> None:
        cache = own_cache(cache)
        self._mesh = FaceMesh(cache)
        self._segmenter = PersonSegmenter(cache)
        self._indices: tuple[list[int], list[int]] | None = None

    def _mesh_indices(self) -> tuple[list[int], list[int]]:
        """(face oval in order, eyebrow points), read from MediaPipe's connection sets once."""
        if self._indices is None:
            import mediapipe as mp

            face_mesh = mp.solutions.face_mesh
            brows = face_mesh.FACEMESH_LEFT_EYEBROW | face_mesh.FACEMESH_RIGHT_EYEBROW
            self._indices = _oval_order(face_mesh.FACEMESH_FACE_OVAL), sorted({i for edge in brows for i in edge})
        return self._indices

    def heads(self, image: Image.Image) -> list[Head]:
        """Every face's geometry, largest first."""
        oval_ids, brow_ids = self._mesh_indices()
        heads = []
        for points in self._mesh.landmarks(image):
            top, chin = points[FOREHEAD_TOP, :2], points[CHIN, :2]
            heads.append(
                Head(
                    landmarks=points,
                    oval=points[oval_ids, :2],
                    brow_y=float(points[brow_ids, 1].mean()),
                    top=(float(top[0]), float(top[1])),
                    chin=(float(chin[0]), float(chin[1])),
                    height=float(np.linalg.norm(chin - top)),
                    width=float(np.linalg.norm(points[CHEEK_RIGHT, :2] - points[CHEEK_LEFT, :2])),
                    centre_x=float(points[oval_ids, 0].mean()),
                )
            )
        return sorted(heads, key=lambda head: -head.height * head.width)

    def find(self, image: Image.Image) -> HairRegion | None:
        """The hair of the largest face; None when there is no face. The region may be empty (a
        bald head, a hat): the caller decides what that means."""
        heads = self.heads(image)
        if not heads:
            return None
        rgb = np.asarray(image.convert("RGB"))
        person = self._segmenter.probability(image, margin=1 / 16)
        return HairRegion(hair_alpha(rgb, person, heads[0]), heads[0])


def head_box(head: Head, width: int, height: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the area hair is looked for in: a face height above the forehead, a bit
    below the chin, 1.2 face widths to each side."""
    x0 = int(max(0, head.centre_x - 1.2 * head.width))
    x1 = int(min(width, head.centre_x + 1.2 * head.width))
    y0 = int(max(0, head.top[1] - 1.0 * head.height))
    y1 = int(min(height, head.chin[1] + 0.3 * head.height))
    return x0, y0, x1, y1


def face_core(head: Head, shape: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> NDArray[np.bool_]:
    """The face oval from just above the brows down: never hair (bangs above the brows may be)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(head.oval - np.asarray(offset, np.float32)).astype(np.int32)], 1)
    rows = np.arange(shape[0])[:, None] + offset[1]
    return (mask > 0) & (rows > head.brow_y - 0.04 * head.height)


def hair_alpha(rgb: NDArray[np.uint8], person: FloatArray, head: Head) -> FloatArray:
    """The soft hair mask of one head (see the module's doc)."""
    height, width = person.shape
    x0, y0, x1, y1 = head_box(head, width, height)
    alpha = np.zeros((height, width), np.float32)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return alpha
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    inside = person[y0:y1, x0:x1] > 0.5
    shape = (inside.shape[0], inside.shape[1])
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    rows = np.arange(shape[0], dtype=np.float32)[:, None] + y0
    cols = np.arange(shape[1], dtype=np.float32)[None, :] + x0
    core = face_core(head, shape, (x0, y0))
    oval_inner = cv2.erode(core.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    points = head.landmarks
    cheeks = oval_inner & (rows > points[NOSE_BRIDGE, 1]) & (rows < points[NOSE_TIP, 1] + 0.05 * head.height)
    band = (
        inside
        & (rows < head.top[1] - 0.08 * head.height)
        & (rows > head.top[1] - 0.5 * head.height)
        & (np.abs(cols - head.centre_x) < 0.3 * head.width)
    )
    if cheeks.sum() < 10 or band.sum() < 10:
        return alpha
    skin = _Gaussian(lab[cheeks], _FLOOR)
    band_pixels = lab[band]
    hair = _Gaussian(band_pixels, _FLOOR)
    # The band may hold forehead skin or background under a receding or short cut: fit the hair
    # model again on the band's pixels that look more like hair than like skin.
    hairy = hair.log_likelihood(band_pixels) > skin.log_likelihood(band_pixels)
    if hairy.sum() >= 10:
        hair = _Gaussian(band_pixels[hairy], _FLOOR)
    ratio = hair.log_likelihood(lab) - skin.log_likelihood(lab)
    region = inside & ~core
    labels = np.full(shape, cv2.GC_BGD, np.uint8)
    labels[region] = np.where(ratio[region] > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[band & (ratio > 3)] = cv2.GC_FGD
    reach = 2 * int(0.12 * head.height) + 1
    near = cv2.dilate(inside.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) > 0
    labels[near & ~inside & ~core & (rows < head.chin[1])] = cv2.GC_PR_BGD
    settled = _grabcut(crop, labels)
    radius = max(2, round(head.height / 25))
    # Coefficients fitted at up to 1/4 of the size for large heads (see guided_filter).
    subsample = max(1, min(4, radius // 2))
    soft = guided_filter(crop.astype(np.float32) * np.float32(1 / 255), settled, radius, 1e-3, subsample)
    soft = np.clip((soft - 0.5) * 3.0 + 0.5, 0.0, 1.0) * (near & ~core)
    soft *= _connected_to(soft > 0.5, band)
    alpha[y0:y1, x0:x1] = soft
    return alpha


def _grabcut(crop: NDArray[np.uint8], labels: NDArray[np.uint8]) -> FloatArray:
    """grabCut's foreground (0/1, as float, at the crop's size), run at most GRABCUT_SIDE pixels wide."""
    height, width = labels.shape
    scale = min(1.0, GRABCUT_SIDE / max(height, width))
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_labels = cv2.resize(labels, small, interpolation=cv2.INTER_NEAREST)
    small_bgr = cv2.resize(np.ascontiguousarray(crop[..., ::-1]), small, interpolation=cv2.INTER_AREA)
    if (small_labels == cv2.GC_FGD).any() or (small_labels == cv2.GC_PR_FGD).any():
        background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        # Too few pixels of one class for its colour model: the likelihood labels stand as they are.
        with contextlib.suppress(cv2.error):
            cv2.grabCut(small_bgr, small_labels, (0, 0, 0, 0), background, foreground, 3, cv2.GC_INIT_WITH_MASK)
    chosen = ((small_labels == cv2.GC_FGD) | (small_labels == cv2.GC_PR_FGD)).astype(np.float32)
    return np.asarray(cv2.resize(chosen, (width, height), interpolation=cv2.INTER_LINEAR), np.float32)


def _connected_to(solid: NDArray[np.bool_], seeds: NDArray[np.bool_]) -> FloatArray:
    """1 on the components of `solid` that touch `seeds` (grown by 2 px for the soft rim), else 0."""
    count, labels = cv2.connectedComponents(solid.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[seeds & solid])
    keep = keep[keep > 0]
    if count <= 1 or keep.size == 0:
        return np.zeros(solid.shape, np.float32)
    kept = np.isin(labels, keep).astype(np.uint8)
    return np.asarray(cv2.dilate(kept, np.ones((5, 5), np.uint8)), np.float32)


# How far new hair may reach, per length: the cranium ellipse's size (in face widths / heights),
# and how far below the chin the sides go (in face heights; None: no sides).
_REACH: dict[str, tuple[float, float, float | None]] = {
    "short": (0.8, 0.75, None),
    "medium": (0.9, 0.85, 0.35),
    "long": (1.0, 0.9, 1.2),
}


def repaint_area(region: HairRegion, width: int, height: int, length: str) -> NDArray[np.bool_]:
    """Where a new hairstyle of `length` ("short", "medium", "long") is painted: the present hair
    (grown a little, so none of it survives at the edges) and the space the new style may fill
    around the head, never the face below the brows."""
    head = region.head
    scale_x, scale_y, below_chin = _REACH[length]
    area = np.zeros((height, width), np.uint8)
    centre = (round(head.centre_x), round(head.top[1] + 0.15 * head.height))
    axes = (round(scale_x * head.width), round(scale_y * head.height))
    cv2.ellipse(area, centre, axes, 0, 180, 360, 1, -1)  # the upper half: the crown
    cv2.ellipse(area, centre, (axes[0], round(0.5 * head.height)), 0, 0, 180, 1, -1)  # down the temples
    if below_chin is not None:
        # Two falls of hair beside the face and the neck; the throat stays as it is.
        bottom = round(head.chin[1] + below_chin * head.height)
        outer, inner = scale_x * head.width, 0.4 * head.width
        for side in (-1, 1):
            x_outer, x_inner = round(head.centre_x + side * outer), round(head.centre_x + side * inner)
            cv2.rectangle(area, (x_outer, round(head.top[1])), (x_inner, bottom), 1, -1)
    grow = 2 * max(1, round(head.height * 0.06)) + 1
    present = cv2.dilate(
        (region.alpha > 0.2).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow,) * 2)
    )
    painted = (area > 0) | (present > 0)
    return painted & ~face_core(head, (height, width))
