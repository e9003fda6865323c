"""``vllm serve`` flags the emulator accepts and ignores (it does not model them).

Launch templates written for real vLLM pass them; a flag vLLM itself does not know is
still an argparse usage error (exit status 2), as with ``vllm serve``.
"""

from __future__ import annotations

_FLAG_NAMES = """
    --allowed-headers --allowed-methods --allowed-origins --api-server-count --block-size
    --chat-template --chat-template-content-format --compilation-config -O --config
    --config-format --cpu-offload-gb --data-parallel-address --data-parallel-rpc-port
    --data-parallel-size -dp --data-parallel-size-local --disable-custom-all-reduce
    --disable-fastapi-docs --disable-frontend-multiprocessing --disable-log-requests
    --disable-sliding-window --download-dir --dtype
    --enable-auto-tool-choice --enable-chunked-prefill --no-enable-chunked-prefill
    --enable-expert-parallel --enable-log-requests --enable-lora --enable-nccl-comm-suspend
    --enable-prefix-caching --no-enable-prefix-caching --enable-prompt-tokens-details
    --enable-request-id-headers --enable-server-load-tracking --enforce-eager
    --generation-config --guided-decoding-backend --headless --hf-config-path --hf-overrides
    --hf-token --kv-cache-dtype --kv-cache-memory --kv-transfer-config
    --limit-mm-per-prompt --load-format --long-lora-scaling-factors --lora-dtype
    --lora-modules --max-cpu-loras --max-log-len --max-logprobs --max-lora-rank
    --max-loras --max-num-batched-tokens --max-num-seqs --max-seq-len-to-capture
    --middleware --mm-encoder-tp-mode --model-impl --num-gpu-blocks-override
    --override-generation-config --pipeline-parallel-size -pp --prefix-caching-hash-algo
    --quantization -q --reasoning-parser --response-role --return-tokens-as-token-ids
    --revision --root-path --scheduling-policy --seed --skip-tokenizer-init
    --sleep-mode-backend --sleep-mode-offload-cudagraph --sleep-preserve-parameter-names
    --speculative-config --ssl-ca-certs --ssl-cert-reqs --ssl-certfile --ssl-keyfile
    --structured-outputs-config --swap-space --task --tokenizer --tokenizer-mode
    --tokenizer-revision --tool-call-parser --tool-parser-plugin --trust-remote-code
    --uvicorn-log-level --worker-cls
"""
IGNORED_VLLM_FLAGS = frozenset(_FLAG_NAMES.split())


def unknown_flags(tokens: list[str]) -> list[str]:
    """The flags among ``tokens`` that ``vllm serve`` itself would reject."""
    flags = (token.split("=", 1)[0] for token in tokens if token.startswith("-"))
    return [flag for flag in flags if flag not in IGNORED_VLLM_FLAGS]
