"""Coalesced generation (IMGOPEN_COALESCE_MAX): compatible text2image requests run as one denoising
batch, and each one still gets exactly the images it gets alone with the same seeds, its own progress
and its own cancel. Pixels are compared within 2 of 255 (the UNet's batch dimension changes the order
of fp32 sums, nothing else)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imgopen.catalog.catalog import ModelCatalog
from imgopen.config import Settings
from imgopen.db.engine import open_database
from imgopen.engine.params import Text2ImageParams
from imgopen.engine.results import SdResult
from imgopen.engine.service import DiffusionEngine
from imgopen.services import build_services
from imgopen.tasks.context import StopReason, TaskCancelled, TaskContext
from imgopen.testing.direct import direct_context
from imgopen.testing.images import decode
from tests.conftest import Served, SettingsFactory
from tests.engine.test_sd_api import generate, images_of

TOLERANCE = 2
BODY: dict[str, Any] = {"steps": 4, "width": 64, "height": 64, "sd_model_checkpoint": "tiny-sd15"}
REQUESTS: list[dict[str, Any]] = [
    {**BODY, "prompt": "a red cat", "seed": 5, "batch_size": 1},
    {**BODY, "prompt": "a blue dog on a long and winding road", "seed": 900, "batch_size": 2},
    {**BODY, "prompt": "a green tree", "negative_prompt": "blurry", "seed": 77, "batch_size": 1},
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> DiffusionEngine:
    root = tmp_path_factory.mktemp("coalesce")
    settings = Settings(data_dir=root, models_dir=tiny_models, database_url="sqlite://", coalesce_max=8)
    return DiffusionEngine(ModelCatalog(tiny_models.resolve(), open_database(settings), 0), settings)


def saved(engine: DiffusionEngine, result: SdResult) -> list[np.ndarray]:
    ctx = direct_context(engine.settings)
    return [np.asarray(decode(ctx.storage.get(row.image)).convert("RGB"), np.int16) for row in result.images]


def close(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.abs(x - y).max() <= TOLERANCE for x, y in zip(a, b, strict=True))


def run_batch(
    engine: DiffusionEngine, bodies: list[dict[str, Any]], contexts: list[TaskContext]
) -> dict[int, SdResult | BaseException]:
    outcomes: dict[int, SdResult | BaseException] = {}

    def done(index: int, outcome: SdResult | BaseException) -> None:
        assert index not in outcomes, "an outcome reported twice"
        outcomes[index] = outcome

    jobs = [(Text2ImageParams.model_validate(body), ctx) for body, ctx in zip(bodies, contexts, strict=True)]
    engine.generate_batch(jobs, done)
    return outcomes


def test_each_request_of_a_batch_gets_the_images_it_gets_alone(engine: DiffusionEngine) -> None:
    alone = [
        saved(engine, engine.generate(Text2ImageParams.model_validate(body), direct_context(engine.settings)))
        for body in REQUESTS
    ]
    reports: list[list[float]] = [[] for _ in REQUESTS]
    contexts = []
    for index in range(len(REQUESTS)):

        def sink(fraction: float, info: dict[str, Any] | None, index: int = index) -> None:
            reports[index].append(fraction)

        base = direct_context(engine.settings, f"batch-{index}")
        contexts.append(TaskContext(base.task_id, "direct", engine.settings, base.inputs, base.storage, sink, None, 0))
    outcomes = run_batch(engine, REQUESTS, contexts)
    assert sorted(outcomes) == [0, 1, 2]
    for index, outcome in outcomes.items():
        assert isinstance(outcome, SdResult), outcome
        assert outcome.info["batch_tasks"] == 3
        assert [row.seed for row in outcome.images] == [s + REQUESTS[index]["seed"] for s in range(len(alone[index]))]
        assert close(saved(engine, outcome), alone[index]), f"request {index}: not its own images"
        assert reports[index][-1] > 0.5 and reports[index] == sorted(reports[index]), "its own progress"
    # Different images for different requests: the batch did not hand one request's images to all.
    assert np.abs(alone[0][0] - alone[2][0]).mean() > 5


def test_a_cancelled_member_ends_at_once_and_the_others_finish(engine: DiffusionEngine) -> None:
    bodies = [{**body, "steps": 6} for body in REQUESTS]
    alone_last = saved(
        engine, engine.generate(Text2ImageParams.model_validate(bodies[2]), direct_context(engine.settings))
    )
    contexts: list[TaskContext] = []
    for index in range(len(bodies)):
        base = direct_context(engine.settings, f"cancel-{index}")
        calls = [0]

        def sink(fraction: float, info: dict[str, Any] | None, index: int = index, calls: list[int] = calls) -> None:
            calls[0] += 1
            if index == 1 and calls[0] == 3:  # the second request is cancelled after its second step
                contexts[1].stop.set(StopReason.CANCEL)

        contexts.append(TaskContext(base.task_id, "direct", engine.settings, base.inputs, base.storage, sink, None, 0))
    outcomes = run_batch(engine, bodies, contexts)
    assert isinstance(outcomes[1], TaskCancelled)
    assert isinstance(outcomes[0], SdResult) and isinstance(outcomes[2], SdResult)
    assert close(saved(engine, outcomes[2]), alone_last)


def test_incompatible_requests_each_run_alone(engine: DiffusionEngine) -> None:
    bodies = [REQUESTS[0], {**REQUESTS[2], "steps": 5}]  # other step counts: no shared batch
    contexts = [direct_context(engine.settings, f"apart-{index}") for index in range(2)]
    outcomes = run_batch(engine, bodies, contexts)
    for outcome in outcomes.values():
        assert isinstance(outcome, SdResult) and outcome.info["batch_tasks"] == 1


# --- through the server: the queue's compatible tasks are claimed and run together -------------------
@pytest.fixture(scope="module")
def sd(make_settings: SettingsFactory, tiny_models: Path) -> Iterator[Served]:
    running = Served(build_services(make_settings(models_dir=tiny_models, coalesce_max=4)))
    yield running
    running.stop()


def test_queued_compatible_tasks_run_as_one_batch_over_http(sd: Served) -> None:
    # A longer task (other steps: not compatible) holds the GPU worker while three compatible ones queue behind it.
    blocker = sd.client.call("/sd/v2/text2image", {**BODY, "prompt": "x", "batch_size": 1, "steps": 30})
    ids = [sd.client.call("/sd/v2/text2image", body)["task_id"] for body in REQUESTS]
    answers = []
    for task_id in ids:
        deadline = time.monotonic() + 180
        while True:
            answer = sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": task_id, "waitSeconds": 30})
            if answer["state"] in ("success", "failed", "cancelled") or time.monotonic() > deadline:
                break
        answers.append(answer)
    first = sd.client.call("/sd/v2/queryTaskInfo", {"businessTaskId": blocker["task_id"]})
    assert first["state"] == "success", first
    batched = [images_of(answer) for answer in answers]
    assert [answer["info"]["batch_tasks"] for answer in answers] == [3, 3, 3], "they did not run together"
    # The same requests one at a time (nothing queued with them): the same pixels.
    for body, got in zip(REQUESTS, batched, strict=True):
        answer = generate(sd.client, "/sd/v2/text2image", body)
        assert answer["info"]["batch_tasks"] == 1
        assert close(got, images_of(answer))
