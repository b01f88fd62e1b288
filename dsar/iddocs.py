"""ID document copies: checked by content, stripped of metadata, encrypted, and destroyed.

Each document gets its own Fernet key; the file holds the ciphertext and the row holds the key
wrapped with ``settings.ID_DOCUMENT_KEY``. ``destroy`` deletes the file and the row, so neither a
copy of the media folder nor of the database alone can reveal the document afterwards.

Only PDF, JPEG and PNG are accepted, recognised by their first bytes, never by name or declared
type. Images are decoded and re-encoded, which drops EXIF (location, camera serial) and anything
appended to the file; images with more pixels than ``MAX_PIXELS`` are refused before decoding
(decompression bombs). PDFs cannot be re-encoded without a PDF library: they are refused when they
contain active content (JavaScript, launch actions, embedded files).
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps

from .models import IdDocument, Request

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 300 dpi scan of an A4 page is ~8.7 million
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|OpenAction|AA|RichMedia)\b")


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
        if b"%%EOF" not in data[-1024:] or _PDF_ACTIVE.search(data):
            raise ValidationError(
                _("This PDF cannot be accepted (damaged, or it contains active content)."),
                code="pdf",
            )
        return CheckedDocument(data, kind)
    return CheckedDocument(_reencode(data, kind), kind)


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
    out = io.BytesIO()
    if kind == "image/jpeg":
        image.convert("RGB").save(out, format="JPEG", quality=90)
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


def store(request: Request, document: CheckedDocument) -> IdDocument:
    key = Fernet.generate_key()
    name = secrets.token_hex(16) + ".bin"
    path = _folder() / name
    path.write_bytes(Fernet(key).encrypt(document.content))
    path.chmod(0o600)
    return IdDocument.objects.create(
        request=request,
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

    Auditors never see ID documents (LEGAL.md §2); nor do administrators without an officer
    membership of that controller, nor anyone else.
    """
    from .workflow import is_officer

    if not is_officer(user, document.request.controller):
        raise PermissionDenied("only the controller's officers may see an ID document")
    return read(document)


def destroy(request: Request) -> int:
    """Delete every ID document of a request, file and key. Returns how many there were."""
    documents = list(request.id_documents.all())
    request.id_documents.all().delete()
    folder = _folder()
    for document in documents:
        # After commit: a rollback must not leave a row whose ciphertext is already gone.
        transaction.on_commit(partial((folder / document.file_name).unlink, missing_ok=True))
    return len(documents)
