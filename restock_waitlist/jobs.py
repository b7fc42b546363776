"""Putting work on the django-q2 queue: task names and ids in, nothing else.

Every task the app queues goes through :func:`enqueue`; work caused by a write goes through
:func:`enqueue_on_commit`, so a rolled-back transaction queues nothing.
"""

import os
from functools import partial

from django.db import transaction

from restock_waitlist.conf import app_settings

#: ``{(process id, queue): broker}``: django-q2 builds a broker, and so opens a new Redis
#: connection, for every task queued unless it is given one (3.7 ms against 0.2 ms here).
_brokers = {}


def enqueue(task_name, *args):
    """Queue ``restock_waitlist.tasks.<task_name>(*args)`` with ``Q_OPTIONS``; the task id."""
    from django_q.tasks import async_task

    q_options = dict(app_settings.Q_OPTIONS or {})
    q_options.setdefault("broker", _broker(q_options.get("cluster")))
    return async_task(f"restock_waitlist.tasks.{task_name}", *args, q_options=q_options)


def enqueue_on_commit(task_name, *args):
    """:func:`enqueue` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, task_name, *args))


def _broker(cluster):
    """This process's broker for ``cluster``'s queue; ``None`` (django-q2 builds one) for
    the ORM broker, which holds a database connection that belongs to a thread."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    if Conf.ORM:
        return None
    key = (os.getpid(), cluster)
    if key not in _brokers:
        _brokers[key] = get_broker(cluster)
    return _brokers[key]
