"""How a task reads in query answers and callbacks (the same envelope for both, API.md 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imgopen.db.tables import Task
from imgopen.storage.base import Storage
from imgopen.tasks.states import tool_status
from imgopen.tasks.store import TaskStore
from imgopen.tools.registry import ToolRegistry

Renderer = Callable[[Task], dict[str, Any]]


def success(data: Any) -> dict[str, Any]:
    return {"code": "200", "msg": "success", "data": data}


class TaskViews:
    def __init__(self, store: TaskStore, storage: Storage, tools: ToolRegistry) -> None:
        self._store = store
        self._storage = storage
        self._tools = tools
        self._by_kind: dict[str, Renderer] = {"tool": self.tool}

    @property
    def file_context(self) -> dict[str, Any]:
        """Serialization context that turns stored-file keys into (signed) URLs."""
        return {"file_url": self._storage.url}

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
            view.update(self.render_result(task.tool_code, task.result))
        return view

    def render_result(self, tool_code: str, result: dict[str, Any]) -> dict[str, Any]:
        tool = self._tools.get(tool_code)
        extra = {k: v for k, v in result.items() if k == "warnings"}
        if tool is None:
            return dict(result)
        model = tool.result_model.model_validate(result)
        rendered: dict[str, Any] = model.model_dump(mode="json", context=self.file_context)
        return {**rendered, **extra}
