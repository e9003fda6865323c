"""Where vLLM logs each message from: ``[file.py:line]`` per version.

Sites read in vLLM's source (0.7.x, 0.11.0, 0.33.0) or quoted in its issues (0.11.1-era,
0.13-0.16-era) and those a real 0.25.0 printed (tests/engines/fixtures/real-vllm-0.25.0/) are exact;
for versions in between, the nearest older known site is used, which is what a log reader sees in
practice: the file name is stable, the line number drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.versions import VllmVersion, v


@dataclass(frozen=True)
class Site:
    """A ``file:line`` pair as vLLM's formatter prints it (bare file name, INFO level)."""

    file: str
    line: int


# key: "since file:line; since file:line" (oldest first).
_SPECS: dict[str, str] = {
    "version": "0.7.3 api_server.py:1012; 0.11.0 api_server.py:1839; 0.25.0 api_utils.py:339",
    "args": "0.7.3 api_server.py:1013; 0.10.0 utils.py:233; 0.25.0 api_utils.py:273",
    "max_len": "0.7.3 config.py:549; 0.11.0 model.py:1510",
    "load_start": "0.7.3 model_runner.py:1110; 0.8.0 gpu_model_runner.py:2602",
    "weights": "0.7.3 loader.py:423; 0.11.0 default_loader.py:268",
    "model_loaded": (
        "0.7.3 model_runner.py:1115; 0.8.0 gpu_model_runner.py:2653; 0.25.0 model_runner.py:302"
    ),
    "dynamo": "0.7.3 backends.py:559",
    "compile": "0.7.3 monitor.py:34; 0.25.0 monitor.py:53",
    "kv_memory": "0.7.3 worker.py:267; 0.8.0 gpu_worker.py:298; 0.25.0 gpu_worker.py:538",
    "kv_tokens": (
        "0.7.3 executor_base.py:111; 0.8.0 kv_cache_utils.py:1087; 0.25.0 kv_cache_utils.py:2146"
    ),
    "concurrency": "0.7.3 executor_base.py:116; 0.8.0 kv_cache_utils.py:1091",
    "graphs": (
        "0.7.3 model_runner.py:1562; 0.8.0 gpu_model_runner.py:3480; 0.25.0 model_runner.py:722"
    ),
    "engine_init": "0.7.3 llm_engine.py:436; 0.8.0 core.py:210; 0.25.0 core.py:337",
    "blocks": "0.8.0 loggers.py:148",
    "tasks": "0.8.0 api_server.py:1634",
    "listen": "0.7.3 api_server.py:937; 0.11.0 api_server.py:1912; 0.25.0 api_server.py:616",
    "routes": "0.7.3 launcher.py:28; 0.11.0 launcher.py:34",
    "route": "0.7.3 launcher.py:36; 0.11.0 launcher.py:42; 0.25.0 launcher.py:46",
    "ignored": "0.7.3 api_server.py:1013",
    "security": "0.7.3 api_server.py:964",
    "fell_asleep": (
        "0.7.3 executor_base.py:208; "
        "0.11.0 executor_base.py:189; "
        "0.11.1 abstract.py:306; "
        "0.25.0 abstract.py:327; "
        "0.33.0 abstract.py:409"
    ),
    "woke": (
        "0.7.3 executor_base.py:219; "
        "0.11.0 executor_base.py:205; "
        "0.11.1 abstract.py:324; "
        "0.25.0 abstract.py:345; "
        "0.33.0 abstract.py:427"
    ),
    "already_sleeping": (
        "0.7.3 executor_base.py:182; 0.11.1 abstract.py:300; 0.25.0 abstract.py:320; "
        "0.33.0 abstract.py:402"
    ),
    "not_sleeping": (
        "0.7.3 executor_base.py:196; 0.11.1 abstract.py:313; 0.25.0 abstract.py:333; "
        "0.33.0 abstract.py:416"
    ),
    "bad_tag": "0.8.5 executor_base.py:199; 0.11.1 abstract.py:316; 0.33.0 abstract.py:419",
    "cumem": "0.11.0 cumem.py:228; 0.11.1 cumem.py:239; 0.25.0 cumem.py:271; 0.33.0 cumem.py:283",
    "sleep_freed": (
        "0.7.3 worker.py:133; "
        "0.8.0 gpu_worker.py:117; "
        "0.11.1 gpu_worker.py:144; "
        "0.25.0 gpu_worker.py:211; "
        "0.33.0 gpu_worker.py:336"
    ),
    "api_sleep": "0.7.3 api_server.py:640",
    "api_wake": (
        "0.7.3 api_server.py:648; "
        "0.11.0 api_server.py:1016; "
        "0.13.0 api_router.py:38; "
        "0.33.0 api_router.py:50"
    ),
    "api_is_sleeping": "0.8.0 api_server.py:1024; 0.13.0 api_router.py:57",
    "prefix_reset": "0.8.0 block_pool.py:378; 0.25.0 block_pool.py:685; 0.33.0 block_pool.py:905",
    "prefix_reset_api": "0.8.0 api_server.py:995; 0.13.0 api_router.py:24; 0.25.0 api_router.py:38",
    "pause_state": "0.31.0 scheduler.py:3074",
    "stats": "0.7.3 metrics.py:455; 0.8.0 loggers.py:128",
    "discard": "0.31.0 abstract.py:449",
    "discarded": "0.31.0 cumem.py:320",
    "drain": "0.17.0 core.py:1012",
    "reload": "0.10.0 gpu_model_runner.py:2705; 0.25.0 gpu_model_runner.py:5484",
    "reloaded": "0.7.3 default_loader.py:268; 0.25.0 gpu_model_runner.py:5506",
    "backend": "0.25.0 sleep_mode_backend.py:184",
    "rpc_failed": "0.25.0 core.py:1449",
    "exception_caught": "0.25.0 server_utils.py:384",
    "crash_worker": "0.7.3 worker_base.py:620; 0.8.0 multiproc_executor.py:596",
    "crash_dump": "0.8.0 dump_input.py:69",
    "crash_core": "0.8.0 core.py:710",
    "crash_api": "0.7.3 client.py:341; 0.8.0 async_llm.py:480",
    "crash_exit": "0.7.3 launcher.py:116; 0.8.0 launcher.py:127",
    "wake_oom": "0.7.3 worker_base.py:620; 0.8.0 core.py:710",
}


def _parse(spec: str) -> tuple[tuple[VllmVersion, Site], ...]:
    table: list[tuple[VllmVersion, Site]] = []
    for entry in spec.split(";"):
        since, where = entry.split()
        file, line = where.rsplit(":", 1)
        table.append((v(since), Site(file, int(line))))
    return tuple(table)


_SITES = {key: _parse(spec) for key, spec in _SPECS.items()}


def site(key: str, version: VllmVersion) -> Site:
    """The site ``version`` logs message ``key`` from (the nearest older known one)."""
    table = _SITES[key]
    chosen = table[0][1]
    for since, candidate in table:
        if version >= since:
            chosen = candidate
    return chosen
