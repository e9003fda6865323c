"""Settings for the test run: the console's, with a real Redis and a private key prefix.

Plain ``pytest`` talks to the machine's Redis (scripts/test may choose another one); the
prefix keeps this run's Celery queues apart from any other console or test run on it.
Subprocesses that tests start get these values through their environment.
"""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("CONSOLE_REDIS_PREFIX", f"test-{os.getpid()}:")
# pytest-xdist workers inherit the controller's environment, prefix included: each worker
# gets its own, or their agents (all of host "gpu-test") take each other's jobs.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["CONSOLE_REDIS_PREFIX"] += f"{worker}:"

from console.settings import *  # noqa: F403
