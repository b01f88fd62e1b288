"""The form of a step, built from its declaration (cases.steps), for the officer or the subject.

Forms validate and clean; ``StepForm.arguments`` turns the cleaned data into what
``cases.workflow.perform`` takes, and the workflow does the work. The public site and the admin
build their step forms here, so a field declared once reads the same on both sides.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from controllers.models import Right
from controllers.validators import multi_line

from . import iddocs
from .models import Case, Language, RefusalGround
from .models.grounds import NATIONAL_LAW_PROVISIONS, grounds_for, national_law_label
from .steps import Field, Step, Who

# What a subject or an officer may write in one message (the Message row holds 10,000).
MAX_MESSAGE = {"subject": 5000, "officer": 10000}


class CheckedFileField(forms.FileField):
    """A file checked by content (cases.iddocs); cleans to a CheckedDocument."""

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


def ground_choices(
    right: str | None = None, *, partial: bool = False, country: str = ""
) -> list[tuple[str, Any]]:
    """The grounds offered: those the law gives for the right (cases.models.grounds), or,
    without a right (a bulk refusal of requests for several), those it gives for every
    right. The national-law ground names the country's provision where there is one."""
    if right is None:
        common = set.intersection(*(set(grounds_for(r)) for r in Right.values))
        grounds = [g for g in RefusalGround if g in common]
    else:
        grounds = list(grounds_for(right, partial=partial))
    if country and country not in NATIONAL_LAW_PROVISIONS:
        grounds = [g for g in grounds if g != RefusalGround.NATIONAL_LAW]
    return [
        (
            g.value,
            national_law_label(country) if g == RefusalGround.NATIONAL_LAW and country else g.label,
        )
        for g in grounds
    ]


def ground_field(
    *, required: bool, label: Any = None, case: Case | None = None
) -> forms.ChoiceField:
    choices = ground_choices(
        case.right if case is not None else None,
        partial=not required,
        country=case.controller.country if case is not None else "",
    )
    if not required:
        choices = [("", "—"), *choices]
    return forms.ChoiceField(label=label or _("Legal ground"), choices=choices, required=required)


def _text(field: Field, *, max_length: int | None, help_text: Any = "") -> forms.Field:
    return forms.CharField(
        label=field.label,
        required=field.required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": 6}),
        validators=[multi_line],
        help_text=help_text,
    )


def form_field(field: Field, *, who: Who, case: Case) -> forms.Field:
    """The Django form field of one declared field."""
    if field.kind == "message":
        help_text: Any = ""
        if who == "officer":
            # The message goes out as written: tell the officer which language the subject reads.
            help_text = _("Write it in %(language)s, the language the subject used.") % {
                "language": dict(Language.choices).get(case.language, case.language)
            }
        return _text(field, max_length=field.max_length or MAX_MESSAGE[who], help_text=help_text)
    if field.kind == "text":
        return _text(field, max_length=field.max_length)
    if field.kind == "ground":
        return ground_field(required=field.required, label=field.label, case=case)
    if field.kind == "choice":
        return forms.ChoiceField(
            label=field.label, choices=list(field.choices), required=field.required
        )
    if field.kind in ("check", "confirm"):
        return forms.BooleanField(label=field.label, required=field.required)
    if field.kind == "document":
        return CheckedFileField(
            label=field.label,
            required=field.required,
            widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
        )
    raise ValueError(f"unknown field kind {field.kind!r}")


class StepForm(AccessibleForm):
    """The fields one step asks of ``who`` (an officer or the subject), as the table declares."""

    def __init__(self, *args: Any, step: Step, case: Case, who: Who, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step, self.who = step, who
        self.declared = step.fields_for(who)
        for declared in self.declared:
            self.fields[declared.name] = form_field(declared, who=who, case=case)
            if declared.initial:
                self.fields[declared.name].initial = getattr(case, declared.initial)

    def arguments(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of ``perform``: the message, the ID copy, the
        officer's checklist (kept in the event), and the transition's own arguments."""
        arguments: dict[str, Any] = {}
        checklist = {}
        for declared in self.declared:
            value = self.cleaned_data.get(declared.name)
            if declared.kind == "message":
                arguments["message"] = value or ""
            elif declared.kind == "document":
                arguments["id_document"] = value
            elif declared.kind == "check":
                checklist[declared.name] = bool(value)
            elif declared.kind in ("text", "ground", "choice"):
                arguments[declared.name] = value or ""
        if checklist:
            arguments["record"] = {"checklist": checklist}
        return arguments
