"""The sleep-aware ``/v1/`` gateway: OpenAI-compatible, routes by model, never wakes a crash.

The web processes' side only. Requests reach an engine only while the console knows it is
awake and no sleep is in flight for it (``gate``); a request for a sleeping model holds
while one deduplicated switch job wakes it (``hold``); API clients present inference
keys (``auth``); counters go to Redis (``figures``). What the jobs share with it (Redis
keys and scripts, the drain before a sleep, state changes pushed to every web process)
is in ``console.gates``; the idle policy that puts unused instances to sleep is a job
(``console.jobs.idle``).
"""
