"""The data subject's pages. No business logic here: intake, workflow and links do the work."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods

from controllers.models import Controller, MaskField, RightDeclaration

from . import iddocs
from .explain import KOPIEID_URL, MASK_ALWAYS, STATE_EXPLANATIONS, rights_of
from .forms import AnswerForm, IdentityForm, RequestForm, WithdrawForm
from .intake import receive_request
from .links import (
    LinkExpired,
    LinkInvalid,
    reference_from_confirmation,
    request_for_status,
    status_path,
)
from .models import FINAL_STATES, WAITING_STATES, Direction, Request, State
from .workflow import Actor, StepNotAllowed, perform

log = logging.getLogger(__name__)


def _controllers():
    return Controller.objects.select_related("supervisory_authority").prefetch_related(
        Prefetch("rights", queryset=RightDeclaration.objects.order_by("pk"))
    )


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html", {"controllers": _controllers()})


def _controller_context(controller: Controller) -> dict[str, object]:
    return {
        "controller": controller,
        "rights": rights_of(controller),
        "mask_fields": [label for value, label in MaskField.choices if value in MASK_ALWAYS],
        "kopieid_url": KOPIEID_URL,
    }


def controller_detail(request: HttpRequest, slug: str) -> HttpResponse:
    controller = get_object_or_404(_controllers(), slug=slug)
    return render(request, "public/controller.html", _controller_context(controller))


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a proxy rewrites it, and
    # the deployment's proxy is expected to set REMOTE_ADDR (README, Configuration).
    return request.META.get("REMOTE_ADDR", "unknown")


def _rate_limited(request: HttpRequest) -> bool:
    limit = settings.INTAKE_RATE_LIMIT
    if not limit:
        return False
    key = f"intake-rate:{_client_ip(request)}:{timezone.now():%Y%m%d%H}"
    try:
        cache.add(key, 0, timeout=3600)
        return cache.incr(key) > limit
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=3600)
        return False
    except Exception:
        # Fail open: a lost submission is worse than a missed bot while the cache is down.
        log.warning("rate-limit cache unavailable; accepting the submission", exc_info=True)
        return False


@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest, slug: str) -> HttpResponse:
    controller = get_object_or_404(_controllers(), slug=slug)
    if request.method == "POST":
        # (An oversized body was refused before anything read it: BodySizeLimitMiddleware.)
        if _rate_limited(request):
            return render(request, "public/error.html", {"problem": "rate_limited"}, status=429)
        form = RequestForm(request.POST, request.FILES, controller=controller)
        if form.is_valid():
            data = form.cleaned_data
            submitted = receive_request(
                controller=controller,
                right=data["right"],
                name=data["name"],
                email=data["email"],
                customer_number=data["customer_number"],
                phone=data["phone"],
                postal_address=data["postal_address"],
                details=data["details"],
                language=translation.get_language() or settings.LANGUAGE_CODE,
                id_document=data.get("id_document"),
            )
            request.session["submitted"] = submitted.reference
            return redirect("submitted", slug=controller.slug)
        status = 400
    else:
        form = RequestForm(controller=controller)
        status = 200
    context = {**_controller_context(controller), "form": form}
    return render(request, "public/form.html", context, status=status)


def submitted(request: HttpRequest, slug: str) -> HttpResponse:
    reference = request.session.get("submitted")
    found = Request.objects.filter(reference=reference, controller__slug=slug).first()
    if found is None:
        return redirect("controller", slug=slug)
    return render(request, "public/submitted.html", {"submitted": found})


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST confirms. Mail scanners that follow links must not confirm."""
    try:
        reference = reference_from_confirmation(token)
    except LinkExpired:
        return render(request, "public/error.html", {"problem": "link_expired"}, status=410)
    except LinkInvalid:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    found = Request.objects.select_related("controller").filter(reference=reference).first()
    if found is None:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    if found.state != State.UNCONFIRMED:
        return render(request, "public/confirm_used.html", {"found": found}, status=409)
    if request.method == "POST":
        try:
            perform(
                found,
                "confirm_email",
                actor=Actor.subject(),
                has_id_document=found.id_documents.exists(),
            )
        except StepNotAllowed:
            # Confirmed (or withdrawn) by a parallel click: the first one won.
            return render(request, "public/confirm_used.html", {"found": found}, status=409)
        return redirect(status_path(found))
    return render(request, "public/confirm.html", {"found": found})


@require_http_methods(["GET", "POST"])
def status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    found = request_for_status(reference, token)
    if found is None:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    if found.state == State.UNCONFIRMED:
        return render(request, "public/error.html", {"problem": "unconfirmed"}, status=403)
    answer_form = AnswerForm(prefix="answer")
    identity_form = IdentityForm(prefix="identity")
    withdraw_form = WithdrawForm(prefix="withdraw")
    status_code = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "answer" and found.state == State.AWAITING_SUBJECT:
                answer_form = AnswerForm(request.POST, prefix="answer")
                if answer_form.is_valid():
                    perform(
                        found,
                        "answer",
                        actor=Actor.subject(),
                        message=answer_form.cleaned_data["answer"],
                    )
                    return redirect(status_path(found) + "?done=answer")
            elif action == "identity" and found.state == State.AWAITING_IDENTITY:
                identity_form = IdentityForm(request.POST, request.FILES, prefix="identity")
                if identity_form.is_valid():
                    with transaction.atomic():
                        iddocs.store(found, identity_form.cleaned_data["id_document"])
                        perform(
                            found,
                            "submit_identity",
                            actor=Actor.subject(),
                            message=identity_form.cleaned_data["note"],
                        )
                    return redirect(status_path(found) + "?done=identity")
            elif action == "withdraw" and found.state not in FINAL_STATES:
                withdraw_form = WithdrawForm(request.POST, prefix="withdraw")
                if withdraw_form.is_valid():
                    perform(found, "withdraw", actor=Actor.subject())
                    return redirect(status_path(found) + "?done=withdraw")
            else:
                # A stale page (the state moved on) or a forged action: show the current state.
                return redirect(status_path(found))
        except (StepNotAllowed, PermissionDenied, ValidationError):
            return redirect(status_path(found))
        status_code = 400
    found.refresh_from_db()
    context = {
        "found": found,
        "controller": found.controller,
        "state_text": STATE_EXPLANATIONS[found.state],
        "messages_": found.messages.all(),
        "Direction": Direction,
        "answer_form": answer_form,
        "identity_form": identity_form,
        "withdraw_form": withdraw_form,
        "can_answer": found.state == State.AWAITING_SUBJECT,
        "can_upload": found.state == State.AWAITING_IDENTITY,
        "can_withdraw": found.state not in FINAL_STATES,
        "paused": found.state in WAITING_STATES and found.paused_since is not None,
        "done": request.GET.get("done", ""),
        "status_action": reverse("status", args=[reference, token]),
    }
    return render(request, "public/status.html", context, status=status_code)
