"""The registry as the public pages read it, kept in each process for a short while.

Every request form needs its controller, the supervisory authority and the eight declarations:
two queries and a dozen model instances, on the hottest path of the product (measured: about a
sixth of an intake POST). They change only when an administrator edits them or load_policies
runs; then a version number in the shared cache is bumped and every process reloads.

In production the cache is Redis, shared by all processes, so a change shows at once. The demo's
cache is each process's own: a change that ``load_policies`` makes from another process shows in
the running site within ``TTL`` seconds (an edit in the admin, the same process, at once).

The instances handed out are shared between requests: read them, never change them (the one
exception: ``controllers.policy.in_force`` notes on an instance the hash of the policy it holds,
a value derived from it and the same for every reader).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Prefetch

from .models import Controller, RightDeclaration

log = logging.getLogger(__name__)
TTL = 30.0
_VERSION_KEY = "dsar-registry-version"
# Marks the instances the registry hands out (``is_shared``).
SHARED = "_dsar_registry_shared"
_lock = threading.Lock()
_entries: dict[str, tuple[float, int, Any]] = {}


def _version() -> int:
    try:
        return int(cache.get(_VERSION_KEY, 0))
    except Exception:
        return -1  # the cache is down: fall back to the TTL alone


def _load(key: str) -> Any:
    # Everything the policy file holds, from one load: the hash each intake records of it
    # (controllers.policy.in_force) is of what this instance says, never of a mix of its rows
    # and rows read later.
    queryset = Controller.objects.select_related("supervisory_authority").prefetch_related(
        Prefetch("rights", queryset=RightDeclaration.objects.order_by("pk")),
        "data_categories",
        "recipients",
    )
    if key == "*":
        found = list(queryset.order_by("legal_name"))
    else:
        found = [c for c in [queryset.filter(slug=key).first()] if c is not None]
    for instance in found:
        instance.__dict__[SHARED] = True
    return found if key == "*" else next(iter(found), None)


def is_shared(controller: Controller) -> bool:
    """Whether this instance is one the registry hands out (loaded once, never changed)."""
    return controller.__dict__.get(SHARED, False)


def _cached(key: str) -> Any:
    version = _version()
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
    if entry and entry[1] == version and now - entry[0] < TTL:
        return entry[2]
    value = _load(key)
    if value is not None:  # a miss is not kept: any slug in a URL would grow the cache
        with _lock:
            _entries[key] = (now, version, value)
    return value


def controller(slug: str) -> Controller | None:
    """The controller with this slug (its authority and declarations loaded), or None."""
    return _cached(slug)


def controllers() -> list[Controller]:
    """Every controller, by name, loaded the same way."""
    return _cached("*")


def invalidate_after_commit(**kwargs: Any) -> None:
    """For the models' post_save and post_delete: bump the version once the change is
    committed. Bumped before, another process could reload the old rows under the new version
    and keep them for the TTL."""
    transaction.on_commit(invalidate)


def invalidate(**kwargs: Any) -> None:
    """Forget what this process holds, and tell the others (called by load_policies after its
    transaction commits, and through ``invalidate_after_commit`` by the models' signals)."""
    with _lock:
        _entries.clear()
    try:
        if not cache.add(_VERSION_KEY, 1, timeout=None):
            cache.incr(_VERSION_KEY)
    except Exception:
        # The cache is down: the other processes fall back to the TTL.
        log.warning("registry version not bumped (cache unavailable)", exc_info=True)
