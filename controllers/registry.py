"""The registry as the public pages read it, kept in each process for a short while.

Every request form needs its controller, the supervisory authority and the eight declarations:
two queries and a dozen model instances, on the hottest path of the product (measured: about a
sixth of an intake POST). They change only when an administrator edits them or load_policies
runs; then a version number in the shared cache is bumped and every process reloads.

In production the cache is Redis, shared by all processes, so a change shows at once. The demo's
cache is each process's own: a change that ``load_policies`` makes from another process shows in
the running site within ``TTL`` seconds (an edit in the admin, the same process, at once).

The instances handed out are shared between requests: read them, never change them. The same
store keeps what is derived from them (``remembered``): the hash of each controller's policy in
force, which every intake records (``controllers.policy.in_force``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models import Prefetch

from .models import Controller, RightDeclaration

log = logging.getLogger(__name__)
T = TypeVar("T")
TTL = 30.0
_VERSION_KEY = "dsar-registry-version"
_lock = threading.Lock()
_entries: dict[str, tuple[float, int, Any]] = {}


def _version() -> int:
    try:
        return int(cache.get(_VERSION_KEY, 0))
    except Exception:
        return -1  # the cache is down: fall back to the TTL alone


def _load(key: str) -> Any:
    queryset = Controller.objects.select_related("supervisory_authority").prefetch_related(
        Prefetch("rights", queryset=RightDeclaration.objects.order_by("pk"))
    )
    if key == "*":
        return list(queryset.order_by("legal_name"))
    return queryset.filter(slug=key).first()


def _lookup(key: str) -> tuple[Any, int, float]:
    """What is kept under ``key`` if it is still fresh (else None), the registry's version and
    the time: what a value computed now is kept with."""
    version = _version()
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
    fresh = entry is not None and entry[1] == version and now - entry[0] < TTL
    return (entry[2] if fresh else None), version, now


def _keep(key: str, version: int, now: float, value: Any) -> None:
    with _lock:
        _entries[key] = (now, version, value)


def _cached(key: str) -> Any:
    value, version, now = _lookup(key)
    if value is None:
        value = _load(key)
        if value is not None:  # a miss is not kept: any slug in a URL would grow the cache
            _keep(key, version, now, value)
    return value


def remembered(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept like the controllers: until the registry changes or for ``TTL``
    seconds. ``key`` must not be a slug (slugs have no ":"), and ``compute`` must not return
    None. The value is kept only once the transaction commits: one computed from rows that are
    then rolled back is computed again."""
    value, version, now = _lookup(key)
    if value is None:
        value = compute()
        transaction.on_commit(functools.partial(_keep, key, version, now, value))
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
