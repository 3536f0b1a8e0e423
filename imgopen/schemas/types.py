"""Annotated field types with a meaning beyond their JSON type: image inputs and stored files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer, SerializationInfo


class ImageRef(str):
    """An image field's value; the submit path finds these to fetch and store each input once."""

    __slots__ = ()


ImageInput = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40_000_000,
        description=(
            "Image: an http(s) URL, a data:image/...;base64 URI, bare base64, or a URL of this server's outputs."
        ),
    ),
    AfterValidator(ImageRef),
]


def _file_url(value: str, info: SerializationInfo) -> str | None:
    context = info.context
    if isinstance(context, dict) and "file_url" in context:
        url: str | None = context["file_url"](value)
        return url
    return value


# A stored file: kept as a storage key in the database, rendered as a URL in API answers
# (dump with context={"file_url": storage.url}), so URLs are signed afresh at every query; null
# once the file expired (retention).
FileKey = Annotated[str, PlainSerializer(_file_url, return_type=str | None)]


def iter_images(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], ImageRef]]:
    """(wire path, value) of every image input in a validated request, nested models and lists included."""
    if isinstance(value, ImageRef):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from iter_images(getattr(value, name), (*path, field.alias or name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_images(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_images(item, (*path, key))


def set_path(document: Any, path: tuple[str | int, ...], new: Any) -> None:
    """Replace the value at `path` inside nested dicts and lists."""
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = new


def path_text(path: tuple[str | int, ...]) -> str:
    """ "controlnet.args[0].input_image" for error messages."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out
