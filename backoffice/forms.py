"""Forms of the officer's admin beside the steps' own (cases.forms): staff entry, bulk actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.forms import ground_field
from cases.models import Channel, Language, ObjectionTo
from controllers.models import Controller, Right
from controllers.validators import multi_line, single_line

GDPR_APPLIES = dt.datetime(2018, 5, 25, tzinfo=dt.UTC)


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
    email = forms.EmailField(label=_("Email"), max_length=254, validators=[single_line])
    language = forms.ChoiceField(label=_("Language of the subject"), choices=Language.choices)
    details = forms.CharField(
        label=_("What the subject asked"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[multi_line],
    )

    # Art. 21(3): what an objection is to, as the subject said it.
    objection_to = forms.ChoiceField(
        label=_("If an objection: what the subject objects to"),
        choices=[("", "—"), *ObjectionTo.choices],
        required=False,
    )

    def __init__(self, *args: Any, controllers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["controller"].queryset = controllers

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("right") != Right.OBJECTION:
            data["objection_to"] = ""
        return data

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
    """One ground for a selection: only the grounds the law gives for every right are offered
    (the workflow checks each case's right again, cases.models.grounds)."""

    ground = ground_field(required=True)
    reason = forms.CharField(
        label=_("The reasons (sent to the subject)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )
    # Art. 12(5): the controller must be able to show it (kept in each case's record).
    evidence = forms.CharField(
        label=_("For Art. 12(5): the evidence (kept in the record, not sent)"),
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
