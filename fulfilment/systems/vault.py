"""Files of personal data at rest, encrypted as a stream: collected rows, exports, packages.

Each search and each package has a key of its own (AES-256-GCM), kept on its row wrapped
with ``settings.ID_DOCUMENT_KEY``, as ID copies are: a copy of the media folder alone, or of the
database alone, reads nothing. Unlike an ID copy (Fernet, one piece), these files can be
gigabytes, so they are sealed in chunks of 1 MiB: each chunk's nonce is the file's random prefix
and the chunk's number, and the last chunk says so in its associated data, so a reordered,
altered or truncated file fails to read instead of reading short.

Layout: ``MAGIC``, an 8-byte nonce prefix, then records of (4-byte length, ciphertext).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

MAGIC = b"DSARV1\n"
CHUNK = 1 << 20
_LENGTH = struct.Struct(">I")


class VaultError(Exception):
    """A sealed file that does not open: wrong key, altered, reordered or cut short."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(key: bytes) -> bytes:
    return Fernet(settings.ID_DOCUMENT_KEY).encrypt(key)


def unwrap(wrapped: bytes | memoryview) -> bytes:
    return Fernet(settings.ID_DOCUMENT_KEY).decrypt(bytes(wrapped))


def _aad(number: int, last: bool) -> bytes:
    return b"%d:%s" % (number, b"last" if last else b"more")


class Writer:
    """Seals what is written into ``path``; the file appears (renamed from a temporary name)
    only when ``close`` seals the last chunk, so a crash leaves no half file under the name."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._aead = AESGCM(key)
        self._prefix = os.urandom(8)
        self._number = 0
        self._buffer = bytearray()
        self.size = 0  # plaintext bytes written
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
        self._file: BinaryIO = open(self._temporary, "wb")  # noqa: SIM115 - closed in close()
        os.chmod(self._temporary, 0o600)
        self._file.write(MAGIC + self._prefix)

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) <= CHUNK:
            return
        # The full chunks are sealed straight from the buffer, not from copies of it (two copies
        # a chunk before: a slice, then bytes); the view is let go before the buffer shrinks.
        done = 0
        with memoryview(self._buffer) as view:
            while len(view) - done > CHUNK:
                self._seal(view[done : done + CHUNK], last=False)
                done += CHUNK
        del self._buffer[:done]

    def _seal(self, plain: bytes | memoryview, *, last: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._number)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._number, last))
        self._file.write(_LENGTH.pack(len(sealed)) + sealed)
        self._number += 1

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temporary, self.path)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def read(path: Path, key: bytes) -> Iterator[bytes]:
    """The plaintext, chunk by chunk; VaultError if the file was tampered with or cut short."""
    aead = AESGCM(key)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as error:
        raise VaultError(f"{path.name}: {error.strerror}") from None
    try:
        head = handle.read(len(MAGIC) + 8)
        if len(head) != len(MAGIC) + 8 or not head.startswith(MAGIC):
            raise VaultError(f"{path.name}: not a sealed file")
        prefix = head[len(MAGIC) :]
        number = 0
        while True:
            raw_length = handle.read(_LENGTH.size)
            if len(raw_length) != _LENGTH.size:
                raise VaultError(f"{path.name}: cut short")
            (length,) = _LENGTH.unpack(raw_length)
            if length > CHUNK + 16:
                raise VaultError(f"{path.name}: damaged")
            sealed = handle.read(length)
            nonce = prefix + struct.pack(">I", number)
            for last in (False, True):
                try:
                    plain = aead.decrypt(nonce, sealed, _aad(number, last))
                    break
                except InvalidTag:
                    continue
            else:
                raise VaultError(f"{path.name}: altered, reordered or under another key")
            number += 1
            yield plain
            if last:
                if handle.read(1):
                    raise VaultError(f"{path.name}: data after the last chunk")
                return
    finally:
        handle.close()


def read_all(path: Path, key: bytes) -> bytes:
    return b"".join(read(path, key))


def root() -> Path:
    """Where fulfilment keeps its files: beside the ID copies, never served."""
    return Path(settings.MEDIA_ROOT) / "fulfilment"
