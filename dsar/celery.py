"""The Celery app. Configuration comes from Django settings (CELERY_* keys)."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsar.settings")

app = Celery("dsar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect  # each child of the prefork pool, once forked
@worker_ready.connect  # the process that runs the tasks with --pool=solo (the Procfile's)
def freeze_start_up_heap(**_: object) -> None:
    """Move what start-up made (Django, the apps, their modules: ~110 MB of objects that live as
    long as the process) out of the cyclic garbage collector's reach.

    A task that handles many rows, such as a search of a million, allocates tuples by the
    million; these set off collections, and those of the older generations walk Django's
    whole heap again and again for garbage it never holds: ~25% of a million-row
    search+stage (bench/RESULTS.md). Frozen objects are still freed by reference counting;
    only a reference cycle among them would never be collected, so the garbage start-up left
    is collected first, once."""
    gc.collect()
    gc.freeze()
