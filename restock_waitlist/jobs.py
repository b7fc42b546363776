"""Putting work on the django-q2 queue: task names and ids in, nothing else.

Every task the app queues goes through :func:`enqueue`; work caused by a write goes through
:func:`enqueue_on_commit`, so a rolled-back transaction queues nothing.
"""

from functools import partial

from django.db import transaction

from restock_waitlist.conf import app_settings


def enqueue(task_name, *args):
    """Queue ``restock_waitlist.tasks.<task_name>(*args)`` with ``Q_OPTIONS``; the task id."""
    from django_q.tasks import async_task

    return async_task(
        f"restock_waitlist.tasks.{task_name}", *args, q_options=dict(app_settings.Q_OPTIONS or {})
    )


def enqueue_on_commit(task_name, *args):
    """:func:`enqueue` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, task_name, *args))
