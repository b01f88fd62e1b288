"""The request form. It validates and cleans; intake does the work. (The status page's forms are
the subject's steps, built from the steps table by cases.forms.)"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cases.forms import AccessibleForm, CheckedFileField
from cases.models import ObjectionTo
from controllers.models import Controller, Right
from controllers.validators import multi_line, single_line

# Rights whose request says nothing without an explanation of what it is about.
DETAILS_REQUIRED = {Right.RECTIFICATION, Right.OBJECTION, Right.RESTRICTION}


class RequestForm(AccessibleForm):
    right = forms.ChoiceField(label=_("What do you want to do?"), widget=forms.RadioSelect)
    name = forms.CharField(label=_("Your name"), max_length=200, validators=[single_line])
    email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        # Django accepts a quoted local part with control characters; a mail header must not.
        validators=[single_line],
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
    # Art. 21(3): an objection to direct marketing is absolute, so the subject says what the
    # objection is to; asked of an objection only (the template shows it with that right).
    objection_to = forms.ChoiceField(
        label=_("If you object: what do you object to?"),
        choices=ObjectionTo.choices,
        required=False,
        widget=forms.RadioSelect,
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
        # Every right, whatever the statement declares: where it is silent, the law's terms.
        self.fields["right"].choices = list(Right.choices)
        labels = dict(Right.choices)
        self.id_rights = [d.right for d in controller.rights.all() if d.needs_id_document]
        # Required for some rights only: the label says for which, not "(optional)".
        self.fields["details"].required_for = ", ".join(
            str(labels[right]) for right in Right.values if right in DETAILS_REQUIRED
        )
        if not self.id_rights:
            del self.fields["id_document"]
        elif set(self.id_rights) == set(Right.values) and all(
            self._id_label(right, "") == "" for right in self.id_rights
        ):
            self.fields["id_document"].required = True
        else:
            self.fields["id_document"].required_for = ", ".join(
                self._id_label(right, str(labels[right]))
                for right in Right.values
                if right in self.id_rights
            )

    def _id_label(self, right: str, label: str) -> str:
        declaration = self.controller.declaration(right)
        if declaration is not None and not declaration.needs_id_document_for("direct_marketing"):
            return _("%(right)s (not to direct marketing only)") % {"right": label}
        return label

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise ValidationError(_("This request could not be accepted."), code="honeypot")
        return ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        right = data.get("right")
        if right in DETAILS_REQUIRED and not (data.get("details") or "").strip():
            self.add_error("details", _("Describe what your request is about."))
        if right == Right.OBJECTION:
            if not data.get("objection_to") and "objection_to" not in self.errors:
                self.add_error(
                    "objection_to",
                    _("Say whether you object to direct marketing, to other use, or to both."),
                )
        else:
            data["objection_to"] = ""
        declaration = self.controller.declaration(right) if right else None
        needs_id = declaration is not None and declaration.needs_id_document_for(
            data.get("objection_to") or ""
        )
        if needs_id and not data.get("id_document"):
            if "id_document" not in self.errors:
                self.add_error(
                    "id_document",
                    _("%(company)s asks for a copy of an ID document for this request.")
                    % {"company": self.controller.legal_name},
                )
        elif not needs_id:
            # Never keep a copy the controller's rule does not ask for.
            data["id_document"] = None
        return data
