"""The kinds of task, declared once: their names in the task table and where their tasks run. The
API submits with them, the views render by them, a worker picks a handler by them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskKind:
    name: str  # the tasks table's `kind`
    pool: str  # the pool its tasks run in; "" for tools: each tool's spec says
    summary: str


TOOL = TaskKind("tool", "", "an image tool (tool/{toolCode})")
SD = TaskKind("sd", "gpu", "a Stable Diffusion generation (sd/v2/...)")
TRAINING = TaskKind("training", "train", "a LoRA training (modelTraining/...)")
KINDS = (TOOL, SD, TRAINING)
