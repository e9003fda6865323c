"""Alerts: events raised where the console decides them, delivered by workers via Apprise.

``alerts.alert`` is the one call a deciding place makes (after its transaction commits, it
enqueues a task by name: nothing waits for a delivery); ``delivery`` fans an event out to
the rules that want it and sends each with retries; ``targets`` is the one door to Apprise.
"""
