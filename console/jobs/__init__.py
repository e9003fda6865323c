"""Jobs: launch, stop, sleep, wake and switch, as database rows run by Celery."""
