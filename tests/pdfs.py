"""Well-formed PDF 1.5 files built byte by byte, for the upload checks: objects inside an
object stream (with any chain of filters), a cross-reference stream, nothing a parser has to
repair. A hostile file and its harmless twin differ only in what the test puts in them, so a
refusal is for the content, never for a damaged file."""

from __future__ import annotations

import base64
import binascii
import zlib

ENCODERS = {
    "FlateDecode": zlib.compress,
    "ASCIIHexDecode": lambda data: binascii.hexlify(data) + b">",
    "ASCII85Decode": lambda data: base64.a85encode(data) + b"~>",
}


def encode(data: bytes, filters: list[str]) -> bytes:
    """Encode so that decoding with ``filters`` in their order gives ``data`` back."""
    for name in reversed(filters):
        data = ENCODERS[name](data)
    return data


def filter_entry(filters: list[str]) -> bytes:
    names = b"".join(b"/" + name.encode() for name in filters)
    return names if len(filters) == 1 else b"[" + names + b"]"


def pdf_with_object_stream(
    catalog_extra: bytes = b"",
    extra_objects: dict[int, bytes] | None = None,
    *,
    filters: list[str] | None = None,
    stream_dict_extra: bytes = b"",
    before_stream: bytes = b"",
) -> bytes:
    """A one-page PDF whose catalog (object 1), pages (2) and ``extra_objects`` (numbered from
    3) all live in one object stream (object 9) encoded with ``filters``; a cross-reference
    stream (object 10) indexes them. ``stream_dict_extra`` goes into the object stream's
    dictionary, ``before_stream`` between that dictionary and the ``stream`` keyword."""
    filters = filters if filters is not None else ["FlateDecode"]
    objects = {
        1: b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>",
        2: b"<</Type/Pages/Kids[]/Count 0>>",
        **(extra_objects or {}),
    }
    numbers = sorted(objects)
    bodies, header, offset = [], [], 0
    for number in numbers:
        header.append(b"%d %d" % (number, offset))
        bodies.append(objects[number])
        offset += len(objects[number]) + 1
    first = b" ".join(header) + b"\n"
    payload = encode(first + b"\n".join(bodies) + b"\n", filters)

    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    stream_at = len(out)
    out += b"9 0 obj\n<</Type/ObjStm/N %d/First %d/Filter %s/Length %d%s>>%s\nstream\n" % (
        len(numbers),
        len(first),
        filter_entry(filters),
        len(payload),
        stream_dict_extra,
        before_stream,
    )
    out += payload + b"\nendstream\nendobj\n"
    xref_at = len(out)
    size = 11
    rows = []
    for number in range(size):
        if number in objects:
            rows.append(
                bytes([2]) + (9).to_bytes(4, "big") + numbers.index(number).to_bytes(2, "big")
            )
        elif number == 9:
            rows.append(bytes([1]) + stream_at.to_bytes(4, "big") + (0).to_bytes(2, "big"))
        elif number == 10:
            rows.append(bytes([1]) + xref_at.to_bytes(4, "big") + (0).to_bytes(2, "big"))
        else:
            rows.append(
                bytes([0])
                + (0).to_bytes(4, "big")
                + (65535 if number == 0 else 0).to_bytes(2, "big")
            )
    table = b"".join(rows)
    out += b"10 0 obj\n<</Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Length %d>>\nstream\n" % (
        size,
        len(table),
    )
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def classic_pdf(catalog_extra: bytes = b"", trailer_extra: bytes = b"") -> bytes:
    """A PDF 1.4 file as the oldest writers make it: a catalog and an empty page tree in the
    open, a cross-reference table; ``catalog_extra`` and ``trailer_extra`` are written as given
    (escapes and all)."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>",
        b"<</Type/Pages/Kids[]/Count 0>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer_extra,
        xref_at,
    )
    return bytes(out)


# The smallest upload the checks accept: what tests attach where "some PDF" is needed.
MINIMAL_PDF = classic_pdf()
