"""The flags of ``vllm serve``, and which flag a written argument stands for.

vLLM reads its command line with ``FlexibleArgumentParser``, an ``argparse`` parser with
``allow_abbrev`` left on (vllm 0.11.0 ``utils/__init__.py``; still so in 0.25): it turns
"_" into "-" in a flag's name (up to the first "."), splits ``--x=v``, and takes any
unique prefix of a long flag for that flag, so ``--api-k`` is ``--api-key`` and ``--hos``
is ``--host``; a prefix shared by several flags is an argparse error. Judging an argument
by its spelling alone therefore misses what the engine will do with it.

The list below is vLLM 0.11's ``vllm serve --help`` (engine, frontend and serve-command
flags). It only has to be complete where it decides a question: a written name is taken
for every listed flag it is a prefix of, so a flag missing here can only make an
abbreviation look unique where vLLM finds it ambiguous, and refusing that is harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENGINE = """
    --model --runner --convert --task --tokenizer --tokenizer-mode --trust-remote-code
    --dtype --seed --hf-config-path --allowed-local-media-path --allowed-media-domains
    --revision --code-revision --rope-scaling --rope-theta --tokenizer-revision
    --max-model-len --quantization --enforce-eager --max-logprobs --logprobs-mode
    --disable-sliding-window --disable-cascade-attn --skip-tokenizer-init
    --enable-prompt-embeds --served-model-name --config-format --hf-token --hf-overrides
    --pooler-config --override-pooler-config --logits-processor-pattern --generation-config
    --override-generation-config --enable-sleep-mode --model-impl --override-attention-dtype
    --logits-processors --io-processor-plugin --load-format --download-dir
    --safetensors-load-strategy --model-loader-extra-config --ignore-patterns
    --use-tqdm-on-load --pt-load-map-location --reasoning-parser --guided-decoding-backend
    --structured-outputs-config --distributed-executor-backend --pipeline-parallel-size
    --tensor-parallel-size --decode-context-parallel-size --data-parallel-size
    --data-parallel-rank --data-parallel-start-rank --data-parallel-size-local
    --data-parallel-address --data-parallel-rpc-port --data-parallel-backend
    --data-parallel-hybrid-lb --data-parallel-external-lb --enable-expert-parallel
    --enable-dbo --dbo-decode-token-threshold --dbo-prefill-token-threshold --enable-eplb
    --eplb-config --expert-placement-strategy --max-parallel-loading-workers
    --ray-workers-use-nsight --disable-custom-all-reduce --worker-cls --worker-extension-cls
    --enable-multimodal-encoder-data-parallel --block-size --gpu-memory-utilization
    --kv-cache-memory --swap-space --kv-cache-dtype --num-gpu-blocks-override
    --enable-prefix-caching --prefix-caching-hash-algo --cpu-offload-gb
    --calculate-kv-scales --kv-sharing-fast-prefill --mamba-cache-dtype
    --mamba-ssm-cache-dtype --limit-mm-per-prompt --media-io-kwargs --mm-processor-kwargs
    --mm-processor-cache-gb --disable-mm-preprocessor-cache --mm-processor-cache-type
    --mm-shm-cache-max-object-size-mb --mm-encoder-tp-mode --interleave-mm-strings
    --skip-mm-profiling --video-pruning-rate --enable-lora --enable-lora-bias --max-loras
    --max-lora-rank --lora-extra-vocab-size --lora-dtype --max-cpu-loras
    --fully-sharded-loras --default-mm-loras --show-hidden-metrics-for-version
    --otlp-traces-endpoint --collect-detailed-traces --max-num-batched-tokens
    --max-num-seqs --max-num-partial-prefills --max-long-partial-prefills
    --cuda-graph-sizes --long-prefill-token-threshold --num-lookahead-slots
    --scheduling-policy --enable-chunked-prefill --disable-chunked-mm-input
    --scheduler-cls --disable-hybrid-kv-cache-manager --async-scheduling
    --speculative-config --kv-transfer-config --kv-events-config --compilation-config
    --additional-config --disable-log-stats --enable-log-requests --disable-log-requests
    --aggregate-engine-logging --max-seq-len-to-capture --sleep-mode-backend
    --sleep-mode-offload-cudagraph --sleep-preserve-parameter-names --long-lora-scaling-factors
    --enable-nccl-comm-suspend
"""
_FRONTEND = """
    --host --port --uds --uvicorn-log-level --disable-uvicorn-access-log
    --disable-access-log-for-endpoints --allow-credentials --allowed-origins
    --allowed-methods --allowed-headers --api-key --lora-modules --chat-template
    --chat-template-content-format --trust-request-chat-template --response-role
    --ssl-keyfile --ssl-certfile --ssl-ca-certs --enable-ssl-refresh --ssl-cert-reqs
    --ssl-ciphers --root-path --middleware --return-tokens-as-token-ids
    --disable-frontend-multiprocessing --enable-request-id-headers --enable-auto-tool-choice
    --exclude-tools-when-tool-choice-none --tool-call-parser --tool-parser-plugin
    --tool-server --log-config-file --max-log-len --disable-fastapi-docs
    --enable-prompt-tokens-details --enable-server-load-tracking --enable-force-include-usage
    --enable-tokenizer-info-endpoint --enable-log-outputs --h11-max-incomplete-event-size
    --h11-max-header-count --log-error-stack --default-chat-template-kwargs
    --headless --api-server-count --config --help
"""
# Boolean config fields are BooleanOptionalAction flags since vLLM 0.10: each has a --no- twin.
_BOOLEAN = """
    --trust-remote-code --enforce-eager --enable-sleep-mode --enable-prefix-caching
    --enable-chunked-prefill --enable-lora --enable-expert-parallel --async-scheduling
    --disable-log-stats --enable-log-requests --skip-tokenizer-init --enable-prompt-embeds
    --disable-sliding-window --disable-custom-all-reduce --enable-eplb --enable-dbo
    --use-tqdm-on-load --calculate-kv-scales --fully-sharded-loras --enable-lora-bias
    --disable-cascade-attn --disable-chunked-mm-input --kv-sharing-fast-prefill
    --interleave-mm-strings --skip-mm-profiling --data-parallel-hybrid-lb
    --data-parallel-external-lb --ray-workers-use-nsight --aggregate-engine-logging
    --disable-hybrid-kv-cache-manager --enable-log-outputs --log-error-stack
"""
SERVE_FLAGS = frozenset(
    (*_ENGINE.split(), *_FRONTEND.split(), *(f"--no-{flag[2:]}" for flag in _BOOLEAN.split()))
)

# Flags whose values are secrets, by name; and by shape, any flag named like one.
SECRET_FLAGS = frozenset({"--api-key", "--hf-token"})
_SECRET_NAME_RE = re.compile(r"(?:token|key|secret|password)$")


@dataclass(frozen=True)
class WrittenFlag:
    """What vLLM makes of one ``--name[=value]`` argument.

    ``written`` is the name as vLLM normalises it (``--api_k=x`` → ``--api-k``);
    ``meanings`` the serve flags it stands for: one for an exact name or a unique prefix,
    several for an ambiguous prefix (an argparse error), none for a name vLLM does not know.
    """

    written: str
    meanings: tuple[str, ...]

    def could_be(self, flags: frozenset[str]) -> tuple[str, ...]:
        """The flags among ``flags`` this argument may set."""
        names = dict.fromkeys((self.written, *self.meanings))
        return tuple(name for name in names if name in flags)

    @property
    def is_secret(self) -> bool:
        """Whether its value may be a secret, however the flag is spelt."""
        return any(_looks_secret(name) for name in (self.written, *self.meanings))


def _looks_secret(name: str) -> bool:
    return name in SECRET_FLAGS or bool(_SECRET_NAME_RE.search(name))


def read_flag(arg: str, known: frozenset[str] = SERVE_FLAGS) -> WrittenFlag | None:
    """The flag ``arg`` names for vLLM's parser, or None when it is not a long flag."""
    if not arg.startswith("--") or arg == "--":
        return None
    # FlexibleArgumentParser: "_" becomes "-" only before the first "." ("--x.key v" sets a
    # key of --x's JSON value), and the value after "=" is left alone.
    written = arg.split("=", 1)[0].split(".", 1)[0].replace("_", "-")
    return WrittenFlag(written, _meanings(written, known))


def _meanings(written: str, known: frozenset[str]) -> tuple[str, ...]:
    if written == "--":
        return ()
    if written in known:
        return (written,)
    return tuple(sorted(flag for flag in known if flag.startswith(written)))
