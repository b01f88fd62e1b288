"""The data subject's pages. No business logic here: intake, workflow and links do the work."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods

from cases.actors import Actor
from cases.extensions import subject_panels
from cases.forms import StepForm
from cases.intake import receive_case
from cases.links import (
    LinkExpired,
    LinkInvalid,
    case_for_status,
    reference_from_confirmation,
    status_path,
)
from cases.models import WAITING_STATES, Case, Direction, State
from cases.steps import STEPS
from cases.workflow import StepNotAllowed, available_steps, perform
from controllers import registry
from controllers.models import Controller

from .explain import KOPIEID_URL, STATE_EXPLANATIONS, mask_labels, rights_of
from .forms import RequestForm

log = logging.getLogger(__name__)
SUBMITTED_COOKIE = "dsar-submitted"


def _controller(slug: str) -> Controller:
    controller = registry.controller(slug)
    if controller is None:
        raise Http404("no such company")
    return controller


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html", {"controllers": registry.controllers()})


def _controller_context(controller: Controller) -> dict[str, object]:
    rights = rights_of(controller)
    return {
        "controller": controller,
        "rights": rights,
        "id_for_every_right": all(r.needs_id for r in rights if r.declared),
        "mask_fields": mask_labels(controller),
        # What the statement itself says of blacking out: "must" outweighs "may".
        "mask_rule": max(
            (d.mask_rule for d in controller.rights.all() if d.needs_id_document),
            key=["", "may", "must"].index,
            default="",
        ),
        "kopieid_url": KOPIEID_URL,
    }


def controller_detail(request: HttpRequest, slug: str) -> HttpResponse:
    controller = _controller(slug)
    return render(request, "public/controller.html", _controller_context(controller))


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a proxy rewrites it, and
    # the deployment's proxy is expected to set REMOTE_ADDR (README, Configuration).
    return request.META.get("REMOTE_ADDR", "unknown")


def _rate_key(request: HttpRequest, kind: str) -> str:
    return f"intake-{kind}:{_client_ip(request)}:{timezone.now():%Y%m%d%H}"


def _bump(key: str) -> int | None:
    """Add one to a counter of the hour and return it, atomically; None if the cache is down."""
    try:
        try:
            return cache.incr(key)
        except ValueError:  # the hour's first (or evicted): create it, unless another just did
            if cache.add(key, 1, timeout=3600):
                return 1
            return cache.incr(key)
    except Exception:
        log.warning("rate-limit cache unavailable", exc_info=True)
        return None


def _admit(request: HttpRequest) -> tuple[bool, str]:
    """Whether this address may submit now, and the key of the place it took.

    A place among the hour's stored requests is taken at once (an atomic increment), before
    the form is read: submissions sent in parallel cannot all pass a check that none of them
    has counted in yet. Refused, too, after the hour's allowance of failed attempts. The cache
    down admits: a lost submission is worse than a missed bot."""
    limit, failed_limit = settings.INTAKE_RATE_LIMIT, settings.INTAKE_FAILED_LIMIT
    if failed_limit:
        try:
            failed = cache.get(_rate_key(request, "failed"), 0)
        except Exception:
            failed = 0
        if failed >= failed_limit:
            return False, ""
    if not limit:
        return True, ""
    key = _rate_key(request, "stored")
    taken = _bump(key)
    if taken is not None and taken > limit:
        _give_back(key)
        return False, ""
    return True, key if taken is not None else ""


def _give_back(key: str) -> None:
    # The same key the place was taken under, even if the hour has turned since.
    if key:
        with contextlib.suppress(Exception):  # expired, or the cache is down: nothing to return
            cache.decr(key)


def _failed(request: HttpRequest, place: str) -> None:
    """A submission with errors: its place goes back, and it counts among the failed ones
    (someone correcting a typo is not locked out by the stored limit)."""
    _give_back(place)
    if settings.INTAKE_FAILED_LIMIT:
        _bump(_rate_key(request, "failed"))


@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest, slug: str) -> HttpResponse:
    controller = _controller(slug)
    if request.method == "POST":
        # (An oversized body was refused before anything read it: BodySizeLimitMiddleware.)
        admitted, place = _admit(request)
        if not admitted:
            return render(request, "public/error.html", {"problem": "rate_limited"}, status=429)
        form = RequestForm(request.POST, request.FILES, controller=controller)
        if form.is_valid():
            data = form.cleaned_data
            submitted = receive_case(
                controller=controller,
                right=data["right"],
                name=data["name"],
                email=data["email"],
                customer_number=data["customer_number"],
                phone=data["phone"],
                postal_address=data["postal_address"],
                details=data["details"],
                objection_to=data.get("objection_to") or "",
                language=translation.get_language() or settings.LANGUAGE_CODE,
                id_document=data.get("id_document"),
            )
            response = redirect("submitted", slug=controller.slug)
            # A signed cookie, not a session: an anonymous submission writes no session row.
            response.set_signed_cookie(
                SUBMITTED_COOKIE,
                submitted.reference,
                salt=SUBMITTED_COOKIE,
                max_age=3600,
                httponly=True,
                samesite="Lax",
                secure=not settings.DEMO,
            )
            return response
        _failed(request, place)
        status = 400
    else:
        form = RequestForm(controller=controller)
        status = 200
    context = {**_controller_context(controller), "form": form}
    return render(request, "public/form.html", context, status=status)


def submitted(request: HttpRequest, slug: str) -> HttpResponse:
    """The page after sending: it names the reference and the address the link went to, to the
    browser that sent it (a signed cookie, an hour) and to nobody else."""
    reference = request.get_signed_cookie(
        SUBMITTED_COOKIE, default=None, salt=SUBMITTED_COOKIE, max_age=3600
    )
    if not reference:
        return redirect("controller", slug=slug)
    case = Case.objects.filter(reference=reference, controller__slug=slug).first()
    if case is None:
        return redirect("controller", slug=slug)
    return render(request, "public/submitted.html", {"submitted": case})


def _speak_the_case_s_language(request: HttpRequest, case: Case) -> None:
    """A page about a case, opened without a choice of language (a fresh browser, a link from a
    mail), speaks the language the request was made in; a choice made with the switcher wins.
    (LanguageMiddleware deactivates it again when the response is done.)"""
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(case.language)
        request.LANGUAGE_CODE = case.language


def _render_for(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, template, context, status=status)
    response.headers["Content-Language"] = request.LANGUAGE_CODE
    return response


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST confirms. Mail scanners that follow links must not confirm."""
    try:
        reference = reference_from_confirmation(token)
    except LinkExpired:
        return render(request, "public/error.html", {"problem": "link_expired"}, status=410)
    except LinkInvalid:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    case = Case.objects.select_related("controller").filter(reference=reference).first()
    if case is None:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    _speak_the_case_s_language(request, case)
    if case.state != State.UNCONFIRMED:
        return _render_for(request, "public/confirm_used.html", {"case": case}, 409)
    if request.method == "POST":
        try:
            perform(
                case,
                "confirm_email",
                actor=Actor.subject(),
            )
        except StepNotAllowed:
            # Confirmed (or withdrawn) by a parallel click: the first one won.
            return _render_for(request, "public/confirm_used.html", {"case": case}, 409)
        return redirect(status_path(case))
    return _render_for(request, "public/confirm.html", {"case": case})


@require_http_methods(["GET", "POST"])
def status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The subject's private page. What the subject may do here is what ``available_steps``
    offers the subject now; each step's form comes from the steps table."""
    case = case_for_status(reference, token)
    if case is None:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    _speak_the_case_s_language(request, case)
    if case.state == State.UNCONFIRMED:
        return _render_for(request, "public/error.html", {"problem": "unconfirmed"}, 403)
    subject = Actor.subject()
    # The steps this page offers: the subject's, with a place on the page (subject_label).
    offered = [STEPS[n] for n in available_steps(case, subject) if STEPS[n].subject_label]
    forms = {
        step.name: StepForm(step=step, case=case, who="subject", prefix=step.name)
        for step in offered
    }
    status_code = 200
    if request.method == "POST":
        step = next((s for s in offered if s.name == request.POST.get("action")), None)
        if step is None:
            # A stale page (the state moved on) or a forged action: show the current state.
            return redirect(status_path(case))
        form = StepForm(
            request.POST, request.FILES, step=step, case=case, who="subject", prefix=step.name
        )
        forms[step.name] = form
        if form.is_valid():
            try:
                perform(case, step.name, actor=subject, **form.arguments())
            except (StepNotAllowed, PermissionDenied, ValidationError):
                return redirect(status_path(case))
            return redirect(f"{status_path(case)}?done={step.name}")
        status_code = 400
    done = STEPS.get(request.GET.get("done", ""))
    fields = ", ".join(mask_labels(case.controller))
    context = {
        "case": case,
        "controller": case.controller,
        "state_text": STATE_EXPLANATIONS[case.state],
        "messages_": case.messages.all(),
        "Direction": Direction,
        "steps": [
            (step, forms[step.name], str(step.subject_help) % {"fields": fields})
            for step in offered
        ],
        "done": done.subject_done if done else "",
        "paused": case.state in WAITING_STATES and case.paused_since is not None,
        "status_action": reverse("status", args=[reference, token]),
        # What the rooms above the core show the subject (the data package, when there is one).
        "panels": subject_panels(case, request),
    }
    return _render_for(request, "public/status.html", context, status_code)
