"""What imgopen can measure about a picture without captioning models: people (faces and body
pose), how they are framed and placed, dominant colours by name, brightness and contrast, a plain
background, and the style from the offline style classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.colour_names import ColourNamer, to_lab
from imgopen.vision.dominant_colours import NamedColour, dominant_colours, lightness
from imgopen.vision.faces import Face, FaceDetector
from imgopen.vision.pose import Keypoint, PoseEstimator
from imgopen.vision.style_classifier import classify_features
from imgopen.vision.style_features import measure

FACE_SCORE = 0.6  # a face counts as a person from this detection score on
WEAK_FACE_SCORE = 0.2  # weaker detections only lower the confidence of "no people"
VISIBLE = 0.6  # pose landmark visibility that counts as seen
BORDER = 0.04  # the ring of the picture checked for a plain background (share of each side)
PLAIN_SPREAD = 6.0  # CIELAB standard deviation under which the ring is one plain colour


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    styles: list[tuple[str, float]]  # best first
    chroma: float  # 0 for greyscale pictures
    people: int
    people_score: float  # confidence in the people count, 0..1
    faces: list[Face]
    framing: str | None  # "close-up", "head and shoulders", "upper body", "three-quarter length", "full body"
    framing_score: float
    subject_x: float | None  # horizontal centre of the one person, 0..1
    colours: list[NamedColour]
    lightness: float  # CIELAB L mean, 0..100
    contrast: float  # CIELAB L standard deviation
    background: NamedColour | None  # a plain border colour (share: how plain, 0..1)


def _seen(points: dict[str, Keypoint], *names: str) -> float:
    """The lowest visibility of the named landmarks (all must be seen)."""
    return min(points[name].visibility for name in names) if points else 0.0


def _framing(face: Face | None, height: int, keypoints: list[Keypoint]) -> tuple[str | None, float]:
    points = {point.name: point for point in keypoints}
    if face is not None and face.box[3] / height > 0.4:
        return "close-up", face.score
    checks = (
        ("full body", ("left_ankle", "right_ankle")),
        ("three-quarter length", ("left_knee", "right_knee")),
        ("upper body", ("left_hip", "right_hip")),
        ("head and shoulders", ("left_shoulder", "right_shoulder")),
    )
    for name, landmarks in checks:
        seen = max(_seen(points, landmarks[0]), _seen(points, landmarks[1]))
        if seen >= VISIBLE:
            return name, seen
    if face is not None:
        return "head and shoulders", face.score
    return None, 0.0


def _background(image: Image.Image, namer: ColourNamer) -> NamedColour | None:
    small = image.convert("RGB")
    small.thumbnail((128, 128), Image.Resampling.BOX)
    rgb = np.asarray(small, np.float32)
    h, w = rgb.shape[:2]
    dy, dx = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    ring = np.concatenate(
        [rgb[:dy].reshape(-1, 3), rgb[-dy:].reshape(-1, 3), rgb[:, :dx].reshape(-1, 3), rgb[:, -dx:].reshape(-1, 3)]
    )
    spread = float(np.linalg.norm(to_lab(ring).std(axis=0)))
    if spread > PLAIN_SPREAD:
        return None
    mean = ring.mean(axis=0)
    rgb_mean = (round(float(mean[0])), round(float(mean[1])), round(float(mean[2])))
    return NamedColour(namer.name(mean), 1 - spread / PLAIN_SPREAD, rgb_mean)


class SceneAnalyser:
    """The detectors' graphs are in the model cache (loaded on first use, reused for every picture)."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        cache = own_cache(cache)
        self._faces = FaceDetector(cache)
        self._pose = PoseEstimator(cache)
        self._namer = ColourNamer()

    def analyse(self, image: Image.Image) -> Scene:
        rgb = image.convert("RGB")
        features = measure(rgb)
        candidates = self._faces.detect(rgb, min_score=WEAK_FACE_SCORE)
        faces = [face for face in candidates if face.score >= FACE_SCORE]
        keypoints = self._pose.keypoints(rgb)
        points = {point.name: point for point in keypoints}
        # A person seen from behind has no face: a confident whole torso counts as one.
        torso = _seen(points, "left_shoulder", "right_shoulder", "left_hip", "right_hip")
        if faces:
            people, people_score = len(faces), min(face.score for face in faces)
        elif torso >= 0.9:
            people, people_score = 1, torso
        else:
            people, people_score = 0, 1 - max((face.score for face in candidates), default=0.0)
        largest = max(faces, key=lambda face: face.box[2] * face.box[3]) if faces else None
        framing, framing_score = _framing(largest, rgb.height, keypoints) if people == 1 else (None, 0.0)
        subject_x: float | None = None  # where one person stands (a group has no single place)
        if len(faces) == 1:
            subject_x = (faces[0].box[0] + faces[0].box[2] / 2) / rgb.width
        elif people == 1 and not faces:
            subject_x = (points["left_shoulder"].x + points["right_shoulder"].x) / 2 / rgb.width
        mean_l, std_l = lightness(rgb)
        return Scene(
            width=rgb.width,
            height=rgb.height,
            styles=classify_features(features),
            chroma=features.chroma,
            people=people,
            people_score=float(people_score),
            faces=faces,
            framing=framing,
            framing_score=float(framing_score),
            subject_x=subject_x,
            colours=dominant_colours(rgb, namer=self._namer),
            lightness=mean_l,
            contrast=std_l,
            background=_background(rgb, self._namer),
        )
