"""ID document copies: checked by content, stripped of metadata, encrypted, and destroyed.

Each document gets its own Fernet key; the file holds the ciphertext and the row holds the key
wrapped with ``settings.ID_DOCUMENT_KEY``. ``destroy`` deletes the file and the row, so neither a
copy of the media folder nor of the database alone can reveal the document afterwards.

Only PDF, JPEG and PNG are accepted, recognised by their first bytes, never by name or declared
type. Images are decoded and re-encoded, which drops EXIF (location, camera serial) and anything
appended to the file; images with more pixels than ``MAX_PIXELS`` are refused before decoding
(decompression bombs). PDFs are not re-encoded (that would rasterise the scan): they are refused
when they contain active content (JavaScript, launch actions, embedded files), looked for in the
raw bytes and, through a real parser, in every object of the file, object streams included.
"""

from __future__ import annotations

import io
import re
import secrets
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pypdf
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps
from pypdf.generic import IndirectObject, NameObject

from controllers.access import is_officer

from .models import Case, IdDocument

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 300 dpi scan of an A4 page is ~8.7 million
# PDF names that make a document do something when opened (script, launch an application, embed
# a file, submit or import data, rich media, forms that run script). Compared after decoding the
# #xx escapes a name may be written with (/J#61vaScript is /JavaScript).
_PDF_ACTIVE = {
    b"JavaScript",
    b"JS",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"OpenAction",
    b"AA",
    b"RichMedia",
    b"XFA",
    b"SubmitForm",
    b"ImportData",
    b"GoToE",
    b"Encrypt",  # an encrypted file cannot be checked at all
}


def _escapable(name: bytes) -> bytes:
    """A pattern for a name however it is written: each character as itself or as #xx."""
    return b"".join(
        b"(?:%s|#%s)"
        % (
            re.escape(bytes([c])),
            b"".join(b"[%s%s]" % (h.upper().encode(), h.encode()) for h in f"{c:02x}"),
        )
        for c in name
    )


# One pass over the file, in C: any active name, escaped or not, ending at a delimiter.
_PDF_ACTIVE_NAME = re.compile(
    rb"/(?:"
    + b"|".join(_escapable(n) for n in sorted(_PDF_ACTIVE))
    + rb")(?=[\x00-\x20/%()<>\[\]{}]|\Z)"
)
# What the parser may spend on one upload. An ID scan has a handful of objects and at most a few
# object streams; a file beyond these limits is refused, not parsed for minutes.
_PDF_MAX_OBJECTS = 20_000
_PDF_MAX_OBJECT_STREAMS = 100
_PDF_MAX_INFLATED = 5 * 1024 * 1024  # per stream, through pypdf's own decompression limits
_PDF_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class CheckedDocument:
    content: bytes
    content_type: str


def sniff(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def check_document(data: bytes) -> CheckedDocument:
    """Validate an upload; return what will be stored. Raises ValidationError with the reason."""
    if len(data) > MAX_BYTES:
        raise ValidationError(_("The file is larger than 10 MB."), code="too_large")
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    kind = sniff(data[:16])
    if kind is None:
        raise ValidationError(
            _("Only PDF, JPEG and PNG files are accepted (this file is none of them)."),
            code="type",
        )
    if kind == "application/pdf":
        if b"%%EOF" not in data[-1024:] or _pdf_is_active(data):
            raise ValidationError(
                _("This PDF cannot be accepted (damaged, or it contains active content)."),
                code="pdf",
            )
        return CheckedDocument(data, kind)
    return CheckedDocument(_reencode(data, kind), kind)


def _pdf_is_active(data: bytes) -> bool:
    """Whether the PDF names active content anywhere, or cannot be read well enough to tell.

    Two passes. The raw bytes, for every active name however it is escaped: this sees objects
    the cross-reference table does not list, which a viewer repairing the file might still find.
    Then a real parser (pypdf) reads every object the file lists, those inside object streams
    included, whatever chain of filters encodes them, and looks at every name in them, decoded.
    A file the parser cannot read, an encrypted one, or one beyond the limits counts as active:
    what cannot be checked is refused, never waved through."""
    if _PDF_ACTIVE_NAME.search(data):
        return True
    started = time.monotonic()
    try:
        with pypdf.apply_configuration(
            zlib_maximum_output_length=_PDF_MAX_INFLATED,
            lzw_maximum_output_length=_PDF_MAX_INFLATED,
            run_length_maximum_output_length=_PDF_MAX_INFLATED,
            array_based_stream_maximum_output_length=_PDF_MAX_INFLATED,
        ):
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                return True
            listed = [
                (generation, number)
                for generation, entries in reader.xref.items()
                for number in entries
            ] + [(0, number) for number in reader.xref_objStm]
            streams = {stream for stream, _index in reader.xref_objStm.values()}
            if len(listed) > _PDF_MAX_OBJECTS or len(streams) > _PDF_MAX_OBJECT_STREAMS:
                return True
            for generation, number in listed:
                found = reader.get_object(IndirectObject(number, generation, reader))
                if _names_active(found) or time.monotonic() - started > _PDF_MAX_SECONDS:
                    return True
    except Exception:  # any fault of a hostile file is a refusal, never a 500
        return True
    return False


def _names_active(found: object, depth: int = 0) -> bool:
    """Whether an object, or anything directly inside it, is or holds an active name. Objects it
    refers to are not followed: each is visited in its own turn."""
    if depth > 64:
        return True  # nesting no honest file has
    if isinstance(found, NameObject):
        return found[1:].encode("utf-8", "surrogateescape") in _PDF_ACTIVE
    if isinstance(found, dict):
        return any(
            _names_active(key, depth + 1) or _names_active(value, depth + 1)
            for key, value in found.items()
        )
    if isinstance(found, list):
        return any(_names_active(item, depth + 1) for item in found)
    return False


def _reencode(data: bytes, kind: str) -> bytes:
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; any bomb is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size  # from the header, before any pixels are decoded
            if width * height > MAX_PIXELS:
                raise ValidationError(_("The image is too large."), code="bomb")
            image.load()
            image = ImageOps.exif_transpose(image)  # keep it upright once EXIF is gone
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_("The image is too large."), code="bomb") from None
    except (OSError, SyntaxError, ValueError, Warning):
        raise ValidationError(_("The image could not be read."), code="image") from None
    # Nothing of the original file goes along: Pillow writes a JPEG comment, an ICC profile or
    # DPI back from ``info`` (a COM segment survived with a <script> in it).
    image.info = {}
    out = io.BytesIO()
    if kind == "image/jpeg":
        image = image.convert("RGB")
        image.info = {}
        image.save(out, format="JPEG", quality=90)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, format="PNG")
    return out.getvalue()


def _master() -> Fernet:
    return Fernet(settings.ID_DOCUMENT_KEY)


def _folder() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "id-documents"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def store(case: Case, document: CheckedDocument) -> IdDocument:
    key = Fernet.generate_key()
    name = secrets.token_hex(16) + ".bin"
    path = _folder() / name
    path.write_bytes(Fernet(key).encrypt(document.content))
    path.chmod(0o600)
    return IdDocument.objects.create(
        case=case,
        file_name=name,
        wrapped_key=_master().encrypt(key),
        content_type=document.content_type,
        size=len(document.content),
    )


def read(document: IdDocument) -> bytes:
    key = _master().decrypt(bytes(document.wrapped_key))
    return Fernet(key).decrypt((_folder() / document.file_name).read_bytes())


def read_for(document: IdDocument, user: AbstractBaseUser | AnonymousUser) -> bytes:
    """The document's content for a user allowed to see it: an officer of its controller.

    Auditors never see ID documents (docs/legal.md §2); nor do administrators without an officer
    membership of that controller, nor anyone else.
    """
    if not is_officer(user, document.case.controller):
        raise PermissionDenied("only the controller's officers may see an ID document")
    return read(document)


def destroy(case: Case) -> int:
    """Delete every ID document of a request, file and key. Returns how many there were."""
    documents = list(case.id_documents.all())
    case.id_documents.all().delete()
    folder = _folder()
    for document in documents:
        # After commit: a rollback must not leave a row whose ciphertext is already gone.
        transaction.on_commit(partial((folder / document.file_name).unlink, missing_ok=True))
    return len(documents)
