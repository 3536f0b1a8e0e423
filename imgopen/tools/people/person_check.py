"""Is there a person in the picture? A face (BlazeFace), or else a body pose (MediaPipe Pose)."""

from __future__ import annotations

from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.faces import FaceDetector
from imgopen.vision.pose import PoseEstimator

# Landmarks that show a body even when the face is turned away or out of the frame.
BODY_POINTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose", "left_ear", "right_ear")


class PersonCheck:
    def __init__(
        self,
        cache: ModelCache | None = None,
        min_face_score: float = 0.5,
        min_visibility: float = 0.5,
        min_points: int = 3,
    ) -> None:
        cache = own_cache(cache)
        self._faces = FaceDetector(cache)
        self._pose = PoseEstimator(cache)
        self._min_face_score = min_face_score
        self._min_visibility = min_visibility
        self._min_points = min_points

    def has_person(self, image: Image.Image) -> bool:
        # The face detector is the cheap test (a few ms); the pose model only runs when it finds nothing.
        if self._faces.detect(image, self._min_face_score):
            return True
        visible = [
            point
            for point in self._pose.keypoints(image)
            if point.name in BODY_POINTS and point.visibility >= self._min_visibility
        ]
        return len(visible) >= self._min_points
