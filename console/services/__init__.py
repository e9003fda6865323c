"""``manage.py up``: run the whole console on one machine as a small process tree."""
