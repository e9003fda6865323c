"""What to launch: a ``LaunchSpec`` and the command line and environment built from it.

The same spec starts real vLLM (``executable=("vllm",)``) and the emulator
(``executable=(sys.executable, "-m", "emulator")``): both take ``serve MODEL`` and
the same flags. The launcher owns the flags that the console relies on (address, sleep
mode, served name, memory share) and the two variables that gate behaviour
(``VLLM_SERVER_DEV_MODE``, ``CUDA_VISIBLE_DEVICES``), so extra arguments or variables that
would contradict them are refused rather than silently overridden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engines.launcher.serve_flags import SECRET_FLAGS, read_flag

DEV_MODE_VAR = "VLLM_SERVER_DEV_MODE"
VISIBLE_DEVICES_VAR = "CUDA_VISIBLE_DEVICES"

# Flags build_command writes itself, and --uds (vLLM 0.9+), which would make the engine
# ignore --host and --port. Written any way vLLM's parser accepts ("--hos", "--port=1",
# "--gpu_memory_utilization", "--no-enable-sleep"), they are refused: see serve_flags.
MANAGED_FLAGS = frozenset(
    {
        "--host",
        "--port",
        "--uds",
        "--enable-sleep-mode",
        "--no-enable-sleep-mode",
        "--served-model-name",
        "--gpu-memory-utilization",
        "--model",
    }
)
REDACTED = "***"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, kw_only=True)
class LaunchSpec:
    """One engine to start: program, model, address, GPUs, and anything extra.

    Keyword-only, so call sites stay readable and a reordering cannot swap two fields.
    ``name`` names the instance's directory under the launcher's run dir.
    """

    executable: tuple[str, ...]
    model: str
    host: str = "127.0.0.1"
    port: int
    served_model_name: str | None = None
    gpu_ids: tuple[int, ...] = (0,)
    gpu_memory_utilization: float | None = None
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    name: str
    dev_mode: str = "1"


def validate_name(name: str) -> str:
    """Return ``name`` if it can be a directory name under the run dir; raise ValueError else."""
    if not _NAME_RE.match(name):
        raise ValueError(
            f"instance name {name!r} must be 1-128 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    return name


def _validate_spec(spec: LaunchSpec) -> None:
    validate_name(spec.name)
    if not spec.executable or any(not part.strip() for part in spec.executable):
        raise ValueError("executable must be a non-empty sequence of non-empty strings")
    if not spec.model.strip():
        raise ValueError("model must not be empty")
    if not spec.host.strip():
        raise ValueError("host must not be empty")
    if not 1 <= spec.port <= 65535:
        raise ValueError(f"port {spec.port} is outside 1-65535")
    if spec.served_model_name is not None and not spec.served_model_name.strip():
        raise ValueError("served_model_name must be None or a non-empty string")
    utilization = spec.gpu_memory_utilization
    if utilization is not None and not 0.0 < utilization <= 1.0:
        raise ValueError(f"gpu_memory_utilization {utilization} is outside (0, 1]")


def _validate_extra_args(extra_args: Sequence[str]) -> None:
    for arg in extra_args:
        if not arg.strip():
            raise ValueError("extra_args must not contain empty arguments")
        problem = managed_flag_problem(arg)
        if problem is not None:
            raise ValueError(
                f"extra_args must not set {problem}: the launcher sets it from the spec "
                "(host, port, served_model_name, gpu_memory_utilization, sleep mode, model)"
            )


def managed_flag_problem(arg: str) -> str | None:
    """Which launcher-owned flag ``arg`` would set, said in words; None when it sets none.

    ``arg`` is read as vLLM reads it, so ``--hos`` is ``--host`` and ``--po`` is refused
    too (argparse finds it ambiguous; whichever way it went, it could set ``--port``).
    """
    flag = read_flag(arg)
    if flag is None:
        return None
    managed = flag.could_be(MANAGED_FLAGS)
    if not managed:
        return None
    if managed == (flag.written,):
        return flag.written
    if len(flag.meanings) == 1:
        return f"{managed[0]} (written {flag.written}, which vLLM reads as its abbreviation)"
    return f"{' or '.join(managed)} (written {flag.written}, an abbreviation of it and others)"


def secret_flag(arg: str) -> str | None:
    """The secret flag ``arg`` sets (``--api_k=x`` → ``--api-key``); None when not a secret one."""
    flag = read_flag(arg)
    if flag is None or not flag.is_secret:
        return None
    secret = flag.could_be(SECRET_FLAGS)
    return secret[0] if len(secret) == 1 else flag.written


def build_command(spec: LaunchSpec) -> list[str]:
    """``[*executable, "serve", model, --host, --port, --enable-sleep-mode, ..., *extra_args]``."""
    _validate_spec(spec)
    _validate_extra_args(spec.extra_args)
    command = [*spec.executable, "serve", spec.model, "--host", spec.host, "--port", str(spec.port)]
    command.append("--enable-sleep-mode")
    if spec.served_model_name is not None:
        command += ["--served-model-name", spec.served_model_name]
    if spec.gpu_memory_utilization is not None:
        command += ["--gpu-memory-utilization", str(spec.gpu_memory_utilization)]
    return [*command, *spec.extra_args]


def redact_command(command: Sequence[str]) -> list[str]:
    """The command with the values of secret flags (``--api-key`` ...) replaced by ``***``.

    Flags are read as vLLM reads them, so ``--api_k S`` and ``--hf_tok=S`` are secret too.
    """
    redacted: list[str] = []
    in_secret = False
    for arg in command:
        flag = read_flag(arg)
        if flag is not None:
            in_secret = flag.is_secret
            if in_secret and "=" in arg:
                redacted.append(f"{arg.split('=', 1)[0]}={REDACTED}")
                in_secret = False
                continue
            redacted.append(arg)
        else:
            # --api-key takes one or more values (a list since vLLM 0.8): redact them all.
            redacted.append(REDACTED if in_secret else arg)
    return redacted


def _validate_dev_mode(value: str) -> None:
    # vLLM reads bool(int(os.getenv("VLLM_SERVER_DEV_MODE", "0"))) at import (vllm 0.11.0
    # envs.py:1028), so "true" crashes the server before it logs anything useful.
    try:
        int(value)
    except ValueError:
        raise ValueError(
            f"{DEV_MODE_VAR} must be an integer such as 1 or 0 (vLLM parses it with int()), "
            f"got {value!r}"
        ) from None


def _visible_devices(gpu_ids: Sequence[int]) -> str:
    if not gpu_ids:
        raise ValueError("gpu_ids must name at least one GPU")
    if any(index < 0 for index in gpu_ids) or len(set(gpu_ids)) != len(gpu_ids):
        raise ValueError(f"gpu_ids {tuple(gpu_ids)} must be distinct non-negative indexes")
    return ",".join(str(index) for index in gpu_ids)


def _check_no_contradiction(env: Mapping[str, str], managed: Mapping[str, str]) -> None:
    for key, value in managed.items():
        if key in env and env[key] != value:
            # The value itself is not echoed: spec.env may carry secrets.
            raise ValueError(f"spec.env sets {key}, which contradicts the spec; remove it")


def build_env(spec: LaunchSpec, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` + ``spec.env`` + the managed ``VLLM_SERVER_DEV_MODE`` and ``CUDA_VISIBLE_DEVICES``.

    Defaults that a spec may override: ``PYTHONUNBUFFERED=1`` so that every line reaches the
    log file as it is printed (the log follower and the readiness report read it), and
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so that ``gpu_ids`` mean NVML's indexes (CUDA's
    default order is fastest-first).
    """
    _validate_dev_mode(spec.dev_mode)
    managed = {DEV_MODE_VAR: spec.dev_mode, VISIBLE_DEVICES_VAR: _visible_devices(spec.gpu_ids)}
    _check_no_contradiction(spec.env, managed)
    env = dict(base)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    env.update(spec.env)
    env.update(managed)
    return env
