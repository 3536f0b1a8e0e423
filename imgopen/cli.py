"""The `imgopen` command: serve (all in one), api and worker (a cluster), workers, keys, models.
Every command reads the same Settings as the server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from imgopen.config import Settings
from imgopen.process_env import prepare_model_process

app = typer.Typer(help="imgopen: a self-hosted server for the Img Open image API.", no_args_is_help=True)
keys_app = typer.Typer(help="Access keys: create, list, disable.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
models_app = typer.Typer(help="Models: list what is installed, download more.", no_args_is_help=True)
app.add_typer(models_app, name="models")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (database, files); default IMGOPEN_DATA_DIR or ./data.")
]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def _database(settings: Settings) -> Any:
    from imgopen.db.engine import open_database

    return open_database(settings)


def _keys(data_dir: Path | None) -> Any:
    from imgopen.accounts.keys import KeyStore

    return KeyStore(_database(_settings(data_dir=data_dir)))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind; default IMGOPEN_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default IMGOPEN_PORT or 8000.")] = None,
    data_dir: DataDir = None,
    models_dir: Annotated[
        Path | None, typer.Option(help="Models folder; default IMGOPEN_MODELS_DIR or ./models.")
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Start the API server with its workers."""
    prepare_model_process()
    from imgopen.api.app import create_app
    from imgopen.services import build_services

    settings = _settings(host=host, port=port, data_dir=data_dir, models_dir=models_dir)
    _logging(settings)
    services = build_services(settings)
    if settings.create_first_key and services.keys.count() == 0:
        created = services.keys.create("first key")
        typer.echo("No access key existed, so one was made. Keep the secret: it is shown only once.")
        typer.echo(f"  X-Request-req-accessKeyId:     {created.id}")
        typer.echo(f"  X-Request-req-accessKeySecret: {created.secret}")
        typer.echo(f"  callback signing secret:       {created.callback_secret}")
    _serve_http(create_app(services), settings, access_log)


def _serve_http(app: Any, settings: Settings, access_log: bool) -> None:
    import uvicorn

    typer.echo(f"imgopen on {settings.resolved_public_base_url}  (docs: {settings.resolved_public_base_url}/docs)")
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), access_log=access_log
    )


def _logging(settings: Settings) -> None:
    from imgopen.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to bind; default IMGOPEN_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default IMGOPEN_PORT or 8000.")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Start the HTTP API alone (a cluster): tasks run in `imgopen worker` processes over Celery.
    Needs IMGOPEN_EXECUTOR=celery, a shared database (IMGOPEN_DATABASE_URL) and shared storage."""
    from imgopen.api.app import create_app
    from imgopen.roles.api import build_api

    settings = _settings(host=host, port=port)
    _logging(settings)
    try:
        services = build_api(settings)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    _serve_http(create_app(services), settings, access_log)


@app.command()
def worker(
    pool: Annotated[
        list[str], typer.Option("--pool", help="gpu, cpu or train; repeat (or comma-separate) to serve several.")
    ],
    device: Annotated[
        str | None, typer.Option(help="Torch device: cuda, cuda:1, cpu...; default IMGOPEN_DEVICE.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The worker's name in `imgopen workers`; default from pools/host/device.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Tasks at once; default 1 for gpu and train, IMGOPEN_CPU_WORKERS for cpu.")
    ] = None,
) -> None:
    """Start a worker (a cluster): one process per GPU, taking the tasks of its pools from Celery."""
    prepare_model_process()
    from imgopen.cluster.worker_main import run_worker
    from imgopen.tasks.executor import POOLS

    pools = [part.strip() for item in pool for part in item.split(",") if part.strip()]
    unknown = [p for p in pools if p not in POOLS]
    if unknown or not pools:
        typer.echo(f"--pool: use {', '.join(POOLS)} (got {', '.join(unknown) or 'nothing'})", err=True)
        raise typer.Exit(2)
    settings = _settings(device=device)
    if settings.executor != "celery":
        typer.echo(
            "`imgopen worker` takes tasks from Celery: set IMGOPEN_EXECUTOR=celery and IMGOPEN_BROKER_URL", err=True
        )
        raise typer.Exit(2)
    _logging(settings)
    run_worker(settings, pools, name, concurrency)


@app.command()
def workers(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False, data_dir: DataDir = None
) -> None:
    """The workers of the cluster: pools, device, loaded models, current tasks, last heartbeat."""
    from imgopen.clock import now_ms
    from imgopen.tasks.workers import WorkerDirectory

    settings = _settings(data_dir=data_dir)
    directory = WorkerDirectory(_database(settings), settings.heartbeat_seconds)
    now = now_ms()
    rows = [info.as_json(now, directory.stale_ms) for info in directory.all()]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no workers have reported (a cluster's workers start with `imgopen worker --pool ...`)")
    for row in rows:
        state = "alive" if row["alive"] else "gone "
        seen = (now - row["heartbeatAt"]) / 1000
        typer.echo(
            f"{row['name']}  {state}  pools={','.join(row['pools'])}  device={row['device']}  "
            f"running={','.join(row['currentTasks']) or '-'}  checkpoints={','.join(row['checkpoints']) or '-'}  "
            f"loras={','.join(row['loras']) or '-'}  host={row['host']} pid={row['pid']}  seen {seen:.1f} s ago"
        )


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Make a key; its secret is printed once and stored only hashed."""
    created = _keys(data_dir).create(name)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "accessKeyId": created.id,
                    "accessKeySecret": created.secret,
                    "callbackSecret": created.callback_secret,
                    "name": created.name,
                }
            )
        )
    else:
        typer.echo(f"accessKeyId:     {created.id}")
        typer.echo(f"accessKeySecret: {created.secret}")
        typer.echo(f"callbackSecret:  {created.callback_secret}")
        typer.echo("The secret is shown only this once.")


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False, data_dir: DataDir = None
) -> None:
    """List keys (never their secrets), with their quotas, today's use (UTC) and stored bytes."""
    from imgopen.accounts.quotas import Quotas

    settings = _settings(data_dir=data_dir)
    keys = _keys(data_dir).list()
    usage = Quotas(_database(settings)).usage()
    rows = []
    for k in keys:
        used = usage[k.id]
        quota = used.quota
        rows.append(
            {
                "accessKeyId": k.id,
                "name": k.name,
                "disabled": k.disabled,
                "createdAt": k.created_at,
                "quota": {
                    "tasksPerDay": quota.tasks_per_day,
                    "imagesPerDay": quota.images_per_day,
                    "storageBytes": quota.storage_bytes,
                },
                "today": {"tasks": used.tasks_today, "images": used.images_today},
                "storedBytes": used.stored_bytes,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows))
        return

    def limit(value: int | None) -> str:
        return "-" if value is None else str(value)

    for row in rows:
        quota, today = row["quota"], row["today"]
        storage = "-" if quota["storageBytes"] is None else f"{quota['storageBytes'] / 2**30:.3g} GB"
        typer.echo(
            f"{row['accessKeyId']}  {'disabled' if row['disabled'] else 'active  '}  {row['name']}  "
            f"tasks today {today['tasks']}/{limit(quota['tasksPerDay'])}  "
            f"images today {today['images']}/{limit(quota['imagesPerDay'])}  "
            f"stored {row['storedBytes'] / 2**20:.1f} MB/{storage}"
        )


@keys_app.command("quota")
def keys_quota(
    key_id: str,
    tasks_per_day: Annotated[
        int | None, typer.Option("--tasks-per-day", help="Tasks a day (UTC); -1: unlimited.", min=-1)
    ] = None,
    images_per_day: Annotated[
        int | None, typer.Option("--images-per-day", help="Images a day (UTC); -1: unlimited.", min=-1)
    ] = None,
    storage_gb: Annotated[
        float | None, typer.Option("--storage-gb", help="Bytes in storage, GB; -1: unlimited.", min=-1)
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set a key's quotas (the options given; the others stay). Over one, a submit answers "403"
    naming the quota, its limit and when it resets."""
    from imgopen.accounts.quotas import Quota, Quotas

    quotas = Quotas(_database(_settings(data_dir=data_dir)))
    current = quotas.usage().get(key_id)
    if current is None:
        typer.echo(f"no such key: {key_id}", err=True)
        raise typer.Exit(1)

    def chosen(value: float | None, old: int | None, scale: float = 1) -> int | None:
        if value is None:
            return old
        return None if value < 0 else int(value * scale)

    quota = Quota(
        chosen(tasks_per_day, current.quota.tasks_per_day),
        chosen(images_per_day, current.quota.images_per_day),
        chosen(storage_gb, current.quota.storage_bytes, 2**30),
    )
    quotas.set(key_id, quota)

    def shown(value: int | None, unit: float = 1, suffix: str = "") -> str:
        return "unlimited" if value is None else f"{value / unit:g}{suffix}"

    typer.echo(
        f"{key_id}: tasks per day {shown(quota.tasks_per_day)}, images per day {shown(quota.images_per_day)}, "
        f"storage {shown(quota.storage_bytes, 2**30, ' GB')}"
    )


@keys_app.command("disable")
def keys_disable(key_id: str, data_dir: DataDir = None) -> None:
    """Disable a key: its requests answer "403" (within 5 s on a running server)."""
    if not _keys(data_dir).set_disabled(key_id, True):
        typer.echo(f"no such key: {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"disabled {key_id}")


@keys_app.command("enable")
def keys_enable(key_id: str, data_dir: DataDir = None) -> None:
    """Enable a disabled key again."""
    if not _keys(data_dir).set_disabled(key_id, False):
        typer.echo(f"no such key: {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"enabled {key_id}")


@keys_app.command("callback-secret")
def keys_callback_secret(key_id: str, data_dir: DataDir = None) -> None:
    """Print the secret that signs this key's callbacks (X-ImgOpen-Signature)."""
    secret = _keys(data_dir).callback_secret(key_id)
    if secret is None:
        typer.echo(f"no such key: {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(secret)


ModelsDir = Annotated[
    Path | None, typer.Option("--models-dir", help="Models folder; default IMGOPEN_MODELS_DIR or ./models.")
]


@models_app.command("list")
def models_list(
    kind: Annotated[str | None, typer.Option(help="checkpoint, lora, vae, embedding, controlnet or upscaler.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
    models_dir: ModelsDir = None,
) -> None:
    """What is installed, with the base model read from each file's weights."""
    from imgopen.catalog.catalog import KINDS, ModelCatalog
    from imgopen.db.engine import open_database

    settings = _settings(data_dir=data_dir, models_dir=models_dir)
    catalog = ModelCatalog(settings.models_dir.resolve(), open_database(settings), rescan_seconds=0)
    rows = [
        {"kind": e.kind, "name": e.name, "baseModel": e.base_model, "variant": e.variant, "path": str(e.path)}
        for k in ([kind] if kind else list(KINDS))
        for e in catalog.entries(k)
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        variant = f" ({row['variant']})" if row["variant"] else ""
        typer.echo(f"{row['kind']:<11} {row['baseModel']:<9} {row['name']}{variant}")


@models_app.command("pull")
def models_pull(
    source: Annotated[str, typer.Argument(help="A URL, a Hugging Face repo id, or owner/repo/path/to/file.")],
    kind: Annotated[str, typer.Option(help="checkpoint, lora, vae, embedding, controlnet or upscaler.")] = "checkpoint",
    filename: Annotated[str | None, typer.Option(help="File name to save as (or to take from the repo).")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Repos: every file, not only safetensors and configs.")
    ] = False,
    models_dir: ModelsDir = None,
) -> None:
    """Download weights into the models folder (needs internet; the server never downloads)."""
    from imgopen.catalog.layout import FOLDERS
    from imgopen.catalog.pull import PullError, pull

    if kind not in FOLDERS:
        typer.echo(f"unknown kind {kind!r}; use one of {', '.join(FOLDERS)}", err=True)
        raise typer.Exit(2)
    settings = _settings(models_dir=models_dir)
    try:
        path = pull(source, kind, settings.models_dir, filename, everything)
    except (PullError, OSError) as exc:
        typer.echo(f"cannot pull {source}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"saved {path}")


def main() -> None:
    app()
