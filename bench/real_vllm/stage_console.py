"""Download the console's own wheels for the GPU machine (Python 3.12, manylinux, x86-64).

Reads ``[project].dependencies`` from pyproject.toml, downloads them with their
dependencies, and drops what the machine already has: the packages of its image (KINDS.md)
and the wheels staged with vLLM (``--staged``, the parts of ``stage.sh``; the console reads
those from ``/tmp/vllm-site``, after its own folder on ``PYTHONPATH``).

    python3 bench/real_vllm/stage_console.py OUTDIR --staged STAGED_DIR
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# On the GPU image already (KINDS.md, "Python packages already there") at versions that do.
ON_HOST = {
    "psutil", "httpx", "httpcore", "h11", "idna", "certifi", "anyio", "sniffio", "nvidia-ml-py",
    "prometheus-client", "pyyaml", "six", "python-dateutil", "attrs", "setuptools", "uvloop",
    "packaging", "cffi", "pycparser", "click", "typing-extensions",
}  # fmt: skip
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64",
             "manylinux_2_31_x86_64", "manylinux_2_34_x86_64"]  # fmt: skip


def project_name(wheel: Path) -> str:
    return re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--staged", type=Path, action="append", default=[])
    args = parser.parse_args()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    platforms = [flag for name in PLATFORMS for flag in ("--platform", name)]
    args.out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
         "--python-version", "3.12", "--implementation", "cp", *platforms,
         "-d", str(args.out), *deps],
        check=True,
    )  # fmt: skip
    staged = {project_name(w) for folder in args.staged for w in folder.rglob("*.whl")}
    for wheel in sorted(args.out.glob("*.whl")):
        name = project_name(wheel)
        if name in ON_HOST or name in staged:
            wheel.unlink()
    kept = sorted(args.out.glob("*.whl"))
    size = sum(w.stat().st_size for w in kept)
    print(f"{len(kept)} wheels, {size / 1e6:.1f} MB: {' '.join(project_name(w) for w in kept)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
