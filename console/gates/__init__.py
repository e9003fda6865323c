"""The Redis gates between the jobs and the gateway's web processes, below both.

What the workers (a sleep closing the gate and draining in-flight requests, the idle
policy reading activity) and the web processes (admitting, holding, counting requests)
share lives here: the Redis key names (``redis_keys``), the atomic Lua steps
(``scripts``), the drain (``drain``), the push of instance state changes (``changes``)
and the settings they read (``config``). It imports only the data model, so
``console.jobs`` and ``console.gateway`` can both import it without importing each other.
"""
