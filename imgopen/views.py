"""How a task reads in query answers and callbacks (the same envelope for both, API.md 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imgopen.db.tables import Task
from imgopen.engine.results import SdResult
from imgopen.storage.base import Storage
from imgopen.tasks.kinds import SD, TOOL, TRAINING
from imgopen.tasks.states import TaskState, sd_status, tool_status
from imgopen.tasks.store import TaskStore
from imgopen.tools.registry import AnySpec, ToolLookup
from imgopen.training.results import TrainingResult

Renderer = Callable[[Task], dict[str, Any]]


def success(data: Any) -> dict[str, Any]:
    return {"code": "200", "msg": "success", "data": data}


class TaskViews:
    def __init__(self, store: TaskStore, storage: Storage, tools: ToolLookup[AnySpec]) -> None:
        self._store = store
        self._storage = storage
        self._tools = tools
        self._by_kind: dict[str, Renderer] = {TOOL.name: self.tool, SD.name: self.sd_v2, TRAINING.name: self.training}

    @property
    def file_context(self) -> dict[str, Any]:
        """Serialization context that turns stored-file keys into (signed) URLs."""
        return {"file_url": self._storage.url}

    def _files_of(self, task: Task) -> dict[str, Any]:
        """The context for this task's files: no URLs once retention deleted them."""
        return {"file_url": lambda _key: None} if task.files_expired_at else self.file_context

    def register(self, kind: str, renderer: Renderer) -> None:
        """Kinds other than tools (SD generation, training) add their own view."""
        self._by_kind[kind] = renderer

    def callback_envelope(self, task: Task) -> dict[str, Any]:
        return success(self._by_kind[task.kind](task))

    def common(self, task: Task) -> dict[str, Any]:
        """The [beyond] fields of API.md section 2, in every query answer."""
        return {
            "state": task.state,
            "progress": round(task.progress, 4),
            "queuePosition": self._store.queue_position(task),
            "errorMsg": task.error_msg,
            "errorCode": task.error_code,
            "attempts": task.attempts,
            "createdAt": task.created_at,
            "startedAt": task.started_at,
            "finishedAt": task.finished_at,
            # Retention deleted the task's files: its URLs are gone, not broken.
            "filesExpired": task.files_expired_at is not None,
        }

    def tool(self, task: Task) -> dict[str, Any]:
        view: dict[str, Any] = {
            "businessTaskId": task.business_task_id,
            "taskId": task.id,
            "toolCode": task.tool_code,
            "status": tool_status(task.state),
            **self.common(task),
            "outputImageUrl": None,
            "outputImageUrls": [],
        }
        if task.result:
            view.update(self.render_result(task.tool_code, task.result, self._files_of(task)))
        if task.files_expired_at:
            view["outputImageUrls"] = []
        return view

    def render_result(
        self, tool_code: str, result: dict[str, Any], files: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        tool = self._tools.get(tool_code)
        extra = {k: v for k, v in result.items() if k == "warnings"}
        if tool is None:
            return dict(result)
        model = tool.result_model.model_validate(result)
        rendered: dict[str, Any] = model.model_dump(mode="json", context=files or self.file_context)
        return {**rendered, **extra}

    # --- SD generation (API.md 4) ---------------------------------------------------------------
    def _sd(self, task: Task) -> dict[str, Any]:
        images: list[dict[str, Any]] = []
        info: dict[str, Any] | None = None
        if task.result:
            result = SdResult.model_validate(task.result)
            info = result.info
            for image in [] if task.files_expired_at else result.images:
                images.append(
                    {
                        "image_url": self._storage.url(image.image),
                        "seed": image.seed,
                        "image_status": 1,
                        "img_audit_status": True,
                        "img_audit": [{"confidence": None, "label": "nonLabel"}],
                    }
                )
        desc = {"queued": "queued", "running": "running", "success": "success", "cancelled": "cancelled"}.get(
            task.state, task.error_msg or task.state
        )
        view: dict[str, Any] = {
            "status": sd_status(task.state),
            "desc": desc,
            "differentialImageRspList": images,
            **self.common(task),
            "info": info,
        }
        if task.result and task.result.get("warnings"):
            view["warnings"] = task.result["warnings"]
        return view

    def sd_v1(self, task: Task) -> dict[str, Any]:
        return {"task_id": task.business_task_id, **self._sd(task)}

    def sd_v2(self, task: Task) -> dict[str, Any]:
        return {"id_task": task.business_task_id, **self._sd(task), "temporaryImageDto": self._temporary(task)}

    def _temporary(self, task: Task) -> dict[str, Any] | None:
        """While running: progress, step, ETA and the latest preview."""
        if task.state != TaskState.RUNNING.value:
            return None
        info = task.progress_info or {}
        preview = info.get("previewKey")
        return {
            "progress": round(task.progress, 4),
            "step": info.get("step", 0),
            "totalSteps": info.get("totalSteps"),
            "etaSeconds": info.get("etaSeconds"),
            "currentImageUrl": self._storage.url(preview) if preview else None,
        }

    # --- training (API.md 5) ----------------------------------------------------------------------
    def training(self, task: Task) -> dict[str, Any]:
        info = task.progress_info or {}
        result: dict[str, Any] = {}
        if task.result and task.state == TaskState.SUCCESS.value:
            result = TrainingResult.model_validate(task.result).model_dump(mode="json", context=self._files_of(task))
        view: dict[str, Any] = {
            "taskId": task.business_task_id,
            "status": tool_status(task.state),
            **self.common(task),
            "epoch": info.get("epoch", result.get("epochs")),
            "step": info.get("step", result.get("steps")),
            "totalSteps": info.get("totalSteps", result.get("steps")),
            "loss": info.get("loss", (result.get("epochLosses") or [None])[-1]),
            "loraFileName": None,
            "loraUrl": None,
            "sdLoraFileSimplifyName": None,
            **result,
        }
        if task.result and task.result.get("warnings"):
            view["warnings"] = task.result["warnings"]
        return view
