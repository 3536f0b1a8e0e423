"""roop, v2/roop and face/fusion with the offline mesh swap: what changes and what does not, the
face brought closer to the source, the target's open mouth kept, faceIdx, bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError
from skimage import data
from skimage.feature import hog

from imgopen.errors import ImgOpenError
from imgopen.testing.direct import direct_checks
from imgopen.tools.faces.analysis import FaceAnalyzer, FoundFace
from imgopen.tools.registry import AnyTool
from imgopen.vision import face_align, mesh_swap
from tests.tools.faces.conftest import (
    ByteArray,
    ContextFactory,
    astronaut_rgb,
    call,
    lfw_portrait,
    output,
    two_faces,
    uri,
)

NO_MODELS = Path("/no-models")


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def only_face(analyzer: FaceAnalyzer, rgb: ByteArray) -> FoundFace:
    faces, _ = analyzer.find(rgb, NO_MODELS)
    assert len(faces) == 1
    return faces[0]


def face_region(face: FoundFace, shape: tuple[int, ...], margin: int) -> NDArray[np.bool_]:
    """The face oval of the mesh (what the swap may touch), grown by `margin` pixels."""
    assert face.mesh is not None
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.rint(face.mesh[list(mesh_swap.FACE_OVAL), :2]).astype(np.int32)], 255)
    grown = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return np.asarray(grown > 0)


def appearance(rgb: ByteArray, face: FoundFace) -> NDArray[np.float64]:
    """A face's appearance, for "closer to the source": HOG (histograms of gradient orientations in
    8x8 cells) of the inner face (brows to chin, cheek to cheek: what the swap replaces) in the grey
    face aligned to ArcFace's 112 px template, centred and scaled. The swap keeps the target's
    geometry, colour and light on purpose, so neither landmark positions nor colour statistics could
    show it; the layout and shape of edges (brows, eyelids, nose, lips, wrinkles) are what it brings
    from the source, and HOG compares exactly those. Measured over 24 pairs of lfw_subset faces and
    the astronaut, the swap raised this similarity by 0.05 to 0.22 (mean 0.16-0.22)."""
    aligned, _ = face_align.crop(rgb, face.five, face_align.arcface_template(112), 112)
    grey = cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY)[28:100, 20:92]
    features = np.asarray(hog(grey, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)), np.float64)
    features -= features.mean()
    return features / np.linalg.norm(features)


def similarity(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(a @ b)


def test_roop_changes_only_the_face_and_brings_it_closer_to_the_source(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, analyzer: FaceAnalyzer
) -> None:
    source, target = lfw_portrait(3), astronaut_rgb()
    ctx = make_ctx()
    result = call(face_tools["roop"], ctx, sourceUrl=uri(source), targetUrl=uri(target))
    assert result.method == "mediapipe-facemesh" and result.faceCount == 1
    swapped = output(ctx, result.outputImageUrl)
    assert swapped.shape == target.shape
    target_face = only_face(analyzer, target)
    region = face_region(target_face, target.shape, margin=2)
    np.testing.assert_array_equal(swapped[~region], target[~region])
    changed = np.abs(swapped.astype(int) - target.astype(int)).max(axis=2)
    assert changed[region].mean() > 8  # the face itself did change
    source_look = appearance(source, only_face(analyzer, source))
    before = similarity(appearance(target, target_face), source_look)
    after = similarity(appearance(swapped, only_face(analyzer, swapped)), source_look)
    assert after > before + 0.04, (before, after)


def test_the_targets_open_mouth_is_kept_when_the_source_mouth_is_closed(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory, analyzer: FaceAnalyzer
) -> None:
    """lfw face 0 shouts (mouth open); lfw face 1's mouth is closed. Warped across the open mouth,
    face 1's closed lips would smear over it: the target's mouth interior stays as it was."""
    source, target = lfw_portrait(1), lfw_portrait(0)
    target_face, source_face = only_face(analyzer, target), only_face(analyzer, source)
    assert target_face.mesh is not None and source_face.mesh is not None
    assert mesh_swap.kept_openings(target_face.mesh, source_face.mesh) == [mesh_swap.INNER_MOUTH]
    assert mesh_swap.kept_openings(target_face.mesh, target_face.mesh) == []  # alike: nothing kept
    ctx = make_ctx()
    swapped = output(ctx, call(face_tools["roop"], ctx, sourceUrl=uri(source), targetUrl=uri(target)).outputImageUrl)
    mouth = np.zeros(target.shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.rint(target_face.mesh[list(mesh_swap.INNER_MOUTH), :2]).astype(np.int32)], 255)
    assert (mouth > 0).sum() > 300  # a real opening
    np.testing.assert_array_equal(swapped[mouth > 0], target[mouth > 0])
    cheeks = face_region(target_face, target.shape, 0) & ~cv2.dilate(mouth, np.ones((15, 15), np.uint8)).astype(bool)
    assert np.abs(swapped.astype(int) - target.astype(int))[cheeks].mean() > 3


def test_face_idx_chooses_the_faces(face_tools: dict[str, AnyTool], make_ctx: ContextFactory) -> None:
    tool = face_tools["face/fusion"]
    target = two_faces()  # the astronaut left (x < 400), another man right
    source = uri(lfw_portrait(5))
    ctx = make_ctx()

    def swapped(**fields: object) -> ByteArray:
        result = call(tool, ctx, sourceUrl=source, targetUrl=uri(target), **fields)
        return output(ctx, result.outputImageUrl)

    right_only = swapped(faceIdx=2)
    np.testing.assert_array_equal(right_only[:, :400], target[:, :400])
    assert np.abs(right_only[:, 400:].astype(int) - target[:, 400:].astype(int)).sum() > 50_000
    left_only = swapped(faceIdx="1")
    np.testing.assert_array_equal(left_only[:, 400:], target[:, 400:])
    assert np.abs(left_only[:, :400].astype(int) - target[:, :400].astype(int)).sum() > 50_000
    both = call(tool, ctx, sourceUrl=[source], targetUrl=uri(target))
    assert both.faceCount == 2
    both_image = output(ctx, both.outputImageUrl)
    np.testing.assert_array_equal(both_image[:, :400], left_only[:, :400])
    # two sources, crossed: faceIdx[0] gets the first source
    crossed = call(tool, ctx, sourceUrl=[source, uri(lfw_portrait(7))], targetUrl=uri(target), faceIdx=[2, 1])
    crossed_image = output(ctx, crossed.outputImageUrl)
    np.testing.assert_array_equal(crossed_image[:, 400:], right_only[:, 400:])
    assert not np.array_equal(crossed_image[:, :400], left_only[:, :400])
    with pytest.raises(ImgOpenError) as out_of_range:
        call(tool, ctx, sourceUrl=source, targetUrl=uri(target), faceIdx=3)
    assert out_of_range.value.code == "400" and "faceIdx" in out_of_range.value.msg
    assert "2 face" in out_of_range.value.msg


def test_no_face_blank_and_mask_images_fail_with_the_field_named(
    face_tools: dict[str, AnyTool], make_ctx: ContextFactory
) -> None:
    tool = face_tools["roop"]
    face = uri(astronaut_rgb())
    cases = {
        "no face found in sourceUrl": {"sourceUrl": uri(np.asarray(data.coffee())), "targetUrl": face},
        "no face found in targetUrl": {"sourceUrl": face, "targetUrl": uri(np.asarray(data.coffee()))},
        "targetUrl: the image is blank": {"sourceUrl": face, "targetUrl": uri(np.full((300, 300, 3), 40, np.uint8))},
    }
    mask = np.zeros((300, 300, 3), np.uint8)
    cv2.circle(mask, (150, 150), 80, (255, 255, 255), -1)
    cases["sourceUrl: the image is a black-and-white mask"] = {"sourceUrl": uri(mask), "targetUrl": face}
    for message, fields in cases.items():
        with pytest.raises(ImgOpenError) as failed:
            call(tool, make_ctx(), **fields)
        assert failed.value.code == "400" and message in failed.value.msg, failed.value.msg
    fusion = face_tools["face/fusion"]
    with pytest.raises(ImgOpenError) as refused:
        params = fusion.params_model.model_validate({"sourceUrl": ["a", "b"], "targetUrl": "c"})
        fusion.precheck(
            params,
            {"sourceUrl[0]": (300, 300), "sourceUrl[1]": (8, 8), "targetUrl": (300, 300)},
            direct_checks(make_ctx().settings),
        )
    assert refused.value.code == "400" and "sourceUrl[1]" in refused.value.msg


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"fidelityWeight": "abc"}, "not a number"),
        ({"fidelityWeight": "1.5"}, "out of range"),
        ({"fidelityWeight": "-0.1"}, "out of range"),
    ],
)
def test_v2_roop_fidelity_must_be_a_number_from_0_to_1(
    face_tools: dict[str, AnyTool], fields: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        face_tools["v2/roop"].params_model.model_validate({"sourceUrl": "a", "targetUrl": "b", **fields})
    assert "fidelityWeight" in str(refused.value) and message in str(refused.value)
    for good in ("0", "0.35", "1", 0.5):
        params = face_tools["v2/roop"].params_model.model_validate(
            {"sourceUrl": "a", "targetUrl": "b", "fidelityWeight": good}
        )
        assert params.fidelityWeight == str(good)


@pytest.mark.parametrize(
    "fields",
    [
        {"sourceUrl": ["a", "b"], "faceIdx": 1},  # two sources need two numbers
        {"sourceUrl": ["a"], "faceIdx": "1,x"},
        {"sourceUrl": ["a"], "faceIdx": [1, 1]},
        {"sourceUrl": ["a"], "faceIdx": 0},
        {"sourceUrl": ["a", "b", "c"]},
        {"sourceUrl": []},
    ],
)
def test_face_fusion_refuses_inconsistent_bodies(face_tools: dict[str, AnyTool], fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        face_tools["face/fusion"].params_model.model_validate({"targetUrl": "t", **fields})
