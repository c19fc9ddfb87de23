"""Where things go on the broker, and how to reach it: topic names under `edgeclf/<id>/`, a
device id made topic-safe, and `mqtt://[user@]host[:port]` parsed (the password never on argv)."""

from __future__ import annotations

import os
import re
import socket
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from ..errors import EdgeclfError

ROOT = "edgeclf"
DISCOVERY = "homeassistant"
PASSWORD_ENV = "EDGECLF_MQTT_PASSWORD"


def topic(device: str, leaf: str) -> str:
    """`edgeclf/<device>/<leaf>`: availability, state, events, model, log."""
    return f"{ROOT}/{device}/{leaf}"


def device_id(name: str | None = None) -> str:
    """A topic-safe device id: the host name by default; '+', '#', '/' and spaces become '-'."""
    raw = name if name is not None else socket.gethostname()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-.")[:64]
    if not safe or safe == "all":
        raise EdgeclfError(
            f"--device-id {raw!r}: use letters, digits, '-', '_' or '.' ('all' is for every device)"
        )
    return safe


class BrokerUrl(NamedTuple):
    host: str
    port: int
    tls: bool
    user: str | None

    @property
    def password(self) -> str | None:
        """From EDGECLF_MQTT_PASSWORD: never from the command line, never printed."""
        return os.environ.get(PASSWORD_ENV) or None

    def shown(self) -> str:
        """The URL as it may be printed: no password in it."""
        user = f"{self.user}@" if self.user else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_url(url: str) -> BrokerUrl:
    """`mqtt://[user@]host[:port]` (1883) or `mqtts://...` (8883, TLS verified)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EdgeclfError(f"--mqtt {url!r}: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise EdgeclfError(f"--mqtt {url!r}: expected mqtt://[user@]host[:port] or mqtts://...")
    if parts.password is not None:
        raise EdgeclfError(
            f"--mqtt: put the password in ${PASSWORD_ENV}, not in the URL (argv is visible to "
            "every user of this machine)"
        )
    tls = parts.scheme == "mqtts"
    user = unquote(parts.username) if parts.username else None
    return BrokerUrl(parts.hostname, port or (8883 if tls else 1883), tls, user)
