"""The registry as the public pages read it: cached in each process, never stale after a
committed change, and not grown by slugs that do not exist."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from controllers import registry
from controllers.models import Controller

pytestmark = pytest.mark.django_db


def version() -> int:
    return int(cache.get("dsar-registry-version", 0))


def test_the_registry_is_read_once_and_kept(loaded_controllers, django_assert_num_queries):
    registry.controller("defero")
    with django_assert_num_queries(0):
        assert registry.controller("defero").slug == "defero"


def test_a_change_without_a_signal_shows_only_after_invalidation(loaded_controllers):
    """What another process's change looks like to this one: the version key tells."""
    before = registry.controller("defero").legal_name
    Controller.objects.filter(slug="defero").update(legal_name="Renamed B.V.")  # no signal
    assert registry.controller("defero").legal_name == before  # kept: that is the cache
    registry.invalidate()
    assert registry.controller("defero").legal_name == "Renamed B.V."


def test_an_admin_save_is_seen_once_committed_never_before(
    loaded_controllers, django_capture_on_commit_callbacks
):
    registry.controller("defero")
    start = version()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        controller = Controller.objects.get(slug="defero")
        controller.legal_name = "Defero Renamed B.V."
        controller.save()
    assert version() == start  # not bumped inside the transaction: others would reload old rows
    assert callbacks
    for callback in callbacks:  # the commit
        callback()
    assert version() > start
    assert registry.controller("defero").legal_name == "Defero Renamed B.V."


def test_a_declaration_saved_in_the_admin_shows_on_the_public_page(
    loaded_controllers, client, committed
):
    client.get(reverse("controller", args=["defero"]))  # cached now
    declaration = Controller.objects.get(slug="defero").rights.get(right="erasure")
    declaration.condition = "Een voorwaarde die nergens anders staat"
    declaration.offer = "conditional"
    committed(declaration.save)
    page = client.get(reverse("controller", args=["defero"])).content.decode()
    assert "Een voorwaarde die nergens anders staat" in page


def test_slugs_that_do_not_exist_are_not_kept(loaded_controllers, client):
    for n in range(50):
        assert client.get(reverse("controller", args=[f"nobody-{n}"])).status_code == 404
    assert not any(key.startswith("nobody-") for key in registry._entries)
