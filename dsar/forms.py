"""The public forms. They validate and clean; the work is done by intake and workflow."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from controllers.models import Controller, Right, Verification

from . import iddocs

# Rights whose request says nothing without an explanation of what it is about.
DETAILS_REQUIRED = {Right.RECTIFICATION, Right.OBJECTION, Right.RESTRICTION}


def no_control_characters(value: str, *, multiline: bool = False) -> None:
    allowed = {"\n", "\r", "\t"} if multiline else set()
    for char in value:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            raise ValidationError(
                _("Remove the invisible or control characters from this field."), code="control"
            )


def single_line(value: str) -> None:
    no_control_characters(value)


def multi_line(value: str) -> None:
    no_control_characters(value, multiline=True)


class CheckedFileField(forms.FileField):
    """A file checked by content (dsar.iddocs); cleans to a CheckedDocument."""

    def clean(self, data: Any, initial: Any = None) -> iddocs.CheckedDocument | None:
        upload = super().clean(data, initial)
        if not upload:
            return None
        assert isinstance(upload, UploadedFile)
        if upload.size is not None and upload.size > iddocs.MAX_BYTES:
            raise ValidationError(_("The file is larger than 10 MB."), code="too_large")
        return iddocs.check_document(upload.read(iddocs.MAX_BYTES + 1))


class AccessibleForm(forms.Form):
    """Ties each field's help text and errors to its input (aria-describedby, aria-invalid),
    so a screen reader announces the error with the field (WCAG 3.3.1)."""

    def full_clean(self) -> None:
        super().full_clean()
        for name, field in self.fields.items():
            bound = self[name]
            described = []
            if field.help_text:
                described.append(f"{bound.auto_id}_helptext")
            if name in self.errors:
                described.append(f"{bound.auto_id}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)


class RequestForm(AccessibleForm):
    right = forms.ChoiceField(label=_("What do you want to do?"), widget=forms.RadioSelect)
    name = forms.CharField(label=_("Your name"), max_length=200, validators=[single_line])
    email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        help_text=_("We send a link to this address to confirm that it is yours."),
    )
    customer_number = forms.CharField(
        label=_("Customer or account number"),
        max_length=100,
        required=False,
        validators=[single_line],
    )
    phone = forms.CharField(
        label=_("Phone number known to the company"),
        max_length=40,
        required=False,
        validators=[single_line],
    )
    postal_address = forms.CharField(
        label=_("Postal address known to the company"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )
    details = forms.CharField(
        label=_("Details of your request"),
        help_text=_(
            "What should be corrected, what you object to, or which data you want to receive."
        ),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        validators=[multi_line],
    )
    id_document = CheckedFileField(
        label=_("Copy of your ID document"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    # Honeypot: hidden from people (and from assistive technology); bots fill it in.
    website = forms.CharField(required=False, label=_("Leave this field empty"))

    def __init__(self, *args: Any, controller: Controller, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controller = controller
        self.declarations = {d.right: d for d in controller.rights.all() if d.is_offered}
        self.fields["right"].choices = [
            (right, label) for right, label in Right.choices if right in self.declarations
        ]
        self.id_rights = [
            right
            for right, declaration in self.declarations.items()
            if declaration.verification == Verification.ID_DOCUMENT
        ]
        if not self.id_rights:
            del self.fields["id_document"]

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise ValidationError(_("This request could not be accepted."), code="honeypot")
        return ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        right = data.get("right")
        if right in DETAILS_REQUIRED and not (data.get("details") or "").strip():
            self.add_error("details", _("Describe what your request is about."))
        if right in self.id_rights and not data.get("id_document"):
            if "id_document" not in self.errors:
                self.add_error(
                    "id_document",
                    _("%(company)s asks for a copy of an ID document for this request.")
                    % {"company": self.controller.legal_name},
                )
        elif right not in self.id_rights:
            # Never keep a copy the controller's rule does not ask for.
            data["id_document"] = None
        return data


class AnswerForm(AccessibleForm):
    answer = forms.CharField(
        label=_("Your answer"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        validators=[multi_line],
    )


class IdentityForm(AccessibleForm):
    id_document = CheckedFileField(
        label=_("Copy of your ID document"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )


class WithdrawForm(AccessibleForm):
    confirm = forms.BooleanField(label=_("Yes, withdraw my request"))
