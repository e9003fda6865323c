"""The console's own Prometheus ``/metrics``: instance states, jobs, sleep/wake, memory."""
