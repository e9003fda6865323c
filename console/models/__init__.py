"""The console's data model: hosts, GPUs, instances, jobs, events, samples, audit, keys."""

from console.models.audit import AuditEntry, AuditEntryImmutableError, Outcome
from console.models.events import EngineEvent
from console.models.gateway import GatewaySample, InferenceKey
from console.models.hosts import HEARTBEAT_STALE_AFTER, Gpu, Host
from console.models.identities import SignOnIdentity
from console.models.instances import TRANSITIONS, Instance, InstanceState, transition
from console.models.jobs import JOB_TRANSITIONS, Job, JobKind, JobState, transition_job
from console.models.notifications import NotificationDelivery, NotificationRule
from console.models.samples import MemorySample, Resolution, Subject
from console.models.schedules import InstanceSchedule
from console.models.transitions import IllegalTransitionError

__all__ = [
    "HEARTBEAT_STALE_AFTER",
    "JOB_TRANSITIONS",
    "TRANSITIONS",
    "AuditEntry",
    "AuditEntryImmutableError",
    "EngineEvent",
    "GatewaySample",
    "Gpu",
    "Host",
    "IllegalTransitionError",
    "InferenceKey",
    "Instance",
    "InstanceSchedule",
    "InstanceState",
    "Job",
    "JobKind",
    "JobState",
    "MemorySample",
    "NotificationDelivery",
    "NotificationRule",
    "Outcome",
    "Resolution",
    "SignOnIdentity",
    "Subject",
    "transition",
    "transition_job",
]
