"""API overhead, measured in one run against one server process:

1. submits per second of `tool/imgEnlarge` against a bare FastAPI route in the same server that
   parses the same JSON into the same request model and answers an envelope (goal: ratio >= 0.5);
2. end-to-end imgEnlarge latency through the API (submit, then poll queryTask until done)
   against calling the tool's run() directly with the same input (goal: overhead < 20 ms at the
   median).

Usage: python bench/api.py [--seconds 5] [--concurrency 8] [--rounds 30]
(`python bench/api.py --serve PORT DATA_DIR` is the server half; the main run starts it.)
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BASE = "/AIGCImgOpenServ/saas"


def serve(port: int, data_dir: Path) -> None:
    """The server: the real app, plus the bare route the submit path is compared with."""
    import uvicorn
    from fastapi.responses import Response

    from imgopen.api.app import create_app
    from imgopen.api.envelope import ok
    from imgopen.api.routes.tools import tool_request_model
    from imgopen.config import Settings
    from imgopen.services import build_services

    settings = Settings(data_dir=data_dir, port=port, create_first_key=False, cpu_workers=2)
    services = build_services(settings)
    created = services.keys.create("bench")
    (data_dir / "key.json").write_text(json.dumps({"id": created.id, "secret": created.secret}))
    app = create_app(services)
    tool = services.tools.get("imgEnlarge")
    assert tool is not None
    model: Any = tool_request_model(tool)

    @app.post("/bench/bare")
    async def bare(body: model) -> Response:
        return ok(
            {"task_id": body.businessTaskId, "taskId": body.businessTaskId, "businessTaskId": body.businessTaskId}
        )

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def small_image_uri(size: int) -> str:
    from imgopen.testing.images import astronaut, data_uri, encode

    return data_uri(encode(astronaut().resize((size, size))))


async def hammer(client: httpx.AsyncClient, path: str, body_for: Any, seconds: float, concurrency: int) -> float:
    """Requests per second with `concurrency` requests in flight for `seconds`."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def one_lane() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            answer = (await client.post(path, json=body_for())).json()
            assert answer["code"] == "200", answer
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(one_lane() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def throughput(base_url: str, headers: dict[str, str], seconds: float, concurrency: int) -> tuple[float, float]:
    image = small_image_uri(32)

    def body() -> dict[str, Any]:
        return {"businessTaskId": uuid.uuid4().hex, "sourceImage": image, "scale": 2}

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, trust_env=False) as client:
        await hammer(client, "/bench/bare", body, 1.0, concurrency)  # warm up both paths
        await hammer(client, BASE + "/tool/imgEnlarge", body, 1.0, concurrency)
        bare, submit = [], []
        for _ in range(3):  # interleaved, so drift hits both alike
            bare.append(await hammer(client, "/bench/bare", body, seconds / 3, concurrency))
            submit.append(await hammer(client, BASE + "/tool/imgEnlarge", body, seconds / 3, concurrency))
    return statistics.median(bare), statistics.median(submit)


def wait_idle(base_url: str, headers: dict[str, str]) -> None:
    """Let the workers drain what the throughput run queued."""
    while True:
        metrics = httpx.get(base_url + "/metrics", trust_env=False).text
        busy = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("imgopen_tasks{") and ('state="queued"' in line or 'state="running"' in line)
        )
        if busy == 0:
            return
        time.sleep(0.5)


def latency(base_url: str, headers: dict[str, str], data_dir: Path, rounds: int) -> tuple[float, float]:
    from imgopen.config import Settings
    from imgopen.testing.direct import direct_context
    from imgopen.tools.img_enlarge import ImgEnlargeParams, ImgEnlargeTool

    image = small_image_uri(256)
    tool = ImgEnlargeTool()
    ctx = direct_context(Settings(data_dir=data_dir / "direct"))
    direct, api = [], []
    with httpx.Client(base_url=base_url + BASE, headers=headers, trust_env=False) as client:
        for index in range(rounds + 3):
            started = time.perf_counter()
            tool.run(ImgEnlargeParams(sourceImage=image, scale=2), ctx)
            direct_ms = (time.perf_counter() - started) * 1000

            business_id = uuid.uuid4().hex
            started = time.perf_counter()
            answer = client.post(
                "/tool/imgEnlarge", json={"businessTaskId": business_id, "sourceImage": image, "scale": 2}
            )
            assert answer.json()["code"] == "200", answer.text
            while True:
                state = client.post("/tool/imgEnlarge/queryTask", json={"businessTaskId": business_id}).json()
                if state["data"]["state"] in ("success", "failed"):
                    break
                time.sleep(0.001)
            api_ms = (time.perf_counter() - started) * 1000
            assert state["data"]["state"] == "success", state
            if index >= 3:  # the first rounds warm caches up
                direct.append(direct_ms)
                api.append(api_ms)
    return statistics.median(direct), statistics.median(api)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6.0, help="time per throughput measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=30, help="end-to-end latency samples")
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]))
        return

    from imgopen.testing.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp), free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(data_dir)])
        try:
            deadline = time.monotonic() + 60
            while not (data_dir / "key.json").exists() or not _answers(base_url):
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
            key = json.loads((data_dir / "key.json").read_text())
            headers = {"X-Request-req-accessKeyId": key["id"], "X-Request-req-accessKeySecret": key["secret"]}
            bare, submit = asyncio.run(throughput(base_url, headers, args.seconds, args.concurrency))
            wait_idle(base_url, headers)
            direct_ms, api_ms = latency(base_url, headers, data_dir, args.rounds)
        finally:
            server.terminate()
            server.wait(30)
    print(
        f"submits/s  bare route {bare:8.1f}   tool/imgEnlarge {submit:8.1f}   ratio {submit / bare:.2f} (goal >= 0.5)"
    )
    print(
        f"imgEnlarge 256->512 median: direct {direct_ms:.1f} ms   through the API {api_ms:.1f} ms   "
        f"overhead {api_ms - direct_ms:.1f} ms (goal < 20 ms)"
    )


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/healthz", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
