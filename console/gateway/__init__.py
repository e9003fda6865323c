"""The sleep-aware ``/v1/`` gateway: OpenAI-compatible, routes by model, never wakes a crash.

Requests reach an engine only while the console knows it is awake and no sleep is in
flight for it (``gate``); a request for a sleeping model holds while one deduplicated
activate job wakes it (``hold``); API clients present inference keys (``auth``); idle
instances are put to sleep by a beat task (``idle``); counters go to Redis (``figures``).
"""
