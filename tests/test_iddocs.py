"""ID copies: content-checked, stripped, encrypted at rest, destroyed once identity is decided."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image

from dsar import iddocs
from dsar.models import CaseEvent, IdDocument, RefusalGround, State
from dsar.workflow import Actor, perform

pytestmark = pytest.mark.django_db


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 40), "navy")
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x8825] = {2: (52.0, 22.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 20, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_images_are_re_encoded_without_metadata():
    original = jpeg_with_exif()
    assert b"SecretCameraMaker" in original
    checked = iddocs.check_document(original)
    assert checked.content_type == "image/jpeg"
    assert b"SecretCameraMaker" not in checked.content
    assert not Image.open(io.BytesIO(checked.content)).getexif()


def test_bytes_appended_to_an_image_are_dropped():
    checked = iddocs.check_document(png() + b"<script>payload</script>")
    assert b"payload" not in checked.content


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"MZ\x90\x00" + b"\x00" * 200, "type"),  # a Windows executable renamed ID.pdf
        (b"#!/bin/sh\nrm -rf /\n", "type"),
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "image"),
        (
            MINIMAL_PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</JS(app.alert(1))>>"),
            "pdf",
        ),
        (b"%PDF-1.4\n" + b"x" * 100, "pdf"),  # truncated: no end-of-file marker
    ],
    ids=["executable", "script", "empty", "broken-png", "pdf-with-javascript", "truncated-pdf"],
)
def test_what_is_not_a_clean_pdf_jpeg_or_png_is_refused(data, code):
    with pytest.raises(ValidationError) as error:
        iddocs.check_document(data)
    assert error.value.code == code


def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = png(10_000, 10_000)  # 100 million pixels of white compresses to a small file
    assert len(bomb) < iddocs.MAX_BYTES
    with pytest.raises(ValidationError) as error:
        iddocs.check_document(bomb)
    assert error.value.code == "bomb"


def test_more_than_10_mb_is_refused():
    with pytest.raises(ValidationError) as error:
        iddocs.check_document(MINIMAL_PDF + b"0" * iddocs.MAX_BYTES)
    assert error.value.code == "too_large"


def test_a_pdf_is_accepted_as_it_is():
    assert iddocs.check_document(MINIMAL_PDF).content == MINIMAL_PDF


def test_a_stored_document_is_encrypted_at_rest_and_reads_back(cast, submit):
    request = submit(cast.b, confirm=False)
    document = iddocs.store(request, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    path = Path(settings.MEDIA_ROOT) / "id-documents" / document.file_name
    assert MINIMAL_PDF not in path.read_bytes() and b"%PDF" not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    assert iddocs.read(document) == MINIMAL_PDF


def _request_with_document(cast, submit):
    # Defero asks an ID copy for access: with one uploaded, confirmation leads to review.
    request = submit(cast.b, confirm=False)
    iddocs.store(request, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    request = perform(request, "confirm_email", actor=Actor.subject(), has_id_document=True)
    assert request.state == State.IDENTITY_REVIEW
    (document,) = request.id_documents.all()
    return request, Path(settings.MEDIA_ROOT) / "id-documents" / document.file_name


def test_approving_identity_destroys_the_copy_and_keeps_a_note(cast, submit, committed):
    request, path = _request_with_document(cast, submit)
    committed(perform, request, "approve_identity", actor=Actor.officer(cast.officer_b))
    assert not IdDocument.objects.filter(request=request).exists()
    assert not path.exists()
    event = CaseEvent.objects.filter(request=request).last()
    assert event.data["id_document"] == {
        "checked_by": "officer_b",
        "result": "approved",
        "deleted": 1,
    }


def test_refusing_identity_destroys_the_copy(cast, submit, committed):
    request, path = _request_with_document(cast, submit)
    committed(
        perform,
        request,
        "refuse",
        actor=Actor.officer(cast.officer_b),
        ground=RefusalGround.IDENTITY_NOT_CONFIRMED,
        reason="The name on the document differs.",
    )
    assert not path.exists() and not IdDocument.objects.filter(request=request).exists()
    assert (
        CaseEvent.objects.filter(request=request).last().data["id_document"]["result"] == "rejected"
    )


def test_withdrawing_destroys_the_copy(cast, submit, committed):
    request, path = _request_with_document(cast, submit)
    committed(perform, request, "withdraw", actor=Actor.subject())
    assert not path.exists() and not IdDocument.objects.filter(request=request).exists()


def test_a_rolled_back_decision_keeps_the_copy_readable(cast, submit, committed):
    from django.db import transaction

    request, path = _request_with_document(cast, submit)

    def decide_then_fail():
        with transaction.atomic():
            perform(request, "approve_identity", actor=Actor.officer(cast.officer_b))
            raise RuntimeError("later failure")

    with pytest.raises(RuntimeError):
        committed(decide_then_fail)
    (document,) = IdDocument.objects.filter(request=request)
    assert path.exists() and iddocs.read(document) == MINIMAL_PDF


def test_the_officer_may_ask_again_and_the_new_copy_goes_to_review(cast, submit):
    request, _ = _request_with_document(cast, submit)
    request = perform(
        request, "ask_identity", actor=Actor.officer(cast.officer_b), message="Unreadable scan."
    )
    assert request.state == State.AWAITING_IDENTITY
    iddocs.store(request, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    request = perform(request, "submit_identity", actor=Actor.subject())
    assert request.state == State.IDENTITY_REVIEW


def test_only_the_controller_s_officers_can_open_a_document(cast, submit):
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    request = submit(cast.a, confirm=False)
    document = iddocs.store(request, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    assert iddocs.read_for(document, cast.officer_a) == MINIMAL_PDF
    for outsider in (
        cast.officer_b,
        cast.auditor_a,
        cast.staff_without_membership,
        AnonymousUser(),
    ):
        with pytest.raises(PermissionDenied):
            iddocs.read_for(document, outsider)
