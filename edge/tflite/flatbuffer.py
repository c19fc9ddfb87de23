"""Read a `.tflite` with nothing but `struct` (no schema, no runtime, nothing to import on
`classify`'s start-up path beyond the standard library): a named metadata buffer, and the size of
every tensor the model declares, checked before an interpreter allocates them."""

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


class Flatbuffer:
    """Field and vector access into a flatbuffer; every offset is bounds-checked by `struct`."""

    def __init__(self, data: memoryview) -> None:
        self.data = data

    def u16(self, at: int) -> int:
        return struct.unpack_from("<H", self.data, at)[0]

    def u32(self, at: int) -> int:
        return struct.unpack_from("<I", self.data, at)[0]

    def field(self, table: int, index: int) -> int | None:
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        slot = 4 + 2 * index
        if slot >= self.u16(vtable) or not self.u16(vtable + slot):
            return None
        return table + self.u16(vtable + slot)

    def vector(self, at: int) -> tuple[int, int]:
        start = at + self.u32(at)
        count = self.u32(start)
        if start + 4 + count > len(self.data):
            raise ValueError("vector past the end of the file")
        return start + 4, count

    def tables(self, at: int) -> list[int]:
        start, count = self.vector(at)
        return [start + 4 * i + self.u32(start + 4 * i) for i in range(count)]


# Bytes per element of each TFLite tensor type (schema.fbs TensorType); others count 8.
TYPE_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 12: 8, 15: 2, 16: 4}


def declared_tensor_bytes(model_bytes: bytes) -> list[int]:
    """The size of every tensor of every subgraph, from its declared shape and type: what an
    interpreter would allocate. Raises ValueError for a file that is no sound TFLite flatbuffer."""
    fb = Flatbuffer(memoryview(model_bytes))
    try:
        if bytes(fb.data[4:8]) != b"TFL3":
            raise ValueError("not a TFLite flatbuffer")
        subgraphs = fb.field(fb.u32(0), 2)
        sizes = []
        for subgraph in fb.tables(subgraphs) if subgraphs is not None else []:
            tensors = fb.field(subgraph, 0)
            for tensor in fb.tables(tensors) if tensors is not None else []:
                shape_at, type_at = fb.field(tensor, 0), fb.field(tensor, 1)
                elements = 1
                if shape_at is not None:
                    start, count = fb.vector(shape_at)
                    for i in range(count):
                        dim = struct.unpack_from("<i", fb.data, start + 4 * i)[0]
                        if dim < -1:
                            raise ValueError(f"a tensor dimension of {dim}")
                        elements *= max(dim, 1)
                kind = fb.data[type_at] if type_at is not None else 0
                sizes.append(elements * TYPE_BYTES.get(kind, 8))
        return sizes
    except (struct.error, IndexError):
        raise ValueError("its contents point past the end of the file (cut short?)") from None


def _read_metadata(data: memoryview, name: bytes) -> bytes | None:
    fb = Flatbuffer(data)
    u32, field, vector = fb.u32, fb.field, fb.vector
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
