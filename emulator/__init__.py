"""A vLLM-compatible server that emulates sleep mode version by version (0.7.3 - 0.33.0).

Same command line (``serve MODEL --port ... --enable-sleep-mode``), environment
(``VLLM_SERVER_DEV_MODE``), endpoints, status codes, bodies, log lines and ``/metrics``
names as the vLLM release it emulates (``--emulate-version``), with memory and time modelled
from the physics (``physics``) or, with ``--device cuda``, really held on the GPU.
"""
