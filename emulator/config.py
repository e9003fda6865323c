"""The emulator's command line and environment, parsed into one frozen config.

The command line is ``serve MODEL [flags]``, as ``vllm serve``. ``vllm serve`` flags that the
emulator does not model are accepted and reported, so one template can start either; flags
vLLM does not know and malformed values are argparse errors (exit status 2).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emulator.calibration import H100, Calibration, calibration_for
from emulator.vllm_flags import unknown_flags
from engines.versions import Features, VllmVersion, features


class DevModeValueError(ValueError):
    """``VLLM_SERVER_DEV_MODE`` is not an integer string (vLLM's ``int()`` raises at import)."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator was asked to be: model, version, physics, environment."""

    model: str
    host: str | None = None
    port: int = 8000
    served_model_names: tuple[str, ...] = ()
    enable_sleep_mode: bool = False
    gpu_memory_utilization: float = 0.9
    api_keys: tuple[str, ...] = ()
    max_model_len: int = 4096
    tensor_parallel_size: int = 1
    version: VllmVersion = field(default_factory=lambda: VllmVersion(0, 11, 0))
    weights_gib: float = 2.0
    kv_cache_gib: float | None = None
    gpu_total_gib: float = 80.0
    overhead_gib: float = H100.overhead_gib
    h2d_gbps: float = H100.h2d_gbps
    d2h_gbps: float = H100.d2h_gbps
    pin_alloc_s_per_gib: float = H100.pin_alloc_s_per_gib
    disk_gbps: float = H100.disk_gbps
    unmap_s_per_gib: float = H100.unmap_s_per_gib
    kv_map_s_per_gib: float = H100.kv_map_s_per_gib
    weights_map_s_per_gib: float = H100.weights_map_s_per_gib
    load_format: str = "auto"
    startup_seconds: float = 2.0
    tokens_per_second: float = 200.0
    time_scale: float = 1.0
    device: str = "sim"
    executor_backend: str | None = None
    access_log: bool = True
    log_stats: bool = True
    log_stats_interval: float = 10.0
    ignored_args: tuple[str, ...] = ()
    non_default_args: Mapping[str, object] = field(default_factory=dict)
    dev_mode: bool = False
    sim_gpu_dir: Path | None = None
    visible_gpus: tuple[int, ...] = (0,)
    logging_prefix: str = ""
    colour_env: str = "auto"
    no_color: bool = False
    keep_alive_on_engine_death: bool = False

    @property
    def features(self) -> Features:
        return features(self.version)

    @property
    def model_names(self) -> tuple[str, ...]:
        return self.served_model_names or (self.model,)

    @property
    def bind_host(self) -> str:
        return self.host or "0.0.0.0"

    @property
    def uses_worker_processes(self) -> bool:
        """TP=1 runs the worker inside EngineCore (0.11.0 default ``uni``) unless ``mp``."""
        return self.tensor_parallel_size > 1 or self.executor_backend == "mp"


def _positive(kind: type[float] | type[int]) -> Callable[[str], float]:
    def check(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    check.__name__ = kind.__name__
    return check


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _version(text: str) -> VllmVersion:
    try:
        return VllmVersion.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    """The ``serve`` command line (vLLM's flag names; the emulator's own physics flags)."""
    parser = argparse.ArgumentParser(prog="python -m emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a vLLM-compatible server")
    serve.add_argument("model")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--served-model-name", nargs="+", default=[])
    serve.add_argument("--enable-sleep-mode", action=argparse.BooleanOptionalAction, default=False)
    serve.add_argument("--gpu-memory-utilization", type=_fraction, default=0.9)
    serve.add_argument("--api-key", nargs="+", action="extend", default=[])
    serve.add_argument("--max-model-len", type=_positive(int), default=4096)
    serve.add_argument("--tensor-parallel-size", "-tp", type=_positive(int), default=1)
    serve.add_argument("--distributed-executor-backend", choices=["mp", "uni", "ray"])
    serve.add_argument("--disable-uvicorn-access-log", action="store_true")
    serve.add_argument("--disable-log-stats", action="store_true")
    serve.add_argument("--emulate-version", type=_version, default=VllmVersion(0, 11, 0))
    serve.add_argument("--weights-gib", type=_positive(float), default=2.0)
    serve.add_argument("--kv-cache-gib", type=_positive(float), default=None)
    serve.add_argument("--gpu-total-gib", type=_positive(float), default=80.0)
    serve.add_argument("--load-format", default="auto")
    # The physics flags default to the emulated version's calibration (calibration.py).
    serve.add_argument("--overhead-gib", type=_non_negative, default=None)
    serve.add_argument("--h2d-gbps", type=_positive(float), default=None)
    serve.add_argument("--d2h-gbps", type=_positive(float), default=None)
    serve.add_argument("--pin-alloc-s-per-gib", type=_non_negative, default=None)
    serve.add_argument("--disk-gbps", type=_positive(float), default=None)
    serve.add_argument("--unmap-s-per-gib", type=_non_negative, default=None)
    serve.add_argument("--kv-map-s-per-gib", type=_non_negative, default=None)
    serve.add_argument("--weights-map-s-per-gib", type=_non_negative, default=None)
    serve.add_argument("--startup-seconds", type=_non_negative, default=2.0)
    serve.add_argument("--tokens-per-second", type=_positive(float), default=200.0)
    serve.add_argument("--time-scale", type=_non_negative, default=1.0)
    serve.add_argument("--device", choices=["sim", "cuda"], default="sim")
    return parser


def _dev_mode(env: Mapping[str, str]) -> bool:
    raw = env.get("VLLM_SERVER_DEV_MODE", "0")
    try:
        return bool(int(raw))
    except ValueError as error:
        raise DevModeValueError(f"invalid literal for int() with base 10: {raw!r}") from error


def _env_api_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    key = env.get("VLLM_API_KEY")
    return (key,) if key else ()


def _visible_gpus(env: Mapping[str, str]) -> tuple[int, ...]:
    raw = env.get("CUDA_VISIBLE_DEVICES", "0").strip() or "0"
    return tuple(int(part) for part in raw.split(","))


# Printed by vLLM's "non-default args" line; the emulator's own physics flags are not vLLM's.
_EMULATOR_ONLY = {
    "command", "emulate_version", "weights_gib", "kv_cache_gib", "gpu_total_gib", "overhead_gib",
    "h2d_gbps", "d2h_gbps", "pin_alloc_s_per_gib", "disk_gbps", "startup_seconds",
    "tokens_per_second", "time_scale", "device", "unmap_s_per_gib", "kv_map_s_per_gib",
    "weights_map_s_per_gib",
}  # fmt: skip


def _physics(args: argparse.Namespace) -> dict[str, float]:
    """Each physics flag given, else the emulated version's calibrated value."""
    calibrated: Calibration = calibration_for(args.emulate_version)
    names = ("overhead_gib", "h2d_gbps", "d2h_gbps", "pin_alloc_s_per_gib", "disk_gbps",
             "unmap_s_per_gib", "kv_map_s_per_gib", "weights_map_s_per_gib")  # fmt: skip
    return {
        name: getattr(args, name) if getattr(args, name) is not None else getattr(calibrated, name)
        for name in names
    }


def _non_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, object]:
    defaults = parser.parse_args(["serve", args.model])
    return {
        name: value
        for name, value in vars(args).items()
        if name not in _EMULATOR_ONLY and (name == "model" or value != getattr(defaults, name))
    }


def _dashed(token: str) -> str:
    """``--max_model_len=8`` -> ``--max-model-len=8``, as vLLM's FlexibleArgumentParser."""
    if not token.startswith("--"):
        return token
    name, sep, value = token.partition("=")
    return name.replace("_", "-") + sep + value


def parse_config(argv: Sequence[str], env: Mapping[str, str] | None = None) -> EmulatorConfig:
    """Parse the command line and the environment; argparse exits on a malformed value."""
    env = os.environ if env is None else env
    parser = build_parser()
    args, unknown = parser.parse_known_args([_dashed(token) for token in argv])
    rejected = unknown_flags(unknown)
    if rejected:
        parser.error(f"unrecognized arguments: {' '.join(rejected)}")
    sim_dir = env.get("VLLM_CONSOLE_SIM_GPU_DIR")
    return EmulatorConfig(
        model=args.model,
        host=args.host,
        port=args.port,
        served_model_names=tuple(args.served_model_name),
        enable_sleep_mode=args.enable_sleep_mode,
        gpu_memory_utilization=args.gpu_memory_utilization,
        # --api-key overrides VLLM_API_KEY (docs/vllm-behaviour.md §2.11).
        api_keys=tuple(args.api_key) or _env_api_keys(env),
        max_model_len=args.max_model_len,
        tensor_parallel_size=args.tensor_parallel_size,
        version=args.emulate_version,
        weights_gib=args.weights_gib,
        kv_cache_gib=args.kv_cache_gib,
        gpu_total_gib=args.gpu_total_gib,
        **_physics(args),
        load_format=args.load_format,
        startup_seconds=args.startup_seconds,
        tokens_per_second=args.tokens_per_second,
        time_scale=args.time_scale,
        device=args.device,
        executor_backend=args.distributed_executor_backend,
        access_log=not args.disable_uvicorn_access_log,
        log_stats=not args.disable_log_stats,
        log_stats_interval=float(env.get("VLLM_LOG_STATS_INTERVAL", "10")),
        ignored_args=tuple(unknown),
        non_default_args=_non_defaults(parser, args),
        dev_mode=_dev_mode(env),
        sim_gpu_dir=Path(sim_dir) if sim_dir else None,
        visible_gpus=_visible_gpus(env),
        logging_prefix=env.get("VLLM_LOGGING_PREFIX", ""),
        colour_env=env.get("VLLM_LOGGING_COLOR", "auto"),
        no_color="NO_COLOR" in env,
        keep_alive_on_engine_death=env.get("VLLM_KEEP_ALIVE_ON_ENGINE_DEATH", "0") == "1",
    )
