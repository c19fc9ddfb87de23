"""TFLite's standard metadata, where its readers look for class names (MetadataExtractor, the
Task Library, Netron): a ModelMetadata flatbuffer (identifier M001) in the metadata buffer
TFLITE_METADATA naming `labels.txt` as the output's axis labels, and `labels.txt` in a zip
appended to the file, as the metadata populator writes them. Written with `flatbuffers` and
`zipfile` alone (no TensorFlow, no tflite-support, on the device), and read back the way those
readers read it, so the two are tested against each other."""

from __future__ import annotations

import io
import struct
import zipfile

from .flatbuffer import Flatbuffer, read_metadata
from .model_file import with_metadata

STANDARD_METADATA = "TFLITE_METADATA"
LABELS_FILE = "labels.txt"
AXIS_LABELS = 2  # metadata_schema.fbs AssociatedFileType.TENSOR_AXIS_LABELS


def with_standard_labels(model_bytes: bytes, name: str, description: str, classes) -> bytes:
    """The model with TFLite's standard metadata, where its readers look for class names
    (MetadataExtractor, the Task Library, Netron): a ModelMetadata flatbuffer in the metadata
    buffer TFLITE_METADATA naming `labels.txt` as the output's axis labels, and `labels.txt` in a
    zip appended to the file, as the metadata populator does. Built with `flatbuffers` and
    `zipfile` alone: no TensorFlow, and no tflite-support, on the device."""
    metadata = _model_metadata(name, description)
    carrying = with_metadata(model_bytes, STANDARD_METADATA, metadata)
    buffer = io.BytesIO(carrying)
    with zipfile.ZipFile(buffer, "a") as archive:  # the model stays first, the zip after it
        text = "".join(f"{c}\n" for c in classes)  # a Latin-1 folder name goes as its bytes
        archive.writestr(LABELS_FILE, text.encode("utf-8", "surrogateescape"))
    return buffer.getvalue()


def _model_metadata(name: str, description: str) -> bytes:
    """metadata_schema.fbs's ModelMetadata, field by field (slot numbers from the schema)."""
    import flatbuffers

    b = flatbuffers.Builder(1024)

    def table(
        fields: list[tuple[int, int]], slots: int, types: dict[int, int] | None = None
    ) -> int:
        b.StartObject(slots)  # what the fields point to was made before the table starts
        for slot, offset in fields:
            b.PrependUOffsetTRelativeSlot(slot, offset, 0)
        for slot, value in (types or {}).items():
            b.PrependInt8Slot(slot, value, 0)
        return b.EndObject()

    def vector(offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            b.PrependUOffsetTRelative(offset)
        return b.EndVector()

    labels_name = b.CreateString(LABELS_FILE)
    labels_text = b.CreateString("The class names, one per line, in the order of the output.")
    labels = table([(0, labels_name), (1, labels_text)], 5, {2: AXIS_LABELS})
    image_name, image_text = b.CreateString("image"), b.CreateString(description)
    image = table([(0, image_name), (1, image_text)], 7)
    scores_name = b.CreateString("probability")
    scores_text = b.CreateString("The probability of each class.")
    scores = table([(0, scores_name), (1, scores_text), (6, vector([labels]))], 7)
    graph = table([(2, vector([image])), (3, vector([scores]))], 10)
    model_name, model_text = b.CreateString(name), b.CreateString("A garment classifier (edgeclf).")
    parser = b.CreateString("1.0.0")
    b.Finish(
        table([(0, model_name), (1, model_text), (3, vector([graph])), (7, parser)], 8),
        file_identifier=b"M001",
    )
    return bytes(b.Output())


def read_standard_labels(model_bytes: bytes) -> tuple[str, ...] | None:
    """The class names a standard reader finds: the output tensor's associated file of type
    TENSOR_AXIS_LABELS, read from the zip appended to the model. None where there is none."""
    names = [name for name, kind in output_files(model_bytes) if kind == AXIS_LABELS]
    if not names:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(model_bytes)) as archive:
            text = archive.read(names[0]).decode("utf-8", "surrogateescape")
    except (KeyError, zipfile.BadZipFile):
        return None
    return tuple(text.splitlines())


def output_files(model_bytes: bytes) -> list[tuple[str, int]]:
    """(name, AssociatedFileType) of each file the first output tensor's metadata names:
    ModelMetadata.subgraph_metadata[0].output_tensor_metadata[0].associated_files (slot numbers
    from metadata_schema.fbs). Empty where the model has no standard metadata."""
    metadata = read_metadata(model_bytes, STANDARD_METADATA)
    if not metadata or metadata[4:8] != b"M001":
        return []
    fb = Flatbuffer(memoryview(metadata))

    def tables(table: int, slot: int) -> list[int]:
        at = fb.field(table, slot)
        return fb.tables(at) if at is not None else []

    def text(table: int, slot: int) -> str:
        at = fb.field(table, slot)
        if at is None:
            return ""
        start, length = fb.vector(at)
        return bytes(fb.data[start : start + length]).decode("utf-8", "surrogateescape")

    try:
        files = [
            (text(file, 0), fb.data[kind] if (kind := fb.field(file, 2)) is not None else 0)
            for graph in tables(fb.u32(0), 3)[:1]
            for output in tables(graph, 3)[:1]
            for file in tables(output, 6)
        ]
    except (struct.error, IndexError, ValueError):
        return []
    return files
