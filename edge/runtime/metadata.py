"""Read a named metadata buffer of a `.tflite` with nothing but `struct`: no schema, no runtime,
and nothing to import on `classify`'s start-up path beyond the standard library."""

from __future__ import annotations

import struct

EMBEDDED_CARD = "edgeclf_card"  # the metadata buffer that carries a model's card (card.py)


def read_metadata(model_bytes: bytes, name: str) -> bytes | None:
    """A named metadata buffer of a `.tflite`, read with no schema and no runtime: the Model
    table's `metadata` vector names buffers in its `buffers` vector. None when there is none or
    the file is no TFLite flatbuffer."""
    try:
        return _read_metadata(memoryview(model_bytes), name.encode())
    except (struct.error, IndexError, ValueError):
        return None


def _read_metadata(data: memoryview, name: bytes) -> bytes | None:
    u16 = lambda at: struct.unpack_from("<H", data, at)[0]  # noqa: E731
    u32 = lambda at: struct.unpack_from("<I", data, at)[0]  # noqa: E731

    def field(table: int, index: int) -> int | None:
        vtable = table - struct.unpack_from("<i", data, table)[0]
        slot = 4 + 2 * index
        if slot >= u16(vtable) or not u16(vtable + slot):
            return None
        return table + u16(vtable + slot)

    def vector(at: int) -> tuple[int, int]:
        start = at + u32(at)
        return start + 4, u32(start)

    if bytes(data[4:8]) != b"TFL3":
        return None
    model = u32(0)
    meta_at, buffers_at = field(model, 6), field(model, 4)
    if meta_at is None or buffers_at is None:
        return None
    metas, count = vector(meta_at)
    buffers, buffer_count = vector(buffers_at)
    for i in range(count):
        entry = metas + 4 * i + u32(metas + 4 * i)
        name_at, index_at = field(entry, 0), field(entry, 1)
        if name_at is None or index_at is None:
            continue
        text, length = vector(name_at)
        if bytes(data[text : text + length]) != name or u32(index_at) >= buffer_count:
            continue
        buffer = buffers + 4 * u32(index_at)
        buffer += u32(buffer)
        data_at = field(buffer, 0)
        if data_at is None:
            return b""
        start, size = vector(data_at)
        return bytes(data[start : start + size])
    return None
