"""Read a legacy (non-zip) `torch.save` file into NumPy arrays, without torch, and without running
anything the file names: a restricted unpickler that knows only an ordered dict, the tensor rebuild
call and the storage types, and maps each storage to the bytes that follow the pickles.

The legacy format is five pickles (a magic number, the protocol version, system info, the object
whose tensors point at storages by key, and the list of those keys), then each storage's raw data:
its element count as an 8-byte little-endian integer, then the elements.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class StorageType(NamedTuple):
    dtype: type


class Storage(NamedTuple):
    key: str
    dtype: type


class TensorRef(NamedTuple):
    storage: Storage
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored) -> TensorRef:
    return TensorRef(storage, offset, tuple(size), tuple(stride))


class _Restricted(pickle.Unpickler):
    """Only the names a state dict of tensors needs; anything else is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGES:
            return StorageType(STORAGES[name])
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a weights file")

    def persistent_load(self, pid):
        kind, storage_type, key, *_ = pid
        if kind != "storage" or not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return Storage(str(key), storage_type.dtype)


def load_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """{name: array} of a legacy `torch.save` state dict."""
    data = Path(path).read_bytes()
    stream = io.BytesIO(data)
    if _Restricted(stream).load() != MAGIC:
        raise ValueError(f"{path}: not a legacy torch file (a zip one needs torch.load)")
    _Restricted(stream).load()  # protocol version
    _Restricted(stream).load()  # system info
    state = _Restricted(stream).load()
    keys = _Restricted(stream).load()
    raw: dict[str, np.ndarray] = {}
    dtypes = {ref.storage.key: ref.storage.dtype for ref in state.values()}
    offset = stream.tell()
    for key in keys:
        count = int.from_bytes(data[offset : offset + 8], "little")
        dtype = np.dtype(dtypes.get(key, np.float32))
        offset += 8
        raw[key] = np.frombuffer(data, dtype, count, offset)
        offset += count * dtype.itemsize
    arrays = {}
    for name, ref in state.items():
        storage = raw[ref.storage.key]
        item = storage.itemsize
        strides = tuple(s * item for s in ref.stride)
        view = np.lib.stride_tricks.as_strided(storage[ref.offset :], ref.size, strides)
        arrays[name] = np.array(view)  # a copy: the file's buffer can go
    return arrays
