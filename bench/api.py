"""API overhead, measured in one run:

1. submits per second of `tool/imgEnlarge` against a bare FastAPI route in the same server that
   parses the same JSON into the same request model and answers an envelope (goal: ratio >= 0.5).
   The load comes from wrk when it is installed (a C load generator that leaves the CPU to the
   server), else from an httpx client. The server's workers are off for this part, so running
   the submitted tasks does not take CPU from the API on a small machine.
2. end-to-end imgEnlarge latency through the API (submit, then a long-polling queryTask that
   answers when the task has ended) against calling the tool's run() directly with the same
   input (goal: overhead < 20 ms at the median).

Usage: python bench/api.py [--seconds 6] [--concurrency 8] [--rounds 30]
(`python bench/api.py --serve PORT DATA_DIR WORKERS` is the server half; the main run starts it.)

No `from __future__ import annotations`: FastAPI reads the bare route's annotation at run time.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BASE = "/AIGCImgOpenServ/saas"
KEYS = 64
Keys = list[dict[str, str]]


def serve(port: int, data_dir: Path, workers: int) -> None:
    """The server: the real app, plus the bare route the submit path is compared with."""
    import uvicorn
    from fastapi.responses import Response

    from imgopen.api.app import create_app
    from imgopen.api.envelope import ok
    from imgopen.api.routes.tools import tool_request_model
    from imgopen.config import Settings
    from imgopen.services import build_services

    settings = Settings(data_dir=data_dir, port=port, create_first_key=False, cpu_workers=workers)
    services = build_services(settings)
    # Many clients, as a server has: with the workers off the queue grows by thousands, and one
    # key would reach its limit of active tasks (the per-key check runs on every submit all the same).
    keys = [services.keys.create(f"bench-{index}") for index in range(KEYS)]
    (data_dir / "keys.json").write_text(json.dumps([{"id": key.id, "secret": key.secret} for key in keys]))
    app = create_app(services)
    tool = services.tools.get("imgEnlarge")
    assert tool is not None
    model: Any = tool_request_model(tool)

    @app.post("/bench/bare")
    async def bare(body: model) -> Response:
        task_id = body.businessTaskId
        return ok({"task_id": task_id, "taskId": task_id, "businessTaskId": task_id})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def auth_headers(key: dict[str, str]) -> dict[str, str]:
    return {"X-Request-req-accessKeyId": key["id"], "X-Request-req-accessKeySecret": key["secret"]}


def small_image_uri(size: int) -> str:
    from imgopen.testing.images import astronaut, data_uri, encode

    return data_uri(encode(astronaut().resize((size, size))))


@contextmanager
def running_server(workers: int) -> Iterator[tuple[str, Keys, Path]]:
    from imgopen.testing.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp), free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(data_dir), str(workers)])
        try:
            deadline = time.monotonic() + 60
            while not (data_dir / "keys.json").exists() or not _answers(base_url):
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
            yield base_url, json.loads((data_dir / "keys.json").read_text()), data_dir
        finally:
            server.terminate()
            server.wait(30)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/healthz", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


# --- throughput -----------------------------------------------------------------------------------
WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function init(args)
  counter, failures = 0, 0
end
request = function()
  counter = counter + 1
  local key = KEYS[(counter % #KEYS) + 1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Request-req-accessKeyId"] = key[1],
    ["X-Request-req-accessKeySecret"] = key[2],
  }
  local id = RUN .. "-" .. tid .. "-" .. counter
  local body = '{"businessTaskId":"' .. id .. '","sourceImage":"' .. IMAGE .. '","scale":2}'
  return wrk.format("POST", PATH, headers, body)
end
response = function(status, headers, body)
  if not string.find(body, '"code":"200"', 1, true) then failures = failures + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("failures") end
  io.write("failures " .. total .. "\n")
end
"""


def wrk_rate(base_url: str, path: str, keys: Keys, seconds: float, concurrency: int) -> float:
    """Requests per second that wrk gets, every answer checked for code "200"."""
    lua_keys = "{" + ", ".join(f'{{"{key["id"]}", "{key["secret"]}"}}' for key in keys) + "}"
    header = f'RUN = "{uuid.uuid4().hex}"\nIMAGE = "{small_image_uri(32)}"\nPATH = "{path}"\nKEYS = {lua_keys}\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(header + WRK_SCRIPT)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "-s", handle.name, base_url + path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    failures = int(out.split("failures ")[1].split()[0])
    assert failures == 0 and "Non-2xx" not in out, out
    return float(out.split("Requests/sec:")[1].split()[0])


async def httpx_rate(client: httpx.AsyncClient, path: str, keys: Keys, seconds: float, concurrency: int) -> float:
    image = small_image_uri(32)
    deadline = time.perf_counter() + seconds
    done = 0

    async def lane(index: int) -> None:
        nonlocal done
        headers = auth_headers(keys[index % len(keys)])
        while time.perf_counter() < deadline:
            body = {"businessTaskId": uuid.uuid4().hex, "sourceImage": image, "scale": 2}
            answer = (await client.post(path, json=body, headers=headers)).json()
            assert answer["code"] == "200", answer
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(lane(index) for index in range(concurrency)))
    return done / (time.perf_counter() - started)


def throughput(base_url: str, keys: Keys, seconds: float, concurrency: int) -> tuple[float, float, str]:
    """(bare route rate, submit rate, load generator): three interleaved rounds, medians."""
    paths = ("/bench/bare", BASE + "/tool/imgEnlarge")
    rates: dict[str, list[float]] = {path: [] for path in paths}
    if shutil.which("wrk"):
        for path in paths:
            wrk_rate(base_url, path, keys, 1, concurrency)  # warm-up
        for _round in range(3):
            for path in paths:
                rates[path].append(wrk_rate(base_url, path, keys, max(1.0, seconds / 3), concurrency))
        client = "wrk"
    else:

        async def run() -> None:
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(base_url=base_url, limits=limits, trust_env=False) as http:
                for path in paths:
                    await httpx_rate(http, path, keys, 1.0, concurrency)
                for _round in range(3):
                    for path in paths:
                        rates[path].append(await httpx_rate(http, path, keys, seconds / 3, concurrency))

        asyncio.run(run())
        client = "an httpx client (install wrk: it takes less CPU from the server)"
    return statistics.median(rates[paths[0]]), statistics.median(rates[paths[1]]), client


# --- latency --------------------------------------------------------------------------------------
def latency(base_url: str, keys: Keys, data_dir: Path, rounds: int) -> tuple[float, float]:
    """Median ms of (the tool called directly, submit + long-polling query through the API)."""
    from imgopen.config import Settings
    from imgopen.testing.direct import direct_context
    from imgopen.tools.img_enlarge import ImgEnlargeParams, ImgEnlargeTool
    from imgopen.vision.upscale.service import Upscalers

    image = small_image_uri(256)
    ctx = direct_context(Settings(data_dir=data_dir / "direct"))
    tool = ImgEnlargeTool(Upscalers(ctx.settings.models_dir))
    direct, api = [], []
    with httpx.Client(base_url=base_url + BASE, headers=auth_headers(keys[0]), trust_env=False) as client:
        for index in range(rounds + 3):
            started = time.perf_counter()
            tool.run(ImgEnlargeParams(sourceImage=image, scale=2), ctx)
            direct_ms = (time.perf_counter() - started) * 1000

            business_id = uuid.uuid4().hex
            started = time.perf_counter()
            body = {"businessTaskId": business_id, "sourceImage": image, "scale": 2}
            assert client.post("/tool/imgEnlarge", json=body).json()["code"] == "200"
            query = {"businessTaskId": business_id, "waitSeconds": 30}
            state = client.post("/tool/imgEnlarge/queryTask", json=query).json()
            api_ms = (time.perf_counter() - started) * 1000
            assert state["data"]["state"] == "success", state
            if index >= 3:  # the first rounds warm caches up
                direct.append(direct_ms)
                api.append(api_ms)
            time.sleep(0.05)
    return statistics.median(direct), statistics.median(api)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "DATA_DIR", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6.0, help="time per throughput measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=30, help="end-to-end latency samples")
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), int(args.serve[2]))
        return
    with running_server(workers=0) as (base_url, keys, _data_dir):
        bare, submit, client = throughput(base_url, keys, args.seconds, args.concurrency)
    with running_server(workers=2) as (base_url, keys, data_dir):
        direct_ms, api_ms = latency(base_url, keys, data_dir, args.rounds)
    print(
        f"submits/s  bare route {bare:8.1f}   tool/imgEnlarge {submit:8.1f}   ratio {submit / bare:.2f} "
        f"(goal >= 0.5; {args.concurrency} in flight from {client}; workers off)"
    )
    print(
        f"imgEnlarge 256->512, median of {args.rounds}: direct {direct_ms:.1f} ms   through the API "
        f"{api_ms:.1f} ms   overhead {api_ms - direct_ms:.1f} ms (goal < 20 ms)"
    )


if __name__ == "__main__":
    main()
