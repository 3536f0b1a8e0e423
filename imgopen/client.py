"""A Python client for an imgopen server (or the hosted Img Open API): one method per endpoint.

from imgopen.client import Client
client = Client("http://127.0.0.1:8000", "ak...", "secret")
task = client.img_enlarge("my-task-1", source_image="https://example.com/a.png", scale=2)
done = client.wait(task)
print(done["outputImageUrl"])
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from imgopen.client_wire import HttpStatusError, Wire

__all__ = ["ApiError", "Client", "HttpStatusError", "TaskHandle", "WaitTimeout"]

BASE_PATH = "/AIGCImgOpenServ/saas"
TOOL_FINAL = {1, 2, 3}
SD_FINAL = {2, 4, 5}
_JSON_BODY = {"Content-Type": "application/json"}


class ApiError(Exception):
    """An answer whose `code` is not "200"."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


class WaitTimeout(TimeoutError):
    def __init__(self, handle: TaskHandle, last: dict[str, Any]) -> None:
        super().__init__(f"task {handle.business_task_id} still {last.get('state')} after the timeout")
        self.last = last


@dataclass(frozen=True)
class TaskHandle:
    """What a submit returns: enough to query, cancel and wait."""

    kind: str  # "tool" | "sd" | "training"
    business_task_id: str
    task_id: str
    tool_code: str = ""


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Client:
    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        timeout: float = 60.0,
    ) -> None:
        self._http = Wire(
            base_url.rstrip("/") + BASE_PATH,
            {"X-Request-req-accessKeyId": access_key_id, "X-Request-req-accessKeySecret": access_key_secret},
            timeout=timeout + 60,  # long-polling queries hold the answer for up to 60 s
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the wire ---------------------------------------------------------------------------------
    def envelope(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST body to path; the whole envelope, whatever its code."""
        # orjson: a body with an inline image is half a megabyte of JSON, which the standard
        # library takes a millisecond to escape; orjson a few hundredths.
        answer: dict[str, Any] = orjson.loads(self._http.post(path, orjson.dumps(body), _JSON_BODY))
        return answer

    def call(self, path: str, body: dict[str, Any]) -> Any:
        """POST body to path; `data` of the answer, or ApiError."""
        answer = self.envelope(path, body)
        if str(answer.get("code")) != "200":
            raise ApiError(str(answer.get("code")), str(answer.get("msg")))
        return answer.get("data")

    # --- tools ------------------------------------------------------------------------------------
    def submit_tool(
        self, tool_code: str, business_task_id: str, callback_url: str | None = None, **params: Any
    ) -> TaskHandle:
        body = {"businessTaskId": business_task_id, **_drop_none(params)}
        if callback_url:
            body["callbackUrl"] = callback_url
        data = self.call(f"/tool/{tool_code}", body)
        return TaskHandle("tool", data["businessTaskId"], data["taskId"], tool_code)

    def query_tool(self, tool_code: str, business_task_id: str, wait_seconds: float = 0) -> dict[str, Any]:
        """The task's state; with wait_seconds, the server holds the answer until it has ended."""
        body: dict[str, Any] = {"businessTaskId": business_task_id}
        if wait_seconds:
            body["waitSeconds"] = wait_seconds
        data: dict[str, Any] = self.call(f"/tool/{tool_code}/queryTask", body)
        return data

    def cancel_tool(self, tool_code: str, business_task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call(f"/tool/{tool_code}/cancelTask", {"businessTaskId": business_task_id})
        return data

    def img_enlarge(
        self,
        business_task_id: str,
        source_image: str,
        scale: float | None = None,
        target_width: int | None = None,
        target_height: int | None = None,
        output_format: str | None = None,
        callback_url: str | None = None,
        model: str | None = None,
    ) -> TaskHandle:
        return self.submit_tool(
            "imgEnlarge",
            business_task_id,
            callback_url,
            sourceImage=source_image,
            scale=scale,
            targetWidth=target_width,
            targetHeight=target_height,
            outputFormat=output_format,
            model=model,
        )

    def watermark(
        self,
        business_task_id: str,
        source_image: str,
        text: str | None = None,
        watermark_image: str | None = None,
        position: str | None = None,
        opacity: float | None = None,
        font_size: int | None = None,
        invisible_text: str | None = None,
        output_format: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> TaskHandle:
        return self.submit_tool(
            "watermark",
            business_task_id,
            callback_url,
            sourceImage=source_image,
            text=text,
            watermarkImage=watermark_image,
            position=position,
            opacity=opacity,
            fontSize=font_size,
            invisibleText=invisible_text,
            outputFormat=output_format,
            **extra,
        )

    def watermark_decode(self, business_task_id: str, source_image: str, callback_url: str | None = None) -> TaskHandle:
        return self.submit_tool("watermark/decode", business_task_id, callback_url, sourceImage=source_image)

    def flux_text2image(
        self,
        business_task_id: str,
        prompt: str,
        comfy_task_type: str = "Flux1DevFP8",
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        flux_guidance: float | None = None,
        seed: int | None = None,
        callback_url: str | None = None,
    ) -> TaskHandle:
        return self.submit_tool(
            "comfyui/text2image",
            business_task_id,
            callback_url,
            comfyTaskType=comfy_task_type,
            prompt=prompt,
            width=width,
            height=height,
            steps=steps,
            fluxGuidance=flux_guidance,
            seed=seed,
        )

    def roop(self, business_task_id: str, source_url: str, target_url: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("roop", business_task_id, sourceUrl=source_url, targetUrl=target_url, **fields)

    def roop_v2(
        self, business_task_id: str, source_url: str, target_url: str, fidelity_weight: str = "0.5", **fields: Any
    ) -> TaskHandle:
        return self.submit_tool(
            "v2/roop",
            business_task_id,
            sourceUrl=source_url,
            targetUrl=target_url,
            fidelityWeight=fidelity_weight,
            **fields,
        )

    def face_fusion(
        self, business_task_id: str, source_url: list[str], target_url: str, face_idx: Any = None, **fields: Any
    ) -> TaskHandle:
        return self.submit_tool(
            "face/fusion", business_task_id, sourceUrl=source_url, targetUrl=target_url, faceIdx=face_idx, **fields
        )

    def face_detection(self, business_task_id: str, image_url: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("face/detection", business_task_id, imageUrl=image_url, **fields)

    def codeformer(self, business_task_id: str, source_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("codeformer", business_task_id, sourceImage=source_image, **fields)

    def instant_id(self, business_task_id: str, image: str, prompt: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("instantID", business_task_id, image=image, prompt=prompt, **fields)

    def hair_change(self, business_task_id: str, source_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("hair/change", business_task_id, sourceImage=source_image, **fields)

    def remove_background(self, business_task_id: str, source_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("removeBg", business_task_id, sourceImage=source_image, **fields)

    def super_resolution(self, business_task_id: str, source_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("superResolution", business_task_id, sourceImage=source_image, **fields)

    def erase(self, business_task_id: str, source_image: str, mask_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("erase", business_task_id, sourceImage=source_image, maskImage=mask_image, **fields)

    def expand(self, business_task_id: str, source_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("imgExpand", business_task_id, sourceImage=source_image, **fields)

    def controlnet_preview(
        self, business_task_id: str, source_image: str, preprocessor: str, **fields: Any
    ) -> TaskHandle:
        return self.submit_tool(
            "cnt/preview", business_task_id, sourceImage=source_image, preprocessor=preprocessor, **fields
        )

    def interrogate(self, business_task_id: str, image: str, model: str = "clip", **fields: Any) -> TaskHandle:
        return self.submit_tool("interrogate", business_task_id, image=image, model=model, **fields)

    def identify_style(self, business_task_id: str, source_image: str, **fields: Any) -> TaskHandle:
        return self.submit_tool("identifyStyle", business_task_id, sourceImage=source_image, **fields)

    def expand_prompt(self, business_task_id: str, source_prompt: str, **fields: Any) -> dict[str, Any]:
        """Synchronous: the answer carries the prompts."""
        body = {"businessTaskId": business_task_id, "sourcePrompt": source_prompt, **_drop_none(fields)}
        data: dict[str, Any] = self.call("/tool/prompts/expand", body)
        return data

    # --- SD generation ----------------------------------------------------------------------------
    def _sd(self, mode: str, body: dict[str, Any]) -> TaskHandle:
        data = self.call(f"/sd/v2/{mode}", _drop_none(body))
        return TaskHandle("sd", data["task_id"], data["task_id"])

    def text2image(self, prompt: str, batch_size: int = 1, **fields: Any) -> TaskHandle:
        """A1111 field names in `fields` (negative_prompt, steps, seed, sd_model_checkpoint...)."""
        return self._sd("text2image", {"prompt": prompt, "batch_size": batch_size, **fields})

    def image2image(self, prompt: str, image_link: str, batch_size: int = 1, **fields: Any) -> TaskHandle:
        return self._sd("image2image", {"prompt": prompt, "image_link": image_link, "batch_size": batch_size, **fields})

    def controlnet(self, prompt: str, units: list[dict[str, Any]], batch_size: int = 1, **fields: Any) -> TaskHandle:
        body = {"prompt": prompt, "controlnet": {"args": units}, "batch_size": batch_size, **fields}
        return self._sd("controlnet", body)

    def query_sd(self, task_id: str, wait_seconds: float = 0, v1: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"businessTaskId": task_id}
        if wait_seconds:
            body["waitSeconds"] = wait_seconds
        data: dict[str, Any] = self.call("/sd/queryTaskInfo" if v1 else "/sd/v2/queryTaskInfo", body)
        return data

    def cancel_sd(self, task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("/sd/v2/cancelTask", {"businessTaskId": task_id})
        return data

    def _list(self, path: str, page_size: int, page_num: int, filters: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self.call(path, {"pageSize": page_size, "pageNum": page_num, **_drop_none(filters)})
        return data

    def models(self, page_size: int = 100, page_num: int = 1, **filters: Any) -> dict[str, Any]:
        return self._list("/sd/v2/queryModelList", page_size, page_num, filters)

    def loras(self, page_size: int = 100, page_num: int = 1, **filters: Any) -> dict[str, Any]:
        return self._list("/sd/v2/queryLoraList", page_size, page_num, filters)

    def vaes(self, page_size: int = 100, page_num: int = 1, **filters: Any) -> dict[str, Any]:
        return self._list("/sd/v2/queryVaeList", page_size, page_num, filters)

    def embeddings(self, page_size: int = 100, page_num: int = 1, **filters: Any) -> dict[str, Any]:
        return self._list("/sd/v2/queryEmbeddingList", page_size, page_num, filters)

    # --- training ---------------------------------------------------------------------------------
    def train_lora(self, task_id: str, file_urls: list[str], **fields: Any) -> TaskHandle:
        """camelCase field names in `fields` (pretrainedModel, maxEpochs, triggerWord...)."""
        data = self.call("/modelTraining/submitTraining/Job", {"taskId": task_id, "fileUrlList": file_urls, **fields})
        return TaskHandle("training", data["taskId"], data["task_id"])

    def query_training(self, task_id: str, wait_seconds: float = 0) -> dict[str, Any]:
        body: dict[str, Any] = {"taskId": task_id}
        if wait_seconds:
            body["waitSeconds"] = wait_seconds
        data: dict[str, Any] = self.call("/modelTraining/queryTraining/Job", body)
        return data

    def cancel_training(self, task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("/modelTraining/cancelTraining/Job", {"taskId": task_id})
        return data

    # --- any task ---------------------------------------------------------------------------------
    def query(self, handle: TaskHandle, wait_seconds: float = 0) -> dict[str, Any]:
        if handle.kind == "tool":
            return self.query_tool(handle.tool_code, handle.business_task_id, wait_seconds)
        if handle.kind == "sd":
            return self.query_sd(handle.business_task_id, wait_seconds)
        if handle.kind == "training":
            return self.query_training(handle.business_task_id, wait_seconds)
        raise ValueError(f"unknown task kind {handle.kind!r}")

    def cancel(self, handle: TaskHandle) -> dict[str, Any]:
        if handle.kind == "tool":
            return self.cancel_tool(handle.tool_code, handle.business_task_id)
        if handle.kind == "sd":
            return self.cancel_sd(handle.business_task_id)
        if handle.kind == "training":
            return self.cancel_training(handle.business_task_id)
        raise ValueError(f"unknown task kind {handle.kind!r}")

    def wait(self, handle: TaskHandle, timeout: float = 300.0) -> dict[str, Any]:
        """The task's answer once it has ended (success, failed or cancelled), by long polling."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            answer = self.query(handle, wait_seconds=max(0.0, min(left, 30.0)))
            if answer.get("state") in ("success", "failed", "cancelled"):
                return answer
            if time.monotonic() >= deadline:
                raise WaitTimeout(handle, answer)
            if answer.get("state") is None:  # a server without long polling: do not spin
                time.sleep(0.5)

    def download(self, url: str) -> bytes:
        """The bytes of an output URL (absolute, from a result)."""
        response = httpx.get(url, timeout=60, trust_env=False)
        response.raise_for_status()
        return response.content
