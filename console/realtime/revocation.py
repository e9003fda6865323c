"""Cut a user's open pages off as soon as the user loses access.

Saving a user (``is_active`` off), changing their groups or deleting them makes their
pages re-check at once (after the change commits); signing out makes them re-check their
session, so the pages of that session close and the user's other sessions stay open.
Changes that bypass the ORM's signals (``QuerySet.update``, raw SQL) are caught by the
pages' periodic re-check instead.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from console.realtime.publisher import recheck_user

User = get_user_model()


def recheck_on_commit(user_id: int) -> None:
    transaction.on_commit(lambda: recheck_user(user_id))


@receiver(post_save, sender=User, dispatch_uid="realtime-user-saved")
def on_user_saved(
    sender: Any, instance: Any, created: bool, update_fields: Any, **kwargs: Any
) -> None:
    # Every login saves last_login alone: nothing about access changed.
    if not created and set(update_fields or ()) != {"last_login"}:
        recheck_on_commit(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="realtime-user-deleted")
def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    recheck_on_commit(instance.pk)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="realtime-user-groups")
def on_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    # From the user's side (user.groups.remove) the instance is the user; from the group's
    # side (group.user_set.remove) the users are in pk_set (None after a clear).
    if not reverse:
        recheck_on_commit(instance.pk)
    else:
        for user_id in pk_set or instance.user_set.values_list("pk", flat=True):
            recheck_on_commit(user_id)


@receiver(user_logged_out, dispatch_uid="realtime-user-logged-out")
def on_user_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    # Django sends this signal before it flushes the session: end the session first, or
    # a page re-checking at once could still find it and stay open.
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        session.delete()
    recheck_user(user.pk)
