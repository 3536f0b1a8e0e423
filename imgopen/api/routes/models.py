"""The four model lists of API.md 3.4, paged and filtered, and the preview images they link to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from imgopen.api.deps import KeyDep, ServicesDep
from imgopen.api.envelope import documented, ok
from imgopen.api.lean_route import LeanRoute
from imgopen.catalog.catalog import ModelEntry
from imgopen.roles.api import ApiServices

PREVIEW_ROUTE = "/models/preview/"
RowT = TypeVar("RowT")


class Page(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pageSize: int = Field(ge=1, le=1000, description="Rows per page.")
    pageNum: int = Field(ge=1, description="Page number, from 1.")


class ModelListQuery(Page):
    sdModelCheckpoint: str | None = Field(None, max_length=400, description="Filter: file name contains this.")
    sdModelName: str | None = Field(None, max_length=400, description="Filter: model name contains this.")


class LoraListQuery(Page):
    sdLoraFileSimplifyName: str | None = Field(None, max_length=400, description="Filter: LoRA name contains this.")
    modelBaseModel: str | None = Field(None, max_length=64, description='Filter: base model, e.g. "SD 1.5".')


class VaeListQuery(Page):
    modelBaseModel: str | None = Field(None, max_length=64, description="Filter: base model.")


class EmbeddingListQuery(Page):
    modelBaseModel: str | None = Field(None, max_length=64, description="Filter: base model.")


class UnloadAnswer(BaseModel):
    unloaded: list[str] = Field(description="What was dropped (in a cluster: the checkpoints the workers had loaded).")
    workers: int | None = Field(None, description="Cluster: how many workers were asked to unload.")


class NotFound(BaseModel):
    detail: str = Field(description="What was not found.")


class ModelRow(BaseModel):
    id: int = Field(description="Stable id of the file.")
    sdModelCheckpoint: str = Field(description="The value to send as sd_model_checkpoint.")
    sdModelName: str = Field(description="The model's name.")
    modelBaseModel: str = Field(description='Read from the weights: "SD 1.5", "SD 2.x", "SDXL 1.0", "Flux.1 D"...')
    modelType: str = Field(description='"Checkpoint".')
    modelVersion: str | None = Field(description='Variant: "inpainting", "refiner"... or null.')
    modelStatus: int = Field(description="1: usable.")
    modelUploadStatus: int = Field(description="2: ready.")
    modelImgUrl2: str | None = Field(description="Preview image (NAME.preview.png beside the file) or null.")
    sha256: str | None = Field(description="sha256 of the file (null while being computed).")
    shortHash: str | None = Field(description="A1111's 10-hex short hash.")
    sizeBytes: int = Field(description="Size on disk.")


class LoraRow(BaseModel):
    id: int = Field(description="Stable id of the file.")
    sdLoraFileName: str = Field(description="The file name.")
    sdLoraFileSimplifyName: str = Field(description="NAME for <lora:NAME:W> in prompts.")
    loraName: str = Field(description="The LoRA's name (its training output name when recorded).")
    modelBaseModel: str = Field(description="Base model it was trained for.")
    triggerWords: list[str] = Field(description="Most frequent training tags (kohya metadata).")
    loraImgUrl: str | None = Field(description="Preview image or null.")
    sha256: str | None = Field(description="sha256 of the file.")


class VaeRow(BaseModel):
    id: int = Field(description="Stable id of the file.")
    sdVae: str = Field(description="The value to send as sd_vae.")
    vaeName: str = Field(description="The VAE's name.")
    modelBaseModel: str = Field(description="Base model family.")


class EmbeddingRow(BaseModel):
    id: int = Field(description="Stable id of the file.")
    embeddingName: str = Field(description="The token to write in a prompt.")
    fileName: str = Field(description="The file name.")
    modelBaseModel: str = Field(description="Base model it was trained for.")
    vectors: int | None = Field(description="Number of vectors (tokens) it takes.")


class Paged(BaseModel, Generic[RowT]):
    rows: list[RowT] = Field(description="This page's rows.")
    total: int = Field(description="Rows matching the filters, all pages.")
    pageSize: int = Field(description="Rows per page.")
    pageNum: int = Field(description="Page number.")


def _contains(value: str, wanted: str | None) -> bool:
    return wanted is None or wanted.lower() in value.lower()


def _page(rows: Sequence[dict[str, Any]], query: Page) -> dict[str, Any]:
    start = (query.pageNum - 1) * query.pageSize
    return {
        "rows": list(rows[start : start + query.pageSize]),
        "total": len(rows),
        "pageSize": query.pageSize,
        "pageNum": query.pageNum,
    }


def preview_url(services: ApiServices, entry: ModelEntry) -> str | None:
    if entry.preview is None:
        return None
    return f"{services.settings.resolved_public_base_url}{PREVIEW_ROUTE}{entry.id}"


def model_rows(services: ApiServices, query: ModelListQuery) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "sdModelCheckpoint": e.name,
            "sdModelName": e.stem,
            "modelBaseModel": e.base_model,
            "modelType": "Checkpoint",
            "modelVersion": e.variant,
            "modelStatus": 1,
            "modelUploadStatus": 2,
            "modelImgUrl2": preview_url(services, e),
            "sha256": e.sha256,
            "shortHash": e.short_hash,
            "sizeBytes": e.size,
        }
        for e in services.catalog.entries("checkpoint")
        if _contains(e.name, query.sdModelCheckpoint) and _contains(e.stem, query.sdModelName)
    ]


def lora_rows(services: ApiServices, query: LoraListQuery) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "sdLoraFileName": e.name,
            "sdLoraFileSimplifyName": e.stem,
            "loraName": e.metadata.get("ss_output_name") or e.stem,
            "modelBaseModel": e.base_model,
            "triggerWords": e.trigger_words,
            "loraImgUrl": preview_url(services, e),
            "sha256": e.sha256,
        }
        for e in services.catalog.entries("lora")
        if _contains(e.stem, query.sdLoraFileSimplifyName)
        and (query.modelBaseModel is None or e.base_model == query.modelBaseModel)
    ]


def vae_rows(services: ApiServices, query: VaeListQuery) -> list[dict[str, Any]]:
    return [
        {"id": e.id, "sdVae": e.name, "vaeName": e.stem, "modelBaseModel": e.base_model}
        for e in services.catalog.entries("vae")
        if query.modelBaseModel is None or e.base_model == query.modelBaseModel
    ]


def embedding_rows(services: ApiServices, query: EmbeddingListQuery) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "embeddingName": e.stem,
            "fileName": e.name,
            "modelBaseModel": e.base_model,
            "vectors": e.details.get("vectors"),
        }
        for e in services.catalog.entries("embedding")
        if query.modelBaseModel is None or e.base_model == query.modelBaseModel
    ]


def build_model_router(prefix: str) -> APIRouter:
    router = APIRouter(tags=["models"], route_class=LeanRoute)

    def listing(path: str, query_model: type[Page], rows: Callable[..., list[dict[str, Any]]], row: type) -> None:
        async def endpoint(body: Any, key: KeyDep, services: ServicesDep) -> Response:
            found = await run_in_threadpool(rows, services, body)
            return ok(_page(found, body))

        endpoint.__annotations__["body"] = query_model
        router.add_api_route(
            prefix + path,
            endpoint,
            methods=["POST"],
            summary=f"List {path.rsplit('query', 1)[-1].removesuffix('List').lower()}s",
            responses=documented(Paged[row]),  # type: ignore[valid-type]
            operation_id=path.strip("/").replace("/", "_"),
        )

    listing("/sd/v2/queryModelList", ModelListQuery, model_rows, ModelRow)
    listing("/sd/v2/queryLoraList", LoraListQuery, lora_rows, LoraRow)
    listing("/sd/v2/queryVaeList", VaeListQuery, vae_rows, VaeRow)
    listing("/sd/v2/queryEmbeddingList", EmbeddingListQuery, embedding_rows, EmbeddingRow)

    @router.post(
        prefix + "/sd/v2/unloadModels",
        summary="Unload every cached model not in use",
        responses=documented(UnloadAnswer),
    )
    async def unload(key: KeyDep, services: ServicesDep) -> Response:
        return ok(await run_in_threadpool(services.executor.unload_models))

    @router.get(
        PREVIEW_ROUTE + "{entry_id}",
        summary="A model's preview image",
        response_class=FileResponse,
        responses={
            200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}, "description": "The image."},
            404: {"model": NotFound, "description": "No such model, or it has no preview."},
        },
    )
    async def preview(entry_id: str, services: ServicesDep) -> Response:
        entry = await run_in_threadpool(services.catalog.by_id, int(entry_id)) if entry_id.isdigit() else None
        if entry is None or entry.preview is None:
            return JSONResponse({"detail": "no preview"}, status_code=404)
        return FileResponse(entry.preview)

    return router
