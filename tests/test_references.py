"""References are numbered per year without gaps, also under concurrent intake."""

from __future__ import annotations

import os
import threading

import pytest
import time_machine
from django.db import connections, transaction

from cases.audit import verify_chain
from cases.intake import receive_case
from cases.models import Case

from .conftest import require_service
from .test_reminders import at


def intake(controller, n: int) -> Case:
    return receive_case(
        controller=controller,
        right="access",
        name=f"Subject {n}",
        email=f"s{n}@example.org",
        language="nl",
    )


@pytest.mark.django_db
def test_a_rolled_back_intake_takes_no_number(loaded_controllers):
    controller = loaded_controllers["defero"]
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        first = intake(controller, 1)
        with pytest.raises(RuntimeError), transaction.atomic():
            intake(controller, 2)
            raise RuntimeError("the request's transaction fails after numbering")
        second = intake(controller, 3)
    assert (first.reference, second.reference) == ("DSAR-2026-000001", "DSAR-2026-000002")


@pytest.mark.django_db
def test_each_year_starts_again_at_one(loaded_controllers):
    controller = loaded_controllers["defero"]
    with time_machine.travel(at("2026-12-31T22:00"), tick=False):
        december = intake(controller, 1)
    # 00:30 in Amsterdam on New Year's day is still 2026 in UTC: the local year counts.
    with time_machine.travel(at("2027-01-01T00:30"), tick=False):
        january = intake(controller, 2)
    assert (december.reference, january.reference) == ("DSAR-2026-000001", "DSAR-2027-000001")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_intakes_get_distinct_gap_free_numbers(loaded_controllers):
    require_service(
        os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        "needs PostgreSQL: SQLite serialises writers, so there is no race to test",
    )
    controller = loaded_controllers["defero"]
    workers = 6
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        try:
            barrier.wait()
            intake(controller, n)
        except BaseException as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connections.close_all()

    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        # The year's counter row does not exist yet: the first inserts race as well.
        threads = [threading.Thread(target=submit, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    references = sorted(Case.objects.values_list("reference", flat=True))
    assert references == [f"DSAR-2026-{n:06d}" for n in range(1, workers + 1)]
    assert all(verify_chain(case) is None for case in Case.objects.all())
