"""A decision counts from when it was sent to the subject, not from the officer's click: the sent
time of the mail that carries it (the completion, the refusal) or the extension notice. A
decision whose mail is queued, failed, bounced or rejected is "not yet communicated", late
once its deadline passes, and says so in red in the case file, the queue, the case report
and the compliance figures."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core import mail as outbox
from django.urls import reverse
from pypdf import PdfReader

from cases.actors import Actor
from cases.intake import receive_case
from cases.mail import deliver, record_delivery
from cases.models import Carries, CaseEvent, MailStatus, OutgoingMail, RefusalGround, State
from cases.workflow import perform
from reports import compliance
from reports.case_report import deadlines, render

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

ZONE = dt.timezone(dt.timedelta(hours=1))


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=ZONE)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def received(cast, committed):
    """An access request at Smart-Site received on 2 March 2026 (statutory deadline 2 April)."""

    def make(day: str = "2026-03-02", right: str = "access"):
        with time_machine.travel(at(day), tick=False):
            case = committed(
                receive_case,
                controller=cast.a,
                right=right,
                name="Jan Jansen",
                email=f"jan.{day}.{right}@example.org",
                language="en",
            )
            return committed(perform, case, "confirm_email", actor=Actor.subject())

    return make


def step(case, name: str, day: str, actor: Actor, **arguments):
    """A step taken on ``day`` whose mail is NOT sent: the transaction's after-commit work
    (publishing the send task) does not run, as when the broker or the worker is down."""
    with time_machine.travel(at(day), tick=False):
        return perform(case, name, actor=actor, **arguments)


def the_mail(case, carries: str) -> OutgoingMail:
    return OutgoingMail.objects.get(case=case, carries=carries)


def test_a_decision_clicked_in_time_but_sent_late_misses_its_deadline(cast, received):
    case = received()
    officer = Actor.officer(cast.officer_a)
    step(case, "prepare_response", "2026-03-20", officer, response="Here is your data.")
    case = step(case, "complete", "2026-03-25", officer)
    mail = the_mail(case, Carries.DECISION)
    assert (case.state, mail.status, mail.kind) == (State.COMPLETED, MailStatus.QUEUED, "completed")

    # Before the deadline, queued: decided, not yet communicated, not (yet) late.
    case.refresh_from_db()
    assert case.decision_unsent and case.decision_sent_at is None
    rows = {r.label: r for r in deadlines(case, at("2026-03-26"))}
    statutory = rows["Statutory (one month)"]
    assert statutory.unsent and statutory.met is None
    # Past it, still queued: missed, although the officer clicked in March.
    rows = {r.label: r for r in deadlines(case, at("2026-04-10"))}
    assert rows["Statutory (one month)"].met is False
    assert rows["Effective deadline"].met is False

    # The worker comes back on 10 April: the decision was sent then, and late.
    with time_machine.travel(at("2026-04-10", 9), tick=False):
        assert deliver(mail.pk) is True
    case.refresh_from_db()
    assert case.decision_sent_at == at("2026-04-10", 9) != case.closed_at
    sent = CaseEvent.objects.get(case=case, action="decision_sent")
    assert sent.at == at("2026-04-10", 9) and sent.data["kind"] == "completed"
    row = {r.label: r for r in deadlines(case)}["Statutory (one month)"]
    assert (row.met, row.unsent, row.by) == (False, False, at("2026-04-10", 9))
    text = text_of(render(case, language="en"))
    assert "MISSED by" in text and "sent to the subject 10 April 2026" in text
    assert "met:" not in text.split("Deadlines")[1].split("Suspensions")[0]


def test_the_report_and_the_figures_say_a_decision_was_never_communicated(cast, received):
    case = received()
    officer = Actor.officer(cast.officer_a)
    step(case, "prepare_response", "2026-03-20", officer, response="Here is your data.")
    case = step(case, "complete", "2026-03-25", officer)
    for language, words in (
        ("en", "The decision has NOT been communicated to the subject"),
        ("nl", "Het besluit is NIET aan de betrokkene meegedeeld"),
    ):
        assert words in text_of(render(case, language=language)), language
    data = compliance.figures(
        [cast.a], dt.date(2026, 3, 1), dt.date(2026, 3, 31), now=at("2026-06-01")
    )
    assert (data.decided, data.not_communicated, data.on_time, data.on_time_statutory) == (
        1,
        1,
        0,
        0,
    )
    assert data.median_days is None  # no decision left: no days to count
    figures = dict(compliance.rows(data))
    assert figures[
        "Decided but not yet communicated (the mail has not left, or did not arrive)"
    ] == ("1")
    log = "".join(compliance.request_log([cast.a], data.start, data.end))
    assert "Decision sent" in log.splitlines()[0]


def test_a_decision_whose_mail_bounced_is_not_communicated(cast, received, committed):
    case = received()
    officer = Actor.officer(cast.officer_a)
    with time_machine.travel(at("2026-03-20"), tick=False):
        committed(perform, case, "prepare_response", actor=officer, response="Here it is.")
        case = committed(perform, case, "complete", actor=officer)
    case.refresh_from_db()
    assert case.decision_sent_at == at("2026-03-20")
    mail = the_mail(case, Carries.DECISION)
    OutgoingMail.objects.filter(pk=mail.pk).update(provider_message_id="m-1")
    assert record_delivery(
        message_id="m-1", event_type="bounced", esp_name="postmark", timestamp=None
    )
    case.refresh_from_db()
    assert case.decision_unsent and case.mail_bounced
    data = compliance.figures(
        [cast.a], dt.date(2026, 3, 1), dt.date(2026, 3, 31), now=at("2026-06-01")
    )
    assert (data.on_time, data.not_communicated) == (0, 1)


def test_a_complaint_is_not_a_bounce(cast, received, committed):
    case = received()
    officer = Actor.officer(cast.officer_a)
    with time_machine.travel(at("2026-03-20"), tick=False):
        committed(perform, case, "prepare_response", actor=officer, response="Here it is.")
        case = committed(perform, case, "complete", actor=officer)
    mail = the_mail(case, Carries.DECISION)
    OutgoingMail.objects.filter(pk=mail.pk).update(provider_message_id="m-2")
    record_delivery(message_id="m-2", event_type="complained", esp_name="x", timestamp=None)
    case.refresh_from_db()
    assert case.decision_sent_at == at("2026-03-20")  # marked as spam: it did arrive


def test_a_refusal_counts_from_its_mail_for_the_one_month_notice(cast, received):
    case = received(right="erasure")
    officer = Actor.officer(cast.officer_a)
    case = step(
        case, "refuse", "2026-03-20", officer, ground=RefusalGround.ERASURE_NO_GROUND, reason="No."
    )
    mail = the_mail(case, Carries.DECISION)
    assert mail.kind == "refused"
    with time_machine.travel(at("2026-04-15"), tick=False):
        deliver(mail.pk)
    case.refresh_from_db()
    rows = {r.label: r for r in deadlines(case)}
    assert rows["Extension or refusal notice by"].met is False
    assert rows["Extension or refusal notice by"].by == at("2026-04-15")


def test_an_extension_counts_from_its_notice_and_the_figures_say_so(cast, received):
    case = received()
    officer = Actor.officer(cast.officer_a)
    with time_machine.travel(at("2026-03-20"), tick=False):
        case = perform(case, "extend", actor=officer, reason="Many systems to search.")
    mail = the_mail(case, Carries.EXTENSION)
    assert mail.kind == "extended"
    case.refresh_from_db()
    # Queued: the notice has not reached the subject.
    rows = {r.label: r for r in deadlines(case, at("2026-03-25"))}
    assert rows["Extension or refusal notice by"].unsent
    with time_machine.travel(at("2026-04-07"), tick=False):  # after the one-month date
        deliver(mail.pk)
    case.refresh_from_db()
    assert case.extension_sent_at == at("2026-04-07")
    assert CaseEvent.objects.filter(case=case, action="extension_sent").exists()
    rows = {r.label: r for r in deadlines(case)}
    assert rows["Extension or refusal notice by"].met is False
    data = compliance.figures(
        [cast.a], dt.date(2026, 3, 1), dt.date(2026, 3, 31), now=at("2026-04-08")
    )
    assert (data.extended, data.extended_notified_in_time) == (1, 0)


def test_the_queue_and_the_case_file_show_an_unsent_decision_in_red(cast, received, client):
    case = received()
    officer = Actor.officer(cast.officer_a)
    step(case, "prepare_response", "2026-03-20", officer, response="Here is your data.")
    case = step(case, "complete", "2026-03-25", officer)
    sent = received("2026-03-03")
    step(sent, "prepare_response", "2026-03-20", officer, response="Here is your data.")
    sent = step(sent, "complete", "2026-03-25", officer)
    with time_machine.travel(at("2026-03-25", 11), tick=False):
        deliver(the_mail(sent, Carries.DECISION).pk)
    client.force_login(cast.officer_a)
    queue = reverse("admin:dsar_case_changelist")
    # The admin speaks Dutch (the product's default language).
    page = client.get(queue, {"state": "unsent"}).content.decode()
    assert case.reference in page and sent.reference not in page
    assert "beslist, nog niet verstuurd" in page and "dsar-overdue" in page
    home = client.get(reverse("admin:index")).content.decode()
    assert "1 besluit nog niet aan de betrokkene meegedeeld" in home
    assert f"{queue}?state=unsent" in home
    file = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert "Nog niet meegedeeld" in file and "dsar-unsent" in file
    file = client.get(reverse("admin:dsar_case_change", args=[sent.pk])).content.decode()
    assert "Nog niet meegedeeld" not in file and "Besluit verstuurd" in file


def test_only_the_subject_s_own_mail_can_carry_a_decision(cast, submit):
    from cases.mail import queue_mail

    case = submit(cast.a)
    with pytest.raises(ValueError):
        queue_mail(case, "completed", to="someone@example.org", carries=Carries.DECISION)


def test_an_expired_request_tells_the_subject_so(cast, committed, settings):
    from reminders.tasks import expire_unconfirmed

    for language, words in (
        ("en", "was never confirmed"),
        ("nl", "is nooit bevestigd"),
    ):
        with time_machine.travel(at("2026-03-02"), tick=False):
            case = committed(
                receive_case,
                controller=cast.a,
                right="access",
                name="Jan",
                email=f"jan.{language}@example.org",
                language=language,
            )
        outbox.outbox.clear()
        with time_machine.travel(at("2026-03-12"), tick=False):
            committed(expire_unconfirmed)
        case.refresh_from_db()
        assert case.state == State.EXPIRED
        (message,) = [m for m in outbox.outbox if m.to == [case.email]]
        assert words in message.subject, message.subject
        assert "/c/smart-site/" in message.body
        assert case.reference in message.body


def test_a_report_of_an_unsent_decision_is_judged_as_of_when_it_is_made_and_says_so(
    cast, received, committed
):
    """While a decision has not been sent, its deadline still runs: the report judges it as of
    the moment it is made, and says so (the same moment, the same bytes); once the deadline
    passes it says MISSED. The reminders' sweep records that moment in the chain (an event)
    and mails the officers."""
    from cases.models import DECISION_UNSENT
    from reminders.tasks import sweep_deadlines

    case = received()
    officer = Actor.officer(cast.officer_a)
    step(case, "prepare_response", "2026-03-20", officer, response="Here is your data.")
    case = step(case, "complete", "2026-03-25", officer)
    case.refresh_from_db()
    assert case.next_milestone_at == case.effective_deadline
    with time_machine.travel(at("2026-03-26"), tick=False):
        early = render(case, language="en")
        assert render(case, language="en") == early
    text = " ".join(text_of(early).split())
    assert "Judged as of 26 March 2026 10:00" in text and "MISSED" not in text
    with time_machine.travel(at("2026-04-03", 8), tick=False):
        late = " ".join(text_of(render(case, language="en")).split())
    assert "MISSED: decided, but NOT YET COMMUNICATED" in late
    cast.officer_a.email = "officer-a@example.org"
    cast.officer_a.save()
    with time_machine.travel(at("2026-04-03", 8), tick=False):
        committed(sweep_deadlines)
    event = CaseEvent.objects.get(case=case, action=DECISION_UNSENT)
    assert event.at == at("2026-04-03", 8)
    reminder = OutgoingMail.objects.get(case=case, kind="officer_reminder")
    assert reminder.context["milestone"] == DECISION_UNSENT
    # Sent at last: the milestone is gone, the report is judged by its record again.
    with time_machine.travel(at("2026-04-05"), tick=False):
        deliver(the_mail(case, Carries.DECISION).pk)
    case.refresh_from_db()
    assert case.decision_sent_at == at("2026-04-05") and case.next_milestone_at is None
    with time_machine.travel(at("2026-05-01"), tick=False):
        first = render(case, language="en")
    with time_machine.travel(at("2026-09-01"), tick=False):
        assert render(case, language="en") == first
    text = " ".join(text_of(first).split())
    assert "Judged as of" not in text
    assert "Deadline passed: the decision has not reached the subject" in text


def test_an_open_request_past_its_deadline_reads_missed_and_a_late_answer_missed_its_notice(
    cast, received, committed
):
    case = received()
    with time_machine.travel(at("2026-04-20"), tick=False):
        rows = {r.label: r for r in deadlines(case)}
    statutory = rows["Statutory (one month)"]
    assert statutory.met is False and "still open past this date" in statutory.verdict
    assert rows["Extension or refusal notice by"].met is False
    officer = Actor.officer(cast.officer_a)
    with time_machine.travel(at("2026-04-20"), tick=False):
        committed(perform, case, "prepare_response", actor=officer, response="Late, sorry.")
        case = committed(perform, case, "complete", actor=officer)
    case.refresh_from_db()
    rows = {r.label: r for r in deadlines(case)}
    notice = rows["Extension or refusal notice by"]
    # No extension and no refusal by the one-month date; the answer came weeks later.
    assert notice.met is False and notice.by == at("2026-04-20")
    on_time = received("2026-03-04")
    with time_machine.travel(at("2026-03-10"), tick=False):
        committed(perform, on_time, "prepare_response", actor=officer, response="Here it is.")
        on_time = committed(perform, on_time, "complete", actor=officer)
    on_time.refresh_from_db()
    notice = {r.label: r for r in deadlines(on_time)}["Extension or refusal notice by"]
    assert notice.met is None and "not needed" in notice.verdict


def test_what_follows_from_a_sent_mail_never_rolls_back_its_sending(cast, received, monkeypatch):
    """A failure while recording what the mail carried (a lock, a fault) leaves the mail
    recorded as sent (else the sweep would send it twice); the sweep records the rest."""
    from cases import mail as outgoing
    from cases.mail import resend_unsent_mail

    case = received()
    officer = Actor.officer(cast.officer_a)
    step(case, "prepare_response", "2026-03-20", officer, response="Here is your data.")
    case = step(case, "complete", "2026-03-25", officer)
    mail = the_mail(case, Carries.DECISION)

    def fails(mail):
        raise RuntimeError("the case row is locked")

    monkeypatch.setattr(outgoing, "_communicated", fails)
    with time_machine.travel(at("2026-03-25", 11), tick=False):
        assert deliver(mail.pk) is True
    mail.refresh_from_db()
    case.refresh_from_db()
    assert (mail.status, mail.followed_up, case.decision_sent_at) == (MailStatus.SENT, False, None)
    monkeypatch.undo()
    with time_machine.travel(at("2026-03-25", 12), tick=False):
        resend_unsent_mail()
    mail.refresh_from_db()
    case.refresh_from_db()
    assert mail.followed_up and case.decision_sent_at == at("2026-03-25", 11)
    # Sent once: the sweep recorded what followed, and sent nothing again.
    assert mail.attempts == 1
    assert [m.subject for m in outbox.outbox].count(mail.record_subject) == 1


def test_a_decision_sent_in_two_mails_is_communicated_when_both_left(cast, received):
    """A completion of a right that changes data goes as the response and as the letter: the
    decision is communicated when the last of the two leaves, not when the first does."""
    from cases.mail import queue_mail

    case = received(right="erasure")
    officer = Actor.officer(cast.officer_a)
    step(case, "prepare_response", "2026-03-20", officer, response="Done.")
    case = step(case, "complete", "2026-03-25", officer)
    letter = queue_mail(case, "message", carries=Carries.DECISION, message="The letter.")
    response = OutgoingMail.objects.get(case=case, kind="completed")
    with time_machine.travel(at("2026-03-25", 11), tick=False):
        deliver(response.pk)
    case.refresh_from_db()
    assert case.decision_sent_at is None
    with time_machine.travel(at("2026-03-26", 9), tick=False):
        deliver(letter.pk)
    case.refresh_from_db()
    assert case.decision_sent_at == at("2026-03-26", 9)
