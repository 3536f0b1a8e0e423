"""Settings: one object, read from IMGOPEN_* variables and an optional TOML file, passed in."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _toml_path() -> Path | None:
    """The TOML file named by IMGOPEN_CONFIG, else ./imgopen.toml when it exists."""
    named = os.environ.get("IMGOPEN_CONFIG")
    if named:
        return Path(named)
    default = Path("imgopen.toml")
    return default if default.is_file() else None


class Settings(BaseSettings):
    """Every knob of an imgopen server. Environment variables win over the TOML file."""

    model_config = SettingsConfigDict(env_prefix="IMGOPEN_", extra="ignore", validate_default=True)

    # --- paths -------------------------------------------------------------------------------
    data_dir: Path = Field(Path("./data"), description="Folder for the database, outputs and inputs.")
    models_dir: Path = Field(Path("./models"), description="Folder of model weights (checkpoints, LoRAs...).")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file imgopen.db in the data folder."
    )

    # --- HTTP --------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `imgopen serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `imgopen serve` listens on.")
    public_base_url: str | None = Field(
        None, description="Base URL clients reach this server at; output URLs start with it."
    )

    # --- storage -----------------------------------------------------------------------------
    storage: Literal["local", "s3"] = Field(
        "local", description="Where inputs, outputs and previews live: a local folder, or an S3 bucket (a cluster)."
    )
    storage_dir: Path | None = Field(None, description="Local storage folder; default: <data_dir>/files.")
    url_signing_key: str | None = Field(
        None, description="When set, output URLs carry an HMAC signature and an expiry."
    )
    url_expiry_seconds: int = Field(7 * 24 * 3600, ge=60, description="Lifetime of a signed output URL.")
    s3_bucket: str | None = Field(None, description="S3 storage: the bucket (it must exist).")
    s3_endpoint_url: str | None = Field(
        None, description="S3 storage: the server's URL (unset: AWS); e.g. http://127.0.0.1:8333 for SeaweedFS."
    )
    s3_region: str = Field("us-east-1", description="S3 storage: the region.")
    s3_path_style: bool = Field(
        False, description="S3 storage: path-style URLs (endpoint/bucket/key), as most S3 servers other than AWS need."
    )
    s3_public_base_url: str | None = Field(
        None,
        description="S3 storage: outputs under this public URL (a CDN, a public bucket) instead of pre-signed URLs.",
    )

    # --- executor ----------------------------------------------------------------------------
    executor: Literal["inprocess", "celery"] = Field(
        "inprocess",
        description="How tasks reach workers: threads of this process, or worker processes over Celery (a cluster).",
    )
    broker_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672//",
        description="Celery broker of a cluster: RabbitMQ (amqp://...) or Redis (redis://...).",
    )
    cluster_name: str = Field(
        "imgopen",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Names the broker queues (NAME.gpu, NAME.cpu, NAME.train): several clusters can share a broker.",
    )
    redis_visibility_timeout_seconds: float = Field(
        3600.0,
        gt=0,
        description=(
            "Redis broker: a delivery not acknowledged within this time is delivered again (kombu's default). "
            "Workers acknowledge a task when they claim it, so long tasks are not affected."
        ),
    )
    affinity_wait_seconds: float = Field(
        30.0,
        ge=0,
        description="A task waits this long at most for a worker that has its checkpoint loaded; then any takes it.",
    )
    heartbeat_seconds: float = Field(2.0, gt=0, description="How often a cluster worker records itself.")
    gpu_workers: int = Field(1, ge=0, le=64, description="Workers for GPU-bound tasks (diffusion, training).")
    cpu_workers: int = Field(2, ge=0, le=256, description="Workers for CPU-bound tasks (image tools).")
    lease_seconds: float = Field(30.0, gt=0, description="A worker renews its lease on a running task this often x3.")
    max_attempts: int = Field(2, ge=1, le=10, description="Runs of a task whose worker died (2: retry once).")
    poll_seconds: float = Field(1.0, gt=0, description="Idle workers look for new tasks this often.")
    node_name: str = Field(default_factory=lambda: os.uname().nodename, description="Name of this machine.")

    # --- generation ---------------------------------------------------------------------------
    device: str = Field("auto", description="Torch device for models: auto, cpu, cuda, cuda:1, mps.")
    dtype: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto",
        description=(
            "Model precision. auto: fp16 on a GPU (bf16 for Flux where the GPU has it), fp32 on a CPU. bf16 on a CPU "
            "that computes it natively (AVX512-BF16 or AMX) is about 1.8x as fast at real size (bench/real_size.py), "
            "with visibly different images: opt in with bf16."
        ),
    )
    model_cache_gb: float = Field(
        0, ge=0, description="Memory the model cache may use, GB; 0: half the RAM on CPU, 90% of GPU memory."
    )
    default_checkpoint: str | None = Field(None, description="Checkpoint used when a request names none.")
    flux_models: dict[str, str] = Field(
        default_factory=dict,
        description='comfyTaskType -> Flux model name, e.g. {"Flux1DevFP8": "flux1-dev"}; default: the installed ones.',
    )
    catalog_rescan_seconds: float = Field(2.0, ge=0, description="How fresh the model lists are, seconds.")
    torch_threads: int = Field(
        0, ge=0, le=256, description="Threads torch uses for CPU work; 0: torch's default (the core count)."
    )
    compile: Literal["off", "auto", "max"] = Field(
        "auto",
        description=(
            "The fast path of generation. off: diffusers' pipelines as they come. auto: what pays on this device "
            "(GPU: channels-last, fused QKV projections, torch.compile of the UNet / transformer and the VAE decoder, "
            "the VAE in bf16 where the GPU has it, LoRAs hot-swapped without recompiling; CPU: channels-last and "
            "fused QKV, since torch.compile does not pay there, measured). max: also torch.compile on a CPU, "
            "max-autotune on a GPU, and fp8 weights for Flux on GPUs that have fp8 (needs torchao). Compiled code "
            "is cached on disk (<data_dir>/cache/inductor) across restarts. Outputs stay the same up to "
            "floating-point noise."
        ),
    )
    warmup_sizes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Image sizes (WIDTHxHEIGHT, e.g. 512x512,1024x1024) a worker compiles for at start, with the default "
            "checkpoint, so that the first request of each size does not wait for compilation; empty: none."
        ),
    )
    coalesce_max: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Compatible queued text2image requests (same checkpoint, size, steps, sampler, CFG, LoRAs, VAE, clip skip) "
            "run as one denoising batch of up to this many images, each still with its own seeds, progress and "
            "cancel; 1: off; 0: auto (4 on a GPU, 1 on a CPU, where batching does not pay: measured)."
        ),
    )
    lora_max_rank: int = Field(
        128,
        ge=1,
        le=1024,
        description=(
            "On a compiled model, LoRAs are hot-swapped into slots padded to this rank (no recompilation); a LoRA of "
            "a higher rank still loads, at the cost of one recompilation."
        ),
    )

    # --- per-key limits ----------------------------------------------------------------------
    max_active_tasks_per_key: int = Field(
        1000, ge=1, description="Queued plus running tasks one key may have; beyond: code 429."
    )
    rate_limit_per_minute: int = Field(0, ge=0, description="Submits per key and minute; 0: unlimited.")

    # --- inputs ------------------------------------------------------------------------------
    max_input_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Largest input image in bytes.")
    max_input_pixels: int = Field(40_000_000, ge=64, description="Largest input image in pixels.")
    max_output_pixels: int = Field(100_000_000, ge=64, description="Largest image a tool may produce.")
    fetch_timeout_seconds: float = Field(15.0, gt=0, description="Time limit to fetch one input URL.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed when fetching a URL.")
    url_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or networks (CIDR) that URLs may reach even though they are private or loopback.",
    )

    # --- the Automatic1111 API ---------------------------------------------------------------
    a1111_api: bool = Field(True, description="Serve the Automatic1111 web UI's API at /sdapi/v1 (and /controlnet).")
    a1111_anonymous_key: str | None = Field(
        None,
        description=(
            "An access key id whose identity /sdapi/v1 requests without credentials take (A1111 without --api-auth); "
            "unset: credentials are required (HTTP Basic: key id and secret, or the Img Open headers)."
        ),
    )
    a1111_wait_seconds: float = Field(
        3600.0, gt=0, description="How long a /sdapi/v1 request waits for its task before answering 504."
    )

    # --- retention ---------------------------------------------------------------------------
    retention_days: float = Field(
        0,
        ge=0,
        description=(
            "Delete the files (outputs, stored inputs, previews) of tasks that ended longer ago than this; "
            "0: keep them. The tasks stay queryable and say that their files expired."
        ),
    )
    retention_check_seconds: float = Field(300.0, gt=0, description="How often expired files are looked for.")
    orphan_sweep: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Delete the files that no task of this database owns, once an hour old (left by a crash during a "
            "submit or a run). auto: with local storage only; a bucket may be shared by another deployment, "
            "whose tasks this database does not know (on: the bucket is this deployment's alone)."
        ),
    )
    orphan_check_seconds: float = Field(
        3600.0, gt=0, description="How often the orphan sweep looks for such files (and once at start)."
    )

    # --- callbacks ---------------------------------------------------------------------------
    callback_delays: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [3.0, 5.0, 15.0, 30.0, 60.0, 600.0, 3600.0, 3600.0, 3600.0],
        description="Seconds before each retry of a callback; len+1 attempts in all.",
    )
    callback_timeout_seconds: float = Field(10.0, gt=0, description="Time limit for one callback POST.")

    # --- misc --------------------------------------------------------------------------------
    task_prefix: str = Field("loc", pattern=r"^[a-z]{1,8}$", description="Prefix of server-made task ids.")
    create_first_key: bool = Field(True, description="`serve` creates and prints a key when there is none.")
    log_level: str = Field("info", description="Logging level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or as JSON objects (for log collectors); each carries its request id."
    )

    @field_validator("url_allowlist", "callback_delays", "warmup_sizes", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Lists in the environment: "a,b,c" or a JSON array."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _toml_path()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @field_validator("warmup_sizes")
    @classmethod
    def _check_sizes(cls, value: list[str]) -> list[str]:
        for size in value:
            width, sep, height = size.lower().partition("x")
            if not sep or not width.isdigit() or not height.isdigit() or int(width) % 8 or int(height) % 8:
                raise ValueError(f"warmup size {size!r}: WIDTHxHEIGHT in multiples of 8, e.g. 512x512")
        return [size.lower() for size in value]

    # --- derived -----------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'imgopen.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "files").resolve()

    @property
    def resolved_public_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
