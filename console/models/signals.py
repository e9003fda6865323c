"""Signals the data model sends for the realtime feed and the gateway (no model imports)."""

from django.dispatch import Signal

# Sent by ``console.models.instances.transition`` after a transition moved a row, with
# ``instance_id``, and ``state``, ``changed_at`` and ``detail`` (None when the move left the
# detail as it was); ``console.realtime.notify`` publishes the row once it is committed.
instance_state_changed = Signal()
# Sent by ``console.models.jobs.transition_job`` after a job moved, with ``job_id``.
job_state_changed = Signal()
