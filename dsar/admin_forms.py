"""Forms of the officer's admin: one per step, the staff entry, and the bulk actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from controllers.models import Controller, Right

from .forms import multi_line, single_line
from .models import Channel, Language, RefusalGround, Request

LANGUAGE_NAMES = dict(Language.choices)
GDPR_APPLIES = dt.datetime(2018, 5, 25, tzinfo=dt.UTC)


def message_field(request: Request | None, *, required: bool, label: Any = None) -> forms.Field:
    language = LANGUAGE_NAMES.get(request.language, "") if request else ""
    return forms.CharField(
        label=label or _("Message to the subject"),
        required=required,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        validators=[multi_line],
        # The message goes out as written: tell the officer which language the subject reads.
        help_text=_("Write it in %(language)s, the language the subject used.")
        % {"language": language}
        if language
        else "",
    )


def ground_field(*, required: bool) -> forms.ChoiceField:
    choices = RefusalGround.choices if required else [("", "—"), *RefusalGround.choices]
    return forms.ChoiceField(label=_("Legal ground"), choices=choices, required=required)


class StepForm(forms.Form):
    """The arguments of one workflow step, as ``perform`` takes them."""

    def __init__(self, *args: Any, step: str, request: Request, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step = step
        fields: dict[str, forms.Field] = {}
        if step in ("ask_identity", "ask_subject"):
            fields["message"] = message_field(request, required=True, label=_("Your question"))
        elif step == "approve_identity":
            fields["name_matches"] = forms.BooleanField(
                label=_("The name on the document matches the request")
            )
            fields["masked"] = forms.BooleanField(
                label=_("Nothing beyond what is needed is readable (photo, BSN, MRZ masked)"),
                required=False,
            )
        elif step == "reject_identity":
            fields["reason"] = forms.CharField(
                label=_("Why the document does not confirm the identity (sent to the subject)"),
                widget=forms.Textarea(attrs={"rows": 4}),
                validators=[multi_line],
            )
            fields["message"] = message_field(request, required=False)
        elif step == "extend":
            fields["reason"] = forms.CharField(
                label=_("Reasons for the extension (sent to the subject)"),
                widget=forms.Textarea(attrs={"rows": 4}),
                validators=[multi_line],
            )
            fields["message"] = message_field(request, required=False)
        elif step == "prepare_response":
            fields["response"] = forms.CharField(
                label=_("The response to the subject"),
                widget=forms.Textarea(attrs={"rows": 10}),
                validators=[multi_line],
                initial=request.response,
            )
        elif step == "complete":
            fields["partial_ground"] = ground_field(required=False)
            fields["partial_reason"] = forms.CharField(
                label=_("If part of the request is refused: why"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                validators=[multi_line],
            )
            fields["message"] = message_field(request, required=False)
        elif step == "refuse":
            fields["ground"] = ground_field(required=True)
            fields["reason"] = forms.CharField(
                label=_('Explanation (required for "other")'),
                required=False,
                widget=forms.Textarea(attrs={"rows": 4}),
                validators=[multi_line],
            )
            fields["message"] = message_field(request, required=False)
        elif step == "withdraw":
            fields["message"] = message_field(
                request, required=False, label=_("Note on how the subject withdrew")
            )
        elif step == "message":
            fields["message"] = message_field(request, required=True)
        self.fields.update(fields)

    CHECKLIST = ("name_matches", "masked")

    def arguments(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments for perform; the checklist goes in ``record``."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.CHECKLIST}
        checklist = {k: self.cleaned_data[k] for k in self.CHECKLIST if k in self.cleaned_data}
        if checklist:
            data["record"] = {"checklist": checklist}
        return data


class StaffEntryForm(forms.Form):
    """A request that reached the controller by phone, post or email, recorded by an officer."""

    controller = forms.ModelChoiceField(label=_("Controller"), queryset=Controller.objects.none())
    right = forms.ChoiceField(label=_("Right"), choices=Right.choices)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[c for c in Channel.choices if c[0] != Channel.WEB]
    )
    received_at = forms.DateTimeField(
        label=_("Received at"),
        help_text=_("When it reached the controller: the legal clock starts here."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    name = forms.CharField(label=_("Name"), max_length=200, validators=[single_line])
    email = forms.EmailField(label=_("Email"), max_length=254)
    language = forms.ChoiceField(label=_("Language of the subject"), choices=Language.choices)
    details = forms.CharField(
        label=_("What the subject asked"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[multi_line],
    )

    def __init__(self, *args: Any, controllers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["controller"].queryset = controllers

    def clean_received_at(self) -> dt.datetime:
        received = self.cleaned_data["received_at"]
        if received > timezone.now():
            raise forms.ValidationError(_("The time of receipt cannot be in the future."))
        if received < GDPR_APPLIES:
            raise forms.ValidationError(_("The GDPR applies to requests from 25 May 2018 on."))
        return received


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assign to"), queryset=get_user_model().objects.none()
    )

    def __init__(self, *args: Any, officers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = officers


class BulkRefuseForm(forms.Form):
    ground = ground_field(required=True)
    reason = forms.CharField(
        label=_('Explanation (required for "other")'),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )
    message = forms.CharField(
        label=_("Message to each subject"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[multi_line],
    )
