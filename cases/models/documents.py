"""ID document copies: the row holds the wrapped key, the file the ciphertext (cases.iddocs)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .case import Case


class IdDocument(models.Model):
    """An ID copy, encrypted with its own key; the key is wrapped with settings.ID_DOCUMENT_KEY.

    Deleting the row and its file destroys the only copy of the key and of the ciphertext, so a
    backup of either alone reveals nothing (see cases/iddocs.py).
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="id_documents")
    file_name = models.CharField(max_length=100)  # random, under MEDIA_ROOT/id-documents/
    wrapped_key = models.BinaryField()
    content_type = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ID document of {self.case_id} ({self.content_type})"
