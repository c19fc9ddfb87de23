"""A model on its way to the fleet: one MQTT payload that holds the `.tflite` (its card inside)
and an HMAC-SHA256 under the fleet key. A device swaps it in only once the signature, the hash
and the size check out; the payload is bounded before anything is parsed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import NamedTuple

from ..errors import EdgeclfError

MAGIC = b"edgeclf-model/1\n"
MAX_MODEL_BYTES = 32 * 2**20  # the accurate tier is 4 MB; a Pi's memory is the bound
KEY_ENV = "EDGECLF_FLEET_KEY"


class Refused(EdgeclfError):
    """A model message that is not swapped in: said on the terminal and on `.../log`."""


class SignedModel(NamedTuple):
    name: str
    model: bytes
    sha256: str


def fleet_key(key_file: Path | None = None) -> bytes:
    """The shared key: `--fleet-key-file`, else $EDGECLF_FLEET_KEY; at least 16 bytes."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise EdgeclfError(f"--fleet-key-file {key_file}: {exc.strerror or exc}") from None
    else:
        key = os.environ.get(KEY_ENV, "").encode()
    if len(key) < 16:
        raise EdgeclfError(
            f"a fleet key of at least 16 characters is needed: set ${KEY_ENV} or "
            "--fleet-key-file (the same on every device)"
        )
    return key


def _signature(key: bytes, header: dict) -> str:
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def seal(model: bytes, name: str, key: bytes) -> bytes:
    """The payload: magic, one JSON line (name, size, sha256, signature), the model."""
    if len(model) > MAX_MODEL_BYTES:
        raise EdgeclfError(
            f"{name}: {len(model) / 2**20:.1f} MB is over {MAX_MODEL_BYTES // 2**20} MB"
        )
    header = {"name": name, "bytes": len(model), "sha256": hashlib.sha256(model).hexdigest()}
    header["signature"] = _signature(key, header)
    return MAGIC + json.dumps(header).encode() + b"\n" + model


def open_sealed(payload: bytes, key: bytes) -> SignedModel:
    """The model, once the payload's size, form, signature and hash check out; `Refused` (one
    line) otherwise."""
    if len(payload) > MAX_MODEL_BYTES + 4096:
        raise Refused(f"model message of {len(payload) / 2**20:.1f} MB is over the bound")
    if not payload.startswith(MAGIC) or b"\n" not in payload[len(MAGIC) : len(MAGIC) + 4096]:
        raise Refused("not a signed edgeclf model message")
    line, _, model = payload[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(line)
        signature = header.pop("signature")
        name, size, digest = str(header["name"]), int(header["bytes"]), str(header["sha256"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Refused("a model message with an unreadable header") from None
    if not hmac.compare_digest(str(signature), _signature(key, header)):
        raise Refused(f"{name}: wrong signature (not signed with this fleet's key)")
    if len(model) != size or hashlib.sha256(model).hexdigest() != digest:
        raise Refused(f"{name}: the model does not match its signed size and SHA-256 (cut short?)")
    return SignedModel(Path(name).name, model, digest)
