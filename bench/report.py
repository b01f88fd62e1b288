"""The auditors' reports: a case report of 200 events against WeasyPrint printing the same text
as plain paragraphs, a case report of 2,000 events' peak memory, and the compliance report over
100,000 requests against the same report over 1,000, measured in the same run (DEBUG off).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.report

It creates and drops its own database (bench.common), migrates it and loads the policies. Three
measurements, each against a baseline of the same run:

- case report: a request at smart-site received through intake, confirmed, then sent messages by
  an officer (``perform(case, "message")``, one event, message and mail each) until it has
  ``--events`` events, its mails then sent (into memory) as a real case's are, rendered by
  ``reports.case_report.render`` (the context's queries, the template, events.json,
  WeasyPrint's PDF/A-3b). Baseline: every text of that report's HTML (each paragraph, heading,
  term and block, in order) as plain ``<p>`` paragraphs with the same page and font and nothing
  else, printed by WeasyPrint through ``cases.pdf.render_pdf`` with its default options.
  Interleaved rounds, each timing after a ``gc.collect()``; both warmed up first (WeasyPrint's
  import and fonts). The figure is the median of the rounds' own ratios (each round's two run
  back to back); medians of each and WeasyPrint's share of the report beside it.
- case report's memory: a second case with ``--big`` events rendered in a fresh interpreter
  (Django set up, WeasyPrint imported, then the render): its peak RSS is the render's alone,
  what a web or command process needs to serve it. The same text as plain paragraphs in a fresh
  interpreter of its own alongside (WeasyPrint's own need for that much text).
- compliance report: ``compliance.figures`` and ``compliance.render`` for one year at a
  controller with ``--small`` requests and at another with ``--large``, in the same table
  (copies of a real case, ``bench/rows.py``, then states, outcomes, rights and channels mixed in
  SQL, every time of a copy moved with its receipt; each copy also carries the template's
  events, some turned into ID requests, so the events table is the size a real one is).

``--profile N`` adds one render of the 200-event case under cProfile and prints its N most
expensive functions. Its smoke test is ``report`` in ``tests/test_bench.py`` (tiny sizes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import html
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import bench_database, profiled

if TYPE_CHECKING:  # importing them needs Django set up, which main does first
    from cases.models import Case
    from controllers.models import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1_000_000
RATIO_GOAL = 1.25  # the case report against plain paragraphs, at 200 events
RSS_GOAL = 400 * MB  # the case report's process, at 2,000 events
SCALE_GOAL = 2.0  # the compliance report at 100,000 requests against 1,000
CASE_CONTROLLER = "smart-site"
SMALL_CONTROLLER, LARGE_CONTROLLER = "smartlockr", "defero"
YEAR = dt.date(2025, 1, 1), dt.date(2025, 12, 31)

# The baseline's only style: the report's page and font (static/reports/report.css).
PLAIN_CSS = (
    "@page { size: A4; margin: 18mm 16mm 20mm; } "
    'html { font: 9.5pt/1.4 "DejaVu Sans", sans-serif; } p { margin: 0 0 4pt; }'
)

# What an officer writes to a subject over a long case, varied so no two events are alike.
OPENINGS = (
    "Dear Ms Jansen,",
    "Dear Mr de Vries,",
    "Hello,",
    "Thank you for your reply.",
)
SENTENCES = (
    "We have searched the customer database, the newsletter system and the support desk for "
    "the address you gave us.",
    "The order history from 2019 onwards is attached to the package; older orders were deleted "
    "under our retention schedule.",
    "Our processor for payments answered that it holds no data of yours beyond the last four "
    "digits of the card used.",
    "Could you tell us which customer number you used before you moved?",
    "The recordings of your calls to our service desk are kept for three months and none are "
    "left from the period you mention.",
    "We will send the remaining part of the answer within the extended term, by 14 March.",
    "The marketing profile was built from your purchases and your clicks in our newsletters; "
    "its categories are listed in the appendix.",
    "If you disagree with this answer you may complain to the Autoriteit Persoonsgegevens.",
)


def message_text(number: int, sentences: int = 1) -> str:
    """The ``number``-th message: one sentence; with ``sentences`` above 1, an opening, one to
    ``sentences`` sentences and a second paragraph sometimes (the report prints line breaks)."""
    count = 1 + number % sentences
    body = " ".join(SENTENCES[(number * 3 + i) % len(SENTENCES)] for i in range(count))
    if sentences == 1:
        return f"{body} (message {number})"
    closing = "\n\nKind regards,\nThe privacy desk" if number % 4 == 0 else ""
    return f"{OPENINGS[number % len(OPENINGS)]}\n{body} (message {number}){closing}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="events of the timed case")
    parser.add_argument("--big", type=int, default=2_000, help="events of the case whose RSS")
    parser.add_argument(
        "--sentences", type=int, default=1, help="at most this many sentences a message"
    )
    parser.add_argument("--small", type=int, default=1_000, help="requests of the small year")
    parser.add_argument("--large", type=int, default=100_000, help="requests of the large year")
    parser.add_argument("--runs", type=int, default=5, help="rounds; the medians are shown")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="see the docstring")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    # Internal: one render in a fresh interpreter (see the module's docstring).
    parser.add_argument("--child", choices=["report", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--html", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args)
        print("RESULT " + json.dumps(result))
        return

    with bench_database() as database_url:
        setup(database_url, args.var_dir)
        results = measure(database_url, args)
    report(args, results)


def setup(database_url: str, var_dir: str) -> None:
    os.environ.update(
        # Django's own database is not used; the bench database keeps it off the developer's.
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DSAR_VAR_DIR=var_dir,
        # The cases' mails are sent (as a real case's are) into memory.
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings

    assert not settings.DEBUG, "measure what production runs"


def measure(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connections

    from dsar.celery import app

    app.conf.broker_url = "memory://"  # the messages' mail is not what is measured
    try:
        call_command("migrate", verbosity=0)
        call_command("load_policies", stdout=open(os.devnull, "w"))  # noqa: SIM115
        out: dict[str, Any] = {}
        start = time.perf_counter()
        case = case_of(args.events, "Timed", args.sentences)
        out["build_cases"] = time.perf_counter() - start
        # Timed before the long case is built: building 2,000 events through the ORM leaves
        # this process in a state (not the collector's: see cases.pdf.heap_frozen) in which
        # the report measured 1.3x instead of 1.2x; a worker serving a report has not just
        # done that (bench/RESULTS.md).
        out["case"] = time_case_report(case, args)
        start = time.perf_counter()
        big = case_of(args.big, "Long", args.sentences)
        out["build_cases"] += time.perf_counter() - start
        out["big"] = big_case(big, args, database_url)
        out["compliance"] = time_compliance(args)
    finally:
        connections.close_all()
    return out


# --- The case report.


def officer_of(controller: Controller) -> Any:
    from django.contrib.auth import get_user_model

    from controllers.models import Membership, Role

    user, _created = get_user_model().objects.get_or_create(
        username="officer", defaults={"is_staff": True, "email": "officer@example.org"}
    )
    Membership.objects.get_or_create(
        user=user, controller=controller, defaults={"role": Role.OFFICER}
    )
    return user


def case_of(events: int, name: str, sentences: int = 1) -> Case:
    """A request with ``events`` events, through intake and the workflow (one message each after
    the confirmation), its chain intact."""
    from cases.actors import Actor
    from cases.intake import receive_case
    from cases.mail import deliver
    from cases.workflow import perform
    from controllers.models import Controller

    controller = Controller.objects.get(slug=CASE_CONTROLLER)
    officer = Actor.officer(officer_of(controller))
    case = receive_case(
        controller=controller,
        right="access",
        name=f"{name} Subject",
        email=f"{name.lower()}@example.org",
        language="en",
        details="All data you hold about me, please, including your processors'.",
    )
    case = perform(case, "confirm_email", actor=Actor.subject())
    number = 0
    while case.audit_count < events:
        number += 1
        case = perform(case, "message", actor=officer, message=message_text(number, sentences))
    case.refresh_from_db()
    assert case.audit_count == events, (case.audit_count, events)
    # Sent, as a real case's mails are by the time it is reported on (each keeps its record).
    for mail_id in case.outgoing_mail.values_list("pk", flat=True):
        deliver(mail_id)
    return case


class Rendered:
    """One ``case_report.render`` of a case, watched where it hands its HTML to WeasyPrint
    (``render_pdf``): the HTML, the PDF, and the seconds of the whole and of WeasyPrint's part
    (the rest is Django's: queries, template, events.json)."""

    def __init__(self, case: Case) -> None:
        from reports import case_report

        real = case_report.render_pdf
        watched: dict[str, Any] = {}

        def render_pdf(html: str | list[str], **options: Any) -> bytes:
            start = time.perf_counter()
            try:
                return real(html, **options)
            finally:
                parts = [html] if isinstance(html, str) else html
                # The parts' texts in order (texts() skips each one's head).
                watched.update(html="".join(parts), parts=len(parts))
                watched.update(seconds=time.perf_counter() - start)

        case_report.render_pdf = render_pdf
        try:
            start = time.perf_counter()
            self.pdf = case_report.render(case, language="en")
            self.seconds = time.perf_counter() - start
        finally:
            case_report.render_pdf = real
        self.html: str = watched["html"]
        self.parts: int = watched["parts"]
        self.weasyprint: float = watched["seconds"]


class _Texts(HTMLParser):
    """The text of a page, one string a block (paragraph, heading, term, description, div) or
    line: a text's line breaks (``<br>``, or a line feed in it) start a paragraph, so the
    baseline prints as many lines as the report."""

    BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "dt", "dd", "section", "header", "body"})

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.skip = 0

    def flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("head", "title", "style"):
            self.skip += 1
        elif tag in self.BLOCKS or tag == "br":  # a line of its own stays one
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "title", "style"):
            self.skip -= 1
        elif tag in self.BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        first, *lines = data.split("\n")  # a text printed with its line breaks (pre-line)
        self.current.append(first)
        for line in lines:
            self.flush()
            self.current.append(line)


def texts(page: str) -> list[str]:
    """The text of ``page``, block by block."""
    parser = _Texts()
    parser.feed(page)
    parser.close()
    parser.flush()
    return parser.blocks


def plain_html(page: str) -> str:
    """The same text as ``page``, each block a plain paragraph."""
    paragraphs = "\n".join(f"<p>{html.escape(block)}</p>" for block in texts(page))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><style>{PLAIN_CSS}</style>'
        f"</head><body>\n{paragraphs}\n</body></html>"
    )


def pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def time_case_report(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    from cases.pdf import render_pdf
    from reports import case_report

    # Warm-up: WeasyPrint's import, its fonts, Django's templates and translations.
    first = Rendered(case)
    plain = plain_html(first.html)
    plain_pdf = render_pdf(plain)
    assert case_report.verify_embedded(first.pdf) == [], "the chain must verify"
    bases: list[float] = []
    renders: list[Rendered] = []
    # Rounds of the two, interleaved: the machine is shared, and a busy minute then slows the
    # baseline and the product alike instead of one of them.
    for _ in range(args.runs):
        # Each timing starts with the garbage of the one before collected: a full collection
        # falling inside one of the two (this process holds the benchmark's own objects) cost
        # a round up to 0.25 s of either, at random.
        gc.collect()
        start = time.perf_counter()
        render_pdf(plain)
        bases.append(time.perf_counter() - start)
        gc.collect()
        renders.append(Rendered(case))
    assert all(r.pdf == first.pdf for r in renders), "the same case renders to the same bytes"
    profile = ""
    if args.profile:
        profile = profiled(case_report.render, args.profile, case, language="en")
    return {
        "events": case.audit_count,
        "baseline": bases,
        "render": [r.seconds for r in renders],
        "weasyprint": [r.weasyprint for r in renders],
        "pages": pages(first.pdf),
        "parts": first.parts,
        "plain_pages": pages(plain_pdf),
        "size": len(first.pdf),
        "text": sum(len(block) for block in texts(first.html)),
        "blocks": plain.count("<p>"),
        "profile": profile,
    }


# --- The long case's memory, each render in a fresh interpreter.


def big_case(case: Case, args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    folder = Path(args.var_dir) / f"report-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plain.html"
    try:
        env = {**os.environ, "DATABASE_URL": database_url}
        # The report's process also writes the same text as plain paragraphs for the next one.
        product = run_child(
            ["--child", "report", "--case", str(case.pk), "--html", str(path)], args, env
        )
        plain = run_child(["--child", "plain", "--html", str(path)], args, env)
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()
    return {"events": case.audit_count, "report": product, "plain": plain}


def run_child(extra: list[str], args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.report", *extra, "--var-dir", args.var_dir]
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"the {extra[1]} process failed ({done.returncode}): {done.stdout[-2000:]}")
    return json.loads(done.stdout.rsplit("RESULT ", 1)[1])


def peak_rss() -> int:
    """This process's peak resident set so far, in bytes. On Linux from ``VmHWM``: ru_maxrss
    of a process started by a larger one starts at its parent's peak (the kernel carries the
    old memory's high-water mark over at exec), and this benchmark's parent renders too."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child(args: argparse.Namespace) -> dict[str, Any]:
    setup(os.environ["DATABASE_URL"], args.var_dir)
    import weasyprint  # noqa: F401 - imported before "before", as a process that made one PDF has

    from cases.models import Case
    from cases.pdf import render_pdf

    if args.child == "report":
        case = Case.objects.get(pk=args.case)
        before = peak_rss()
        start = time.perf_counter()
        rendered = Rendered(case)
        seconds, peak, pdf = time.perf_counter() - start, peak_rss(), rendered.pdf
        parts = rendered.parts
        Path(args.html).write_text(plain_html(rendered.html))
    else:
        page = Path(args.html).read_text()
        before = peak_rss()
        start = time.perf_counter()
        pdf = render_pdf(page)
        seconds, peak, parts = time.perf_counter() - start, peak_rss(), 1
    return {
        "seconds": seconds,
        "parts": parts,
        "before": before,
        "peak": peak,
        "size": len(pdf),
        "pages": pages(pdf),
    }


# --- The compliance report.


def fill_year(controller: Controller, count: int, year: int) -> None:
    """``count`` requests at ``controller`` received over the year ``YEAR`` (copies of one real
    request, references ``DSAR-<year>-...``), their outcomes mixed, each with the events the
    template has."""
    from django.db import connection

    from bench.rows import SHIFTED, clone_cases
    from cases.actors import Actor
    from cases.intake import receive_case
    from cases.models import Case, CaseEvent, RefusalGround, State
    from cases.workflow import perform
    from controllers.models import RightDeclaration, Verification

    officer = Actor.officer(officer_of(controller))
    first = dt.datetime.combine(YEAR[0], dt.time(9), tzinfo=dt.UTC)
    # A right checked by email, so the template is in progress (not waiting, its clock paused,
    # for an ID copy): the open copies then run late as open requests do.
    right = (
        RightDeclaration.objects.filter(controller=controller, verification=Verification.EMAIL)
        .values_list("right", flat=True)
        .order_by("right")
        .first()
    )
    # Recorded by an officer (received by email on the first day): confirmed at once.
    template = receive_case(
        controller=controller,
        right=right or "access",
        name="Template Subject",
        email=f"template-{year}@example.org",
        language="en",
        channel="email",
        received_at=first,
        actor=officer,
    )
    template = perform(template, "message", actor=officer, message=message_text(1))
    # The copies, spread evenly over the year after the template.
    every = dt.timedelta(minutes=max(1, 364 * 24 * 60 // count))
    clone_cases(template, count - 1, year=year, every=every)

    quote = connection.ops.quote_name
    table = quote(Case._meta.db_table)
    copies = "controller_id = %s AND id <> %s"  # (the template stays as it was)
    where = [controller.pk, template.pk]
    # Every other time of a copy moves with its receipt (clone_cases moves the deadlines).
    moved = [
        field.column
        for field in Case._meta.concrete_fields
        if field.get_internal_type() == "DateTimeField" and field.name not in SHIFTED
    ]
    rights = sorted(
        RightDeclaration.objects.filter(controller=controller).values_list("right", flat=True)
    )
    grounds = list(RefusalGround.values)

    def update(assignments: str, condition: str, *params: Any) -> tuple[str, list[Any]]:
        """Names come from the model and are quoted; every value is a parameter (%% is
        modulo)."""
        statement = f"UPDATE {table} SET {assignments} WHERE {copies}{condition}"  # noqa: S608
        return statement, [*params, *where]

    statements = [
        update(
            ", ".join(f"{quote(c)} = {quote(c)} + (received_at - %s)" for c in moved),
            "",
            *([first] * len(moved)),
        ),
        # Rights and channels in turn, apart from the outcomes below (by id modulo 20).
        update(
            f"{quote('right')} = (%s::text[])[1 + (id / 20) %% %s], "
            "channel = (ARRAY['web', 'email', 'post', 'phone'])[1 + (id / 7) %% 4]",
            "",
            rights,
            len(rights),
        ),
        # Outcomes by id modulo 20: 12 completed (3 to 41 days after receipt: some late),
        # 2 refused, 1 withdrawn, 1 extended and completed, 1 extended and open, 3 open as the
        # template is (the older of them overdue now).
        update(
            "state = %s, paused_since = NULL, closed_at = received_at "
            "+ (3 + id %% 39) * interval '1 day' + (id %% 600) * interval '1 minute'",
            " AND id %% 20 < 12",
            State.COMPLETED,
        ),
        update(
            "state = %s, paused_since = NULL, "
            "closed_at = received_at + (3 + id %% 25) * interval '1 day', "
            "refusal_ground = (%s::text[])[1 + (id / 20) %% %s], "
            "refusal_reason = 'See the letter.'",
            " AND id %% 20 IN (12, 13)",
            State.REFUSED,
            grounds,
            len(grounds),
        ),
        update(
            "state = %s, paused_since = NULL, closed_at = received_at + interval '5 days'",
            " AND id %% 20 = 14",
            State.WITHDRAWN,
        ),
        update(
            "extended_at = received_at + interval '20 days', "
            "extension_reason = 'Many systems to search.', "
            "effective_deadline = extended_deadline",
            " AND id %% 20 IN (15, 16)",
        ),
        update(
            "state = %s, paused_since = NULL, "
            "closed_at = received_at + (50 + id %% 40) * interval '1 day'",
            " AND id %% 20 = 15",
            State.COMPLETED,
        ),
    ]
    # The events: the template's, for every copy; its second an ID request in one copy in ten.
    events = quote(CaseEvent._meta.db_table)
    columns = [f.column for f in CaseEvent._meta.concrete_fields if not f.primary_key]
    values = {
        "case_id": "c.id",
        "at": "e.at + (c.received_at - %s)",
        "action": "CASE WHEN e.seq = 2 AND c.id %% 10 = 0 THEN 'ask_identity' ELSE e.action END",
    }
    names = ", ".join(map(quote, columns))
    selected = ", ".join(values.get(c, "e." + quote(c)) for c in columns)
    statements.append(
        (
            f"INSERT INTO {events} ({names}) SELECT {selected} "  # noqa: S608 - as above
            f"FROM {events} AS e, {table} AS c "
            "WHERE e.case_id = %s AND c.controller_id = %s AND c.id <> %s",
            [first, template.pk, *where],
        )
    )
    with connection.cursor() as cursor:
        for statement, params in statements:
            cursor.execute(statement, params)


def time_compliance(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from cases.models import Case
    from controllers.models import Controller
    from reports import compliance

    small = Controller.objects.get(slug=SMALL_CONTROLLER)
    large = Controller.objects.get(slug=LARGE_CONTROLLER)
    start = time.perf_counter()
    fill_year(small, args.small, 2023)
    fill_year(large, args.large, 2024)
    # The fill's UPDATEs left seven dead versions of every copy; a real table's autovacuum
    # keeps it near its live size (the case table: 150 MB before, 42 MB after, at 100,000).
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM FULL ANALYZE {Case._meta.db_table}")
        cursor.execute("VACUUM ANALYZE")
    filled = time.perf_counter() - start

    def once(controller: Controller) -> tuple[float, float, Any]:
        start = time.perf_counter()
        data = compliance.figures([controller], *YEAR)
        middle = time.perf_counter()
        compliance.render(data)
        return middle - start, time.perf_counter() - middle, data

    checked = {name: once(c)[2] for name, c in (("small", small), ("large", large))}  # warm-up
    assert checked["small"].received == args.small, checked["small"].received
    assert checked["large"].received == args.large, checked["large"].received
    times: dict[str, list[tuple[float, float]]] = {"small": [], "large": []}
    for _ in range(args.runs):  # interleaved, as above
        for name, controller in (("small", small), ("large", large)):
            gc.collect()  # as above
            figures_s, render_s, _data = once(controller)
            times[name].append((figures_s, render_s))
    return {"filled": filled, "times": times, "figures": checked}


# --- The output.


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    case, big, comp = results["case"], results["big"], results["compliance"]
    base_s, render_s = median(case["baseline"]), median(case["render"])
    django = [r - w for r, w in zip(case["render"], case["weasyprint"], strict=True)]
    print(
        f"cases built through the workflow: {case['events']:,} and {big['events']:,} events,"
        f" messages of up to {args.sentences} sentence(s) ({results['build_cases']:.1f} s,"
        " not measured)"
    )
    print(
        f"case report, {case['events']:,} events: {case['pages']} pages"
        f" in {case['parts']} part(s),"
        f" {case['size'] / MB:.2f} MB, {case['text']:,} characters of text; as"
        f" {case['blocks']:,} plain paragraphs: {case['plain_pages']} pages"
    )
    print(f"median of {args.runs} interleaved rounds (plain paragraphs, case report):")
    print(f"plain paragraphs, WeasyPrint (baseline) : {base_s:8.3f} s")
    print(f"case report (case_report.render)        : {render_s:8.3f} s")
    print(f"  of which WeasyPrint (render_pdf)      : {median(case['weasyprint']):8.3f} s")
    print(f"  of which Django (queries, template)   : {median(django):8.3f} s")
    print(
        "each round (plain / report = WeasyPrint + Django, s): "
        + ", ".join(
            f"{b:.3f} / {r:.3f} = {w:.3f} + {r - w:.3f}"
            for b, r, w in zip(case["baseline"], case["render"], case["weasyprint"], strict=True)
        )
    )
    for name, label in (("report", "case report     "), ("plain", "plain paragraphs")):
        one = big[name]
        print(
            f"{label}, {big['events']:,} events, a fresh process: {one['seconds']:7.2f} s,"
            f" {one['pages']} pages in {one['parts']} part(s), peak RSS {one['peak'] / MB:6.1f} MB"
            f" ({one['before'] / MB:.1f} MB before the render)"
        )
    times = comp["times"]
    print(
        f"compliance report, {YEAR[0]} to {YEAR[1]}: {args.small:,} requests at"
        f" {SMALL_CONTROLLER}, {args.large:,} at {LARGE_CONTROLLER}"
        f" (filled in {comp['filled']:.1f} s, not measured); median of {args.runs} rounds"
    )
    for name, count in (("small", args.small), ("large", args.large)):
        figures_s = median([f for f, _r in times[name]])
        render_c = median([r for _f, r in times[name]])
        total = median([f + r for f, r in times[name]])
        data = comp["figures"][name]
        print(
            f"  {count:>9,} requests: figures {figures_s:7.3f} s + render {render_c:7.3f} s"
            f" = {total:7.3f} s (decided {data.decided:,}, on time {data.on_time_pct}%,"
            f" open {data.open_now:,})"
        )
    small_s = median([f + r for f, r in times["small"]])
    large_s = median([f + r for f, r in times["large"]])
    rounds = list(zip(times["small"], times["large"], strict=True))
    print(
        "each round (small / large = figures + render, s): "
        + ", ".join(
            f"{sf + sr:.3f} / {lf + lr:.3f} = {lf:.3f} + {lr:.3f}" for (sf, sr), (lf, lr) in rounds
        )
    )
    scale = median([(lf + lr) / (sf + sr) for (sf, sr), (lf, lr) in rounds])
    if case["profile"]:
        print(case["profile"])
    print(
        f"goals: report/plain <= {RATIO_GOAL} at 200 events, peak RSS <= {RSS_GOAL / MB:.0f} MB"
        f" at 2,000 events, compliance large/small <= {SCALE_GOAL}"
    )
    print(f"peak RSS, {big['events']:,} events          : {big['report']['peak'] / MB:8.1f} MB")
    # Each round times the two back to back, so a busy moment of the (shared) machine weighs on
    # both of a round: the median of the rounds' own ratios is the figure; the ratio of the
    # medians beside it.
    paired = median([r / b for b, r in zip(case["baseline"], case["render"], strict=True)])
    print(f"ratio report/plain ({case['events']:,} events)    : {paired:8.3f}")
    print(f"  (ratio of the medians          : {render_s / base_s:8.3f})")
    print(f"ratio compliance large/small    : {scale:8.3f}")
    print(f"  (ratio of the medians          : {large_s / small_s:8.3f})")


if __name__ == "__main__":
    main()
