"""Inline images as clients send them: a data URI or bare base64, clean or with the usual
deviations (line breaks, the URL-safe alphabet, missing padding), and what is refused."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.media.inputs import ImageInputs
from imgopen.testing.direct import direct_context
from imgopen.testing.images import astronaut, encode

# A real PNG; its base64 has "+" or "/" (where the URL-safe alphabet differs) and padding (checked
# below), so each deviation below really differs from the clean form.
PNG = encode(astronaut().resize((64, 64)))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> ImageInputs:
    root: Path = tmp_path_factory.mktemp("inputs")
    return direct_context(Settings(data_dir=root, database_url=f"sqlite:///{root}/db.sqlite")).inputs


def _wrapped(text: str, width: int = 76) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


CLEAN = base64.b64encode(PNG).decode()
FORMS = {
    "data URI": "data:image/png;base64," + CLEAN,
    "bare": CLEAN,
    "line breaks": _wrapped(CLEAN),
    "URL-safe alphabet": base64.urlsafe_b64encode(PNG).decode(),
    "no padding": CLEAN.rstrip("="),
    "data URI, line breaks": "data:image/png;base64," + _wrapped(CLEAN, 64),
}


def test_the_forms_cover_the_differences() -> None:
    assert "+" in CLEAN or "/" in CLEAN
    assert CLEAN.endswith("=")


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_form_reads_the_same_bytes(inputs: ImageInputs, form: str) -> None:
    assert inputs.read_bytes(FORMS[form], "image", "key") == PNG


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("data:image/png;base64," + CLEAN[:-5] + "*" + CLEAN[-4:], "422", "invalid base64"),
        ("data:text/plain;base64," + CLEAN, "422", "not an image"),
        ("data:image/png," + CLEAN, "422", "must be base64"),
        ("no image at all, just words!", "422", "not a URL, a data URI or base64"),
        ("é" * 200, "422", "not a URL, a data URI or base64"),
    ],
)
def test_bad_inline_data_is_a_422(inputs: ImageInputs, value: str, code: str, words: str) -> None:
    with pytest.raises(ImgOpenError) as caught:
        inputs.read_bytes(value, "image", "key")
    assert caught.value.code == code
    assert words in caught.value.msg
