"""`manage.py deadline`: the legal clock from the command line, for a country or a controller."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


def deadline(*args: str) -> str:
    out = io.StringIO()
    call_command("deadline", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_one_month_is_the_default_and_moves_past_easter():
    # 5 April 2026 is Easter Sunday and 6 April Easter Monday: the month ends Tuesday 7 April.
    assert deadline("--country", "NL", "--received", "2026-03-05T10:00") == (
        "2026-04-07T23:59:59+02:00"
    )


def test_a_received_time_with_an_offset_is_taken_as_given():
    # 23:30 UTC on 4 March is 00:30 on 5 March in Amsterdam: received on the 5th.
    assert deadline("--country", "NL", "--received", "2026-03-04T23:30+00:00") == (
        "2026-04-07T23:59:59+02:00"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--hours", "48"], "2026-03-07T10:00:00+01:00"),  # exact, a Saturday: not moved
        (["--weeks", "4"], "2026-04-02T23:59:59+02:00"),  # same weekday (Thursday)
        (["--days", "10"], "2026-03-16T23:59:59+01:00"),  # 15 March is a Sunday
        (["--months", "3"], "2026-06-05T23:59:59+02:00"),
        (["--paused-days", "3"], "2026-04-08T23:59:59+02:00"),  # 8 April, a Wednesday
    ],
)
def test_each_period_unit(args, expected):
    assert deadline("--country", "NL", "--received", "2026-03-05T10:00", *args) == expected


def test_belgium_works_on_good_friday_but_not_on_21_july():
    # 3 April 2026 is Good Friday: a working day in Belgium, a holiday in the Netherlands.
    assert deadline("--country", "BE", "--received", "2026-03-03T09:00") == (
        "2026-04-03T23:59:59+02:00"
    )
    assert deadline("--country", "NL", "--received", "2026-03-03T09:00") == (
        "2026-04-07T23:59:59+02:00"
    )
    # 21 July 2026 (Tuesday) is the Belgian national holiday.
    assert deadline("--country", "BE", "--received", "2026-06-21T09:00") == (
        "2026-07-22T23:59:59+02:00"
    )


def test_a_controller_with_a_48_hour_promise(loaded_controllers):
    result = json.loads(
        deadline(
            "--controller", "smartlockr", "--right", "access", "--received", "2026-03-05T10:00"
        )
    )
    assert set(result) == {"declared", "statutory", "extended", "notice_by", "effective"}
    assert result["declared"] == "2026-03-07T10:00:00+01:00"
    assert result["statutory"] == "2026-04-07T23:59:59+02:00"
    assert result["notice_by"] == result["statutory"]
    assert result["extended"] == "2026-06-05T23:59:59+02:00"
    assert result["effective"] == result["declared"]


def test_a_controller_with_a_four_week_promise(loaded_controllers):
    result = json.loads(
        deadline("--controller", "defero", "--right", "erasure", "--received", "2026-03-05T10:00")
    )
    assert result["declared"] == "2026-04-02T23:59:59+02:00"
    assert result["effective"] == result["declared"]


def test_a_controller_without_a_promise_has_the_statutory_deadline(loaded_controllers):
    result = json.loads(
        deadline(
            "--controller", "smart-site", "--right", "access", "--received", "2026-03-05T10:00"
        )
    )
    assert result["declared"] is None
    assert result["effective"] == result["statutory"] == "2026-04-07T23:59:59+02:00"


def test_a_belgian_controller_uses_brussels_time_and_belgian_holidays(loaded_controllers):
    result = json.loads(
        deadline(
            "--controller", "smartphoto", "--right", "access", "--received", "2026-03-03T09:00"
        )
    )
    assert result["statutory"] == "2026-04-03T23:59:59+02:00"


def test_an_extension_makes_the_extended_deadline_effective(loaded_controllers):
    result = json.loads(
        deadline("--controller", "smart-site", "--received", "2026-03-05T10:00", "--extended")
    )
    assert result["effective"] == result["extended"] == "2026-06-05T23:59:59+02:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "NL", "--received", "yesterday"], "not an ISO 8601 datetime"),
        (["--country", "NL", "--received", "2026-03-05", "--days", "0"], "at least 1"),
        (["--country", "NL", "--received", "2026-03-05", "--paused-days", "-1"], "paused"),
        (["--controller", "nobody", "--received", "2026-03-05"], "no controller 'nobody'"),
        (["--controller", "defero", "--received", "2026-03-05", "--days", "3"], "period option"),
        # Past what a calendar holds: said in words, not an OverflowError's traceback.
        (["--country", "NL", "--received", "2026-03-05", "--days", "1" + "0" * 20], "year 9999"),
        (["--country", "NL", "--received", "2026-03-05", "--months", "1" + "0" * 20], "9999"),
        (["--country", "NL", "--received", "2026-03-05", "--hours", "1" + "0" * 20], "9999"),
        (["--country", "NL", "--received", "2026-03-05", "--weeks", "9999999999"], "9999"),
        (["--country", "NL", "--received", "2026-03-05", "--paused-days", "1" + "0" * 20], "9999"),
        (["--controller", "defero", "--received", "2026-03-05", "--paused-days", "9" * 30], "9999"),
    ],
)
def test_bad_input_is_a_clear_error(loaded_controllers, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("deadline", *args, stdout=io.StringIO())


def _json_only(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("deadline", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()  # stdout is the JSON and nothing else


def test_a_right_whose_clock_does_not_pause_ignores_paused_days(loaded_controllers):
    controller = loaded_controllers["smart-site"]
    controller.rights.filter(right="access").update(clock_pauses=False)
    args = ["--controller", "smart-site", "--right", "access", "--received", "2026-03-05T10:00"]
    plain, _ = _json_only(*args)
    paused, note = _json_only(*args, "--paused-days", "9")
    assert paused == plain
    assert "does not pause" in note
    controller.rights.filter(right="access").update(clock_pauses=True)
    assert _json_only(*args, "--paused-days", "9")[0]["statutory"] != plain["statutory"]


def test_notes_go_to_stderr_and_stdout_is_json(loaded_controllers):
    result, note = _json_only(
        "--controller", "smartlockr", "--right", "restriction", "--received", "2026-03-05T10:00"
    )
    assert result["declared"] is None and "does not declare restriction" in note
