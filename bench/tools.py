"""Every tool on a 512x512 photograph, in one run: the median time of calling the tool directly
(its run() with the same input) and through the API (submit + long-polling query on a server
process; a synchronous tool's submit answers with the outcome), and the API's overhead (the
difference).

Cases live in bench/tool_cases/*.py; a cheap case (direct under 100 ms) runs at least CHEAP_ROUNDS
rounds. Usage: python bench/tools.py [--only CODE ...] [--rounds N]
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tool_cases import ToolCase

# A "cheap" tool call, for the overhead goal: one whose direct call takes less than this.
CHEAP_SECONDS = 0.1
# Rounds of a cheap case unless --rounds says: a few milliseconds of overhead is the difference of
# two medians, which 7 rounds leave a millisecond apart from one run to the next (measured).
CHEAP_ROUNDS = 30


def all_cases() -> list[ToolCase]:
    import bench.tool_cases as package

    cases: list[ToolCase] = []
    for module in pkgutil.iter_modules(package.__path__):
        cases.extend(importlib.import_module(f"bench.tool_cases.{module.name}").CASES)
    return cases


def time_direct(tool: Any, body: dict[str, Any], settings: Any, services: Any) -> float:
    """Seconds of the tool's run() on a fresh context (inputs decoded inside, as in a worker)."""
    from imgopen.tasks.context import TaskContext

    ctx = TaskContext(uuid.uuid4().hex, "bench", settings, services.inputs, services.storage)
    params = tool.params_model.model_validate(body)
    started = time.perf_counter()
    tool.run(params, ctx)
    return time.perf_counter() - started


def time_api(client: Any, code: str, body: dict[str, Any], synchronous: bool) -> float:
    """Seconds from submit to the long-polling query's answer; for a synchronous tool, to the
    submit's answer (it is the outcome: a client does not query again)."""
    started = time.perf_counter()
    if synchronous:
        answer = client.call(f"/tool/{code}", {"businessTaskId": uuid.uuid4().hex, **body})
    else:
        answer = client.wait(client.submit_tool(code, uuid.uuid4().hex, **body), timeout=600)
    assert answer["state"] == "success", answer
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="toolCodes to run")
    parser.add_argument("--rounds", type=int, default=0, help="override each case's rounds")
    args = parser.parse_args()
    cases = [c for c in all_cases() if not args.only or c.code in args.only]

    from imgopen.accounts.keys import KeyStore
    from imgopen.client import Client
    from imgopen.config import Settings
    from imgopen.db.engine import open_database
    from imgopen.services import build_services
    from imgopen.testing.images import astronaut, data_uri, encode
    from imgopen.testing.server import ServerProcess
    from imgopen.testing.tiny_models import write_models_folder

    image = data_uri(encode(astronaut()))
    rows: list[tuple[ToolCase, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        models = root / "models"
        if any(case.needs_models for case in cases):
            write_models_folder(models)
        settings = Settings(data_dir=root / "direct", models_dir=models, database_url=f"sqlite:///{root}/direct.db")
        direct_services = build_services(settings)
        key = KeyStore(open_database(Settings(data_dir=root / "api"))).create("bench")
        env = {"IMGOPEN_MODELS_DIR": str(models)}
        with ServerProcess(root / "api", env) as server, Client(server.base_url, key.id, key.secret) as client:
            for case in cases:
                tool = direct_services.tools.get(case.code)
                assert tool is not None, case.code
                body = case.params(image)
                time_direct(tool, body, settings, direct_services)  # warm: models loaded, caches filled
                time_api(client, case.code, body, tool.synchronous)
                cheap = time_direct(tool, body, settings, direct_services) < CHEAP_SECONDS
                rounds = args.rounds or max(case.rounds, CHEAP_ROUNDS if cheap else 0)
                # Interleaved, so that the machine's drift (other load, CPU frequency) reaches both alike.
                directs, apis = [], []
                for _ in range(rounds):
                    directs.append(time_direct(tool, body, settings, direct_services))
                    apis.append(time_api(client, case.code, body, tool.synchronous))
                direct, api = statistics.median(directs), statistics.median(apis)
                rows.append((case, direct, api))
                print(f"  {case.label}: direct {direct * 1000:.1f} ms, API {api * 1000:.1f} ms", file=sys.stderr)
        direct_services.stop()
    print(f"{'tool':<34} {'direct ms':>10} {'API ms':>10} {'overhead ms':>12}  goals")
    for case, direct, api in rows:
        goal = f"direct <= {case.goal_direct_ms:g} ms" if case.goal_direct_ms else ""
        print(f"{case.label:<34} {direct * 1000:10.1f} {api * 1000:10.1f} {(api - direct) * 1000:12.1f}  {goal}")
    cheap = [api - direct for _case, direct, api in rows if direct < CHEAP_SECONDS]
    if cheap:
        print(
            f"median API overhead over the {len(cheap)} cheap cases (direct < {CHEAP_SECONDS * 1000:g} ms): "
            f"{statistics.median(cheap) * 1000:.1f} ms (goal, issue 13: <= 5 ms)"
        )


if __name__ == "__main__":
    main()
