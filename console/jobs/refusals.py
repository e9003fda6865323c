"""A job refused for memory: the error its job ends with, and a ``job_refused`` alert."""

from __future__ import annotations

from console.jobs.fit import Fit
from console.jobs.service import JobRefusedError
from console.models.notifications import AlertKind
from console.notifications.alerts import alert


def refused(verdict: Fit, why: str = "") -> JobRefusedError:
    """The error to raise for a failed fit; alerts with the numbers that decided it.

    Call it outside the transaction that judged the fit: an alert leaves on commit.
    """
    reason = verdict.reason + why
    alert(AlertKind.JOB_REFUSED, reason, **verdict.figures)
    return JobRefusedError(reason)
