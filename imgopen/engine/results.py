"""What an SD generation task stores as its result (file keys become URLs in answers)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from imgopen.schemas.types import FileKey


class SdImage(BaseModel):
    image: FileKey = Field(description="URL of the image.")
    seed: int = Field(description="The seed this image was made with.")


class SdResult(BaseModel):
    images: list[SdImage] = Field(description="The images, in order.")
    info: dict[str, Any] = Field(description="The parameters used, A1111 style.")
    method: str = Field(description="What produced the images.")
