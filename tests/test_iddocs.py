"""ID copies: content-checked, stripped, encrypted at rest, destroyed once identity is decided."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image

from cases import iddocs
from cases.actors import Actor
from cases.models import CaseEvent, IdDocument, RefusalGround, State
from cases.workflow import perform

from .images import bomb_png
from .pdfs import MINIMAL_PDF, classic_pdf

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
            classic_pdf(b"/OpenAction<</JS(app.alert(1))>>"),
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
    bomb = bomb_png(10_000, 10_000)  # 100 million pixels compress to 12 kB
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
    case = submit(cast.b, confirm=False)
    document = iddocs.store(case, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    path = Path(settings.MEDIA_ROOT) / "id-documents" / document.file_name
    assert MINIMAL_PDF not in path.read_bytes() and b"%PDF" not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    assert iddocs.read(document) == MINIMAL_PDF


def _request_with_document(cast, submit):
    # Defero asks an ID copy for access: with one uploaded, confirmation leads to review.
    case = submit(cast.b, confirm=False)
    iddocs.store(case, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    case = perform(case, "confirm_email", actor=Actor.subject())
    assert case.state == State.IDENTITY_REVIEW
    (document,) = case.id_documents.all()
    return case, Path(settings.MEDIA_ROOT) / "id-documents" / document.file_name


def test_approving_identity_destroys_the_copy_and_keeps_a_note(cast, submit, committed):
    case, path = _request_with_document(cast, submit)
    committed(perform, case, "approve_identity", actor=Actor.officer(cast.officer_b))
    assert not IdDocument.objects.filter(case=case).exists()
    assert not path.exists()
    event = CaseEvent.objects.filter(case=case).last()
    assert event.data["id_document"] == {
        "checked_by": "officer_b",
        "result": "approved",
        "deleted": 1,
    }


def test_refusing_identity_destroys_the_copy(cast, submit, committed):
    case, path = _request_with_document(cast, submit)
    committed(
        perform,
        case,
        "refuse",
        actor=Actor.officer(cast.officer_b),
        ground=RefusalGround.IDENTITY_NOT_CONFIRMED,
        reason="The name on the document differs.",
    )
    assert not path.exists() and not IdDocument.objects.filter(case=case).exists()
    refused = CaseEvent.objects.get(case=case, action="refuse")
    assert refused.data["id_document"]["result"] == "rejected"


def test_withdrawing_destroys_the_copy(cast, submit, committed):
    case, path = _request_with_document(cast, submit)
    committed(perform, case, "withdraw", actor=Actor.subject())
    assert not path.exists() and not IdDocument.objects.filter(case=case).exists()


def test_a_rolled_back_decision_keeps_the_copy_readable(cast, submit, committed):
    from django.db import transaction

    case, path = _request_with_document(cast, submit)

    def decide_then_fail():
        with transaction.atomic():
            perform(case, "approve_identity", actor=Actor.officer(cast.officer_b))
            raise RuntimeError("later failure")

    with pytest.raises(RuntimeError):
        committed(decide_then_fail)
    (document,) = IdDocument.objects.filter(case=case)
    assert path.exists() and iddocs.read(document) == MINIMAL_PDF


def test_the_officer_may_ask_again_and_the_new_copy_goes_to_review(cast, submit):
    case, _ = _request_with_document(cast, submit)
    case = perform(
        case, "ask_identity", actor=Actor.officer(cast.officer_b), message="Unreadable scan."
    )
    assert case.state == State.AWAITING_IDENTITY
    iddocs.store(case, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    case = perform(case, "submit_identity", actor=Actor.subject())
    assert case.state == State.IDENTITY_REVIEW


def test_only_the_controller_s_officers_can_open_a_document(cast, submit):
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    case = submit(cast.a, confirm=False)
    document = iddocs.store(case, iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf"))
    assert iddocs.read_for(document, cast.officer_a) == MINIMAL_PDF
    for outsider in (
        cast.officer_b,
        cast.auditor_a,
        cast.staff_without_membership,
        AnonymousUser(),
    ):
        with pytest.raises(PermissionDenied):
            iddocs.read_for(document, outsider)


# --- The class of bypasses: names written with escapes, content hidden in compressed streams,
# metadata and comments that survive re-encoding.


def _pdf_with_stream(dictionary: bytes, payload: bytes) -> bytes:
    import zlib

    body = zlib.compress(payload)
    length = str(len(body)).encode()
    return (
        b"%PDF-1.5\n1 0 obj<</Type/Catalog>>endobj\n3 0 obj<<"
        + dictionary
        + b"/Length "
        + length
        + b">>stream\n"
        + body
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


@pytest.mark.parametrize(
    "pdf",
    [
        classic_pdf(b"/Open#41ction 2 0 R"),
        classic_pdf(b"/S/J#61vaScript/JS(x)"),
        classic_pdf(b"/#4A#53(app.alert(1))"),
        classic_pdf(b"/Names<</EmbeddedFiles 4 0 R>>"),
        classic_pdf(b"/AcroForm<</XFA 5 0 R>>"),
        classic_pdf(trailer_extra=b"/Encrypt 6 0 R"),
        _pdf_with_stream(
            b"/Type/ObjStm/N 1/First 4/Filter/FlateDecode", b"<</S/JavaScript/JS(1)>>"
        ),
        _pdf_with_stream(b"/Type/ObjStm/Filter/Fl", b"<</OpenAction<</S/Launch/F(calc)>>>>"),
        _pdf_with_stream(b"/Type/ObjStm/Filter/LZWDecode", b"anything"),  # cannot be read
        _pdf_with_stream(b"/Filter/FlateDecode", b"\x00" * 60_000_000),  # an inflation bomb
        b"%PDF-1.4\n" + b"<<>> stream\n" * 3000 + b"%%EOF",  # more streams than an ID scan has
    ],
    ids=[
        "escaped-openaction",
        "escaped-javascript",
        "fully-escaped-js",
        "embedded-files",
        "xfa-form",
        "encrypted",
        "javascript-in-object-stream",
        "launch-in-object-stream-abbreviated-filter",
        "object-stream-in-an-unread-encoding",
        "inflation-bomb",
        "too-many-streams",
    ],
)
def test_active_content_is_found_however_it_is_written(pdf):
    with pytest.raises(ValidationError) as error:
        iddocs.check_document(pdf)
    assert error.value.code == "pdf"


# Object streams the check once could not read: each hostile file has a harmless twin, built
# the same way, that is accepted, so a refusal is for the script, never for the file's shape.
OBJECT_STREAM_SHAPES = {
    "flate": {},
    "flate-twice": {"filters": ["FlateDecode", "FlateDecode"]},
    "flate-then-hex": {"filters": ["FlateDecode", "ASCIIHexDecode"]},
    "ascii85-then-flate": {"filters": ["ASCII85Decode", "FlateDecode"]},
    "hex-with-obj-in-a-string": {"filters": ["ASCIIHexDecode"], "stream_dict_extra": b"/X(obj)"},
    "dictionary-over-2kb": {"stream_dict_extra": b"/Pad(" + b"x" * 3000 + b")"},
}


@pytest.mark.parametrize("shape", list(OBJECT_STREAM_SHAPES))
def test_script_in_an_object_stream_is_found_whatever_its_filters(shape):
    from .pdfs import pdf_with_object_stream

    hostile = pdf_with_object_stream(
        b"/OpenAction 3 0 R",
        {3: b"<</S/JavaScript/JS(app.alert(1))>>"},
        **OBJECT_STREAM_SHAPES[shape],
    )
    harmless = pdf_with_object_stream(
        b"/PageMode 3 0 R", {3: b"/UseNone"}, **OBJECT_STREAM_SHAPES[shape]
    )
    assert b"JavaScript" not in hostile  # only a reader of the stream can see it
    with pytest.raises(ValidationError) as error:
        iddocs.check_document(hostile)
    assert error.value.code == "pdf"
    assert iddocs.check_document(harmless).content == harmless


def test_an_object_stream_that_inflates_beyond_the_limit_is_refused():
    from .pdfs import pdf_with_object_stream

    bomb = pdf_with_object_stream(b"/PageMode 3 0 R", {3: b"/UseNone" + b" " * 60_000_000})
    assert len(bomb) < 1_000_000
    with pytest.raises(ValidationError):
        iddocs.check_document(bomb)


def test_a_pdf_the_parser_cannot_read_is_refused():
    from .pdfs import pdf_with_object_stream

    # A comment between the dictionary and "stream": some viewers read the stream, the parser
    # does not; what cannot be checked is refused.
    odd = pdf_with_object_stream(
        b"/OpenAction 3 0 R", {3: b"<</S/JavaScript/JS(1)>>"}, before_stream=b"%c"
    )
    with pytest.raises(ValidationError):
        iddocs.check_document(odd)


@pytest.mark.parametrize("maker", ["weasyprint", "pillow"])
def test_pdfs_that_real_software_writes_are_accepted(maker):
    if maker == "weasyprint":
        from weasyprint import HTML

        pdf = HTML(string="<h1>Paspoort</h1><p>Jan Jansen</p>").write_pdf()
    else:  # what a scanner app does: an image saved as a PDF
        out = io.BytesIO()
        Image.new("RGB", (850, 1100), "white").save(out, format="PDF", resolution=100)
        pdf = out.getvalue()
    assert iddocs.check_document(pdf).content == pdf


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_every_metadata_and_comment_segment_is_stripped_from_a_jpeg():
    clean = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(clean, format="JPEG")
    data = clean.getvalue()
    extra = (
        _jpeg_segment(0xFE, b"<script>alert(1)</script>")  # COM
        + _jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>secret-xmp</x:xmpmeta>")
        + _jpeg_segment(0xED, b"Photoshop 3.0\x00secret-iptc")  # APP13
    )
    hostile = data[:2] + extra + data[2:]
    assert b"<script>" in hostile and Image.open(io.BytesIO(hostile)).info.get("comment")
    out = iddocs.check_document(hostile).content
    for secret in (b"<script>", b"secret-xmp", b"secret-iptc"):
        assert secret not in out
    markers = _jpeg_markers(out)
    assert not {0xFE, *range(0xE1, 0xF0)} & set(markers), [hex(m) for m in markers]


def _jpeg_markers(data: bytes) -> list[int]:
    """The segment markers of a JPEG up to the image data."""
    markers, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: the image data follows
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return markers


def test_text_and_profile_chunks_are_stripped_from_a_png():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    info.add_itxt("XML:com.adobe.xmp", "secret-xmp")
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(out, format="PNG", pnginfo=info, dpi=(300, 300))
    checked = iddocs.check_document(out.getvalue()).content
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"<script>", b"secret-xmp"):
        assert chunk not in checked
