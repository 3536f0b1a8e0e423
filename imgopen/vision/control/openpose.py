"""OpenPose-style maps and keypoints from MediaPipe: the body's 33 landmarks mapped to OpenPose's 18
COCO points, MediaPipe Hands' 21 points per hand (the same layout as OpenPose's hands) and 70 face
points picked from the face mesh in the order of OpenPose's face model (jaw, brows, nose, eyes,
lips, pupils). Drawn in OpenPose's colour scheme, which the openpose ControlNets were trained on,
and returned as OpenPose JSON: {"people": [{"pose_keypoints_2d": [x, y, c] * 18, ...}],
"canvas_width", "canvas_height"}, in pixels of the map; a point not found is (0, 0, 0)."""

from __future__ import annotations

import colorsys
import math
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.vision.control.settings import ControlMap, PreprocessSettings, rgb_array
from imgopen.vision.face_mesh import METHOD as FACE_METHOD
from imgopen.vision.hands import METHOD as HANDS_METHOD
from imgopen.vision.pose import METHOD as POSE_METHOD
from imgopen.vision.pose import Keypoint

# OpenPose's 18 body points, each as MediaPipe landmark names (the neck: between the shoulders).
BODY_18 = (
    ("nose",), ("left_shoulder", "right_shoulder"), ("right_shoulder",), ("right_elbow",), ("right_wrist",),
    ("left_shoulder",), ("left_elbow",), ("left_wrist",), ("right_hip",), ("right_knee",), ("right_ankle",),
    ("left_hip",), ("left_knee",), ("left_ankle",), ("right_eye",), ("left_eye",), ("right_ear",), ("left_ear",),
)  # fmt: skip
# Limbs between body points (0-based), in OpenPose's drawing order, and its 18 colours (RGB).
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
HAND_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
    (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip
# Face-mesh landmarks in the order of OpenPose's 70 face points (the person's right side first).
FACE_70 = (
    234, 93, 132, 58, 172, 136, 150, 149, 152, 378, 379, 365, 397, 288, 361, 323, 454,  # jaw
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,  # brows
    168, 6, 197, 4, 98, 97, 2, 326, 327,  # nose: bridge, then the bottom
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # eyes
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lips
    78, 81, 13, 311, 308, 402, 14, 178,  # inner lips
    468, 473,  # pupils (iris centres)
)  # fmt: skip
MIN_VISIBILITY = 0.3

Points = NDArray[np.float32]  # (n, 3): x, y, confidence (0 when not found)


def body_points(keypoints: list[Keypoint], width: int, height: int) -> Points:
    by_name = {k.name: k for k in keypoints}
    points = np.zeros((18, 3), np.float32)
    for index, names in enumerate(BODY_18):
        found = [by_name[n] for n in names if n in by_name]
        if len(found) != len(names):
            continue
        x = sum(k.x for k in found) / len(found)
        y = sum(k.y for k in found) / len(found)
        confidence = min(k.visibility for k in found)
        if confidence >= MIN_VISIBILITY and 0 <= x < width and 0 <= y < height:
            points[index] = (x, y, confidence)
    return points


def draw_body(canvas: NDArray[np.uint8], points: Points) -> None:
    stick = 4
    for index, (a, b) in enumerate(LIMBS):
        if points[a, 2] <= 0 or points[b, 2] <= 0:
            continue
        (xa, ya), (xb, yb) = points[a, :2], points[b, :2]
        length = math.hypot(xa - xb, ya - yb)
        angle = math.degrees(math.atan2(ya - yb, xa - xb))
        centre = (round((xa + xb) / 2), round((ya + yb) / 2))
        polygon = np.array(cv2.ellipse2Poly(centre, (round(length / 2), stick), round(angle), 0, 360, 1), np.int32)
        layer = canvas.copy()
        cv2.fillConvexPoly(layer, polygon, COLOURS[index])
        canvas[:] = (canvas * 0.4 + layer * 0.6).astype(np.uint8)  # limbs at 60%, as OpenPose draws them
    for index, (x, y, confidence) in enumerate(points):
        if confidence > 0:
            cv2.circle(canvas, (round(x), round(y)), 4, COLOURS[index], -1)


def draw_hand(canvas: NDArray[np.uint8], points: Points) -> None:
    for index, (a, b) in enumerate(HAND_EDGES):
        if points[a, 2] > 0 and points[b, 2] > 0:
            red, green, blue = colorsys.hsv_to_rgb(index / len(HAND_EDGES), 1.0, 1.0)
            start = (round(points[a, 0]), round(points[a, 1]))
            cv2.line(canvas, start, (round(points[b, 0]), round(points[b, 1])), (red * 255, green * 255, blue * 255), 2)
    for x, y, confidence in points:
        if confidence > 0:
            cv2.circle(canvas, (round(x), round(y)), 3, (0, 0, 255), -1)


def draw_face(canvas: NDArray[np.uint8], points: Points) -> None:
    for x, y, confidence in points:
        if confidence > 0:
            cv2.circle(canvas, (round(x), round(y)), 2, (255, 255, 255), -1)


def _flat(points: Points | None) -> list[float]:
    return [] if points is None else [round(float(v), 2) for v in points.reshape(-1)]


def detect(image: Image.Image, settings: PreprocessSettings, body: bool, hands: bool, face: bool) -> ControlMap:
    rgb = rgb_array(image, settings.resolution)
    height, width = rgb.shape[:2]
    canvas = np.zeros_like(rgb)
    networks = settings.networks()
    picture = Image.fromarray(rgb)
    person: dict[str, list[float]] = {}
    methods: list[str] = []
    if body:
        methods.append(POSE_METHOD)
        points = body_points(networks.pose.keypoints(picture), width, height)
        if points[:, 2].any():
            draw_body(canvas, points)
            person["pose_keypoints_2d"] = _flat(points)
    if hands:
        methods.append(HANDS_METHOD)
        for hand in networks.hands.detect(picture):
            hand_points = np.concatenate([hand.points, np.full((len(hand.points), 1), hand.score, np.float32)], 1)
            draw_hand(canvas, hand_points)
            person[f"hand_{hand.side}_keypoints_2d"] = _flat(hand_points)
    if face:
        methods.append(FACE_METHOD)
        faces = networks.face_mesh.landmarks(picture)
        if faces:
            # The largest face belongs to the person in front.
            mesh = max(faces, key=lambda f: float(np.ptp(f[:, 0]) * np.ptp(f[:, 1])))
            face_points = np.concatenate([mesh[list(FACE_70), :2], np.ones((70, 1), np.float32)], 1)
            draw_face(canvas, face_points)
            person["face_keypoints_2d"] = _flat(face_points)
    if person:
        for key in ("pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
            person.setdefault(key, [])
    pose: dict[str, Any] = {"people": [person] if person else [], "canvas_width": width, "canvas_height": height}
    return ControlMap(Image.fromarray(canvas), "+".join(methods), pose)


def openpose(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    return detect(image, settings, body=True, hands=False, face=False)


def openpose_hand(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    return detect(image, settings, body=True, hands=True, face=False)


def openpose_face(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    return detect(image, settings, body=True, hands=False, face=True)


def openpose_faceonly(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    return detect(image, settings, body=False, hands=False, face=True)


def openpose_full(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    return detect(image, settings, body=True, hands=True, face=True)
