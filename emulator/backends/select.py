"""Build the backend and the memory plan a config asks for."""

from __future__ import annotations

from emulator.backends import Backend
from emulator.backends.sim import SimBackend
from emulator.config import EmulatorConfig
from emulator.physics import GIB, Physics, StartupError, plan_memory
from engines.simgpu import SimGpuDir


def _sim_gpu_total(config: EmulatorConfig, sim_dir: SimGpuDir | None) -> int:
    if sim_dir is None or not sim_dir.exists():
        return int(config.gpu_total_gib * GIB)
    totals = {gpu.index: gpu.total_bytes for gpu in sim_dir.gpus()}
    missing = [index for index in config.visible_gpus if index not in totals]
    if missing:
        raise StartupError(f"no simulated GPU with index {missing[0]}")
    return min(totals[index] for index in config.visible_gpus)


def _check_world_size(config: EmulatorConfig) -> None:
    tp = config.tensor_parallel_size
    if tp > len(config.visible_gpus):
        # vLLM's message when the world does not fit the visible devices.
        raise StartupError(
            f"World size ({tp}) is larger than the number of available GPUs "
            f"({len(config.visible_gpus)}) in this node."
        )


def create_backend(config: EmulatorConfig) -> Backend:
    """``SimBackend`` or ``CudaBackend``; raise ``StartupError`` when it cannot start."""
    physics = Physics.from_config(config)
    if config.device == "cuda":
        # Imported here only: it imports torch, which only GPU hosts have.
        from emulator.backends.cuda import CudaBackend, cuda_total_bytes

        return CudaBackend(plan_memory(config, cuda_total_bytes()), physics)
    sim_dir = SimGpuDir(config.sim_gpu_dir) if config.sim_gpu_dir else None
    if sim_dir is not None:
        _check_world_size(config)
    plan = plan_memory(config, _sim_gpu_total(config, sim_dir))
    indexes = config.visible_gpus[: config.tensor_parallel_size]
    return SimBackend(
        plan,
        physics,
        sim_dir=sim_dir,
        gpu_indexes=indexes,
        utilization=config.gpu_memory_utilization,
    )
