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


def test_the_policy_in_force_is_recorded_once_and_follows_a_committed_change(
    loaded_controllers, committed, django_assert_num_queries
):
    """Each intake names the policy it was received under; the registry keeps its hash, so an
    intake pays no query for it, and a committed edit makes the next intake name the new one."""
    from controllers.policy import dump_policy, in_force, policy_sha256

    controller = registry.controller("defero")
    first = committed(in_force, controller)
    assert first == policy_sha256(dump_policy(controller))
    with django_assert_num_queries(0):
        assert in_force(controller) == first
    edited = Controller.objects.get(slug="defero")
    edited.phone = "+31 20 000 0000"
    committed(edited.save)
    second = committed(in_force, registry.controller("defero"))
    assert second != first and second == policy_sha256(dump_policy(edited))
    assert set(edited.policy_versions.values_list("sha256", flat=True)) == {first, second}


def test_a_policy_version_rolled_back_is_recorded_again(loaded_controllers):
    from django.db import transaction

    from controllers.policy import in_force

    controller = registry.controller("defero")

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        sha = in_force(controller)
        raise RolledBack
    assert not controller.policy_versions.exists()
    assert in_force(controller) == sha  # not remembered: recorded again
    assert controller.policy_versions.filter(sha256=sha).exists()
