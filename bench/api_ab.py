"""Two checkouts of imgopen side by side, for a change to the API's overhead: each tree runs as its
own `imgopen serve` process, the same tool cases go to both in alternation, and each case prints
the median of the per-round differences (new - old). On a shared machine the overhead drifts by
more between two runs of bench/tools.py than a change of a few tenths of a millisecond; paired
rounds cancel the drift.

Usage: python bench/api_ab.py OLD_TREE [--new NEW_TREE] [--only CODE ...] [--rounds N]
A tree is a checkout's root (`git worktree add /tmp/old HEAD~1`), run with this interpreter;
NEW_TREE defaults to this checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench.tools import all_cases, time_api  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="the checkout to compare against")
    parser.add_argument("--new", type=Path, default=HERE, help="the checkout with the change (default: this one)")
    parser.add_argument("--only", nargs="*", help="toolCodes to run")
    parser.add_argument("--rounds", type=int, default=40, help="paired rounds per case")
    args = parser.parse_args()
    cases = [c for c in all_cases() if not args.only or c.code in args.only]

    from imgopen.accounts.keys import KeyStore
    from imgopen.client import Client
    from imgopen.config import Settings
    from imgopen.db.engine import open_database
    from imgopen.testing.images import astronaut, data_uri, encode
    from imgopen.testing.server import ServerProcess
    from imgopen.testing.tiny_models import write_models_folder
    from imgopen.tools.specs import builtin_specs

    specs = builtin_specs()

    image = data_uri(encode(astronaut()))
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        models = root / "models"
        if any(case.needs_models for case in cases):
            write_models_folder(models)
        servers: list[ServerProcess] = []
        clients: dict[str, Any] = {}
        try:
            for name, tree in trees.items():
                data = root / name
                key = KeyStore(open_database(Settings(data_dir=data))).create("bench")
                # The tree as the working directory: `-m imgopen` then imports its code.
                env = {"PYTHONPATH": str(tree), "IMGOPEN_MODELS_DIR": str(models)}
                servers.append(ServerProcess(data, env, cwd=tree).start())
                clients[name] = Client(servers[-1].base_url, key.id, key.secret)
            differences = []
            print(f"{'tool':<40} {'old ms':>8} {'new ms':>8} {'new - old (paired) ms':>22}")
            for case in cases:
                body = case.params(image)
                spec = specs.get(case.code)
                assert spec is not None, case.code
                synchronous = spec.synchronous
                for client in clients.values():
                    for _ in range(3):  # warm: models loaded, caches filled
                        time_api(client, case.code, body, synchronous)
                times: dict[str, list[float]] = {name: [] for name in trees}
                for round_ in range(args.rounds):
                    # Each order half the time: neither server always runs right after the other.
                    for name in list(trees)[:: 1 if round_ % 2 == 0 else -1]:
                        times[name].append(time_api(clients[name], case.code, body, synchronous))
                paired = statistics.median(new - old for old, new in zip(times["old"], times["new"], strict=True))
                differences.append(paired)
                old_ms, new_ms = (statistics.median(times[name]) * 1000 for name in trees)
                print(f"{case.label:<40} {old_ms:8.2f} {new_ms:8.2f} {paired * 1000:+22.2f}", flush=True)
            print(f"median over the cases of new - old: {statistics.median(differences) * 1000:+.2f} ms")
        finally:
            for client in clients.values():
                client.close()
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
