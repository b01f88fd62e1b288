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
    """Each intake names the policy it was received under. On the registry's instances the hash
    is noted once, so an intake pays no query for it; a committed edit gives new instances, and
    the next intake names the new policy."""
    from controllers.policy import dump_policy, in_force, policy_sha256

    shared = registry.controller("defero")
    with django_assert_num_queries(2):  # its text compared with the kept one, and kept
        first = committed(in_force, shared)
    assert first == policy_sha256(dump_policy(shared))
    with django_assert_num_queries(0):
        assert in_force(shared) == first
    edited = Controller.objects.get(slug="defero")
    edited.phone = "+31 20 000 0000"
    committed(edited.save)
    # A request being received under the old instance when the edit committed still names the
    # policy its deadlines came from: that instance's, whole (its rows were loaded together).
    assert in_force(shared) == first
    second = committed(in_force, registry.controller("defero"))
    assert second != first and second == policy_sha256(dump_policy(edited))
    assert set(edited.policy_versions.values_list("sha256", flat=True)) == {first, second}


def test_an_instance_not_from_the_registry_is_read_each_time(loaded_controllers, committed):
    """Staff entry and mail in load their own instance, which a caller may change: its policy
    is never taken from a note."""
    from controllers.policy import dump_policy, in_force, policy_sha256

    own = Controller.objects.get(slug="defero")
    first = committed(in_force, own)
    own.phone = "+31 20 000 0001"
    committed(own.save)
    assert committed(in_force, own) == policy_sha256(dump_policy(own)) != first


def test_a_policy_version_rolled_back_is_recorded_again(loaded_controllers):
    from django.db import transaction

    from controllers.policy import in_force

    shared = registry.controller("defero")

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        sha = in_force(shared)
        raise RolledBack
    assert not shared.policy_versions.exists()
    assert in_force(shared) == sha  # not noted: recorded again
    assert shared.policy_versions.filter(sha256=sha).exists()
