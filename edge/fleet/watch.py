"""`edgeclf watch`: every device on the broker, live: online or not, what it sees, its model,
when it was last heard and how many states a second it sends."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .publish import connected_client
from .topics import ROOT, BrokerUrl


@dataclass
class Device:
    id: str
    online: str = "?"
    label: str = "-"
    score: float | None = None
    model: str = "-"
    seen: float = 0.0
    times: deque = field(default_factory=lambda: deque(maxlen=200))

    def rate(self, now: float, window: float = 10.0) -> float:
        recent = [t for t in self.times if now - t <= window]
        return len(recent) / window


class Fleet:
    """What the broker said, by device."""

    def __init__(self) -> None:
        self.devices: dict[str, Device] = {}

    def hear(self, topic: str, payload: bytes) -> dict | None:
        """One message; the state it carried (with its device), if it was a state."""
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != ROOT:
            return None
        device = self.devices.setdefault(parts[1], Device(parts[1]))
        now = time.time()
        device.seen = now
        if parts[2] == "availability":
            device.online = payload.decode("utf-8", "replace")[:16]
            return None
        try:
            state = json.loads(payload)
            device.label, device.score = str(state["label"]), float(state["score"])
            device.model = str(state.get("model", "-"))
        except (ValueError, KeyError, TypeError):
            return None
        device.times.append(now)
        return {"device": parts[1], **state}

    def table(self):
        from rich.table import Table

        now = time.time()
        table = Table(title=f"edgeclf fleet: {len(self.devices)} device(s)")
        for column in ("device", "status", "garment", "confidence", "model", "last seen", "msg/s"):
            table.add_column(
                column, justify="right" if column in ("confidence", "msg/s") else "left"
            )
        for d in sorted(self.devices.values(), key=lambda d: d.id):
            score = "-" if d.score is None else f"{d.score:.0%}"
            ago = f"{now - d.seen:.0f} s ago" if d.seen else "-"
            table.add_row(d.id, d.online, d.label, score, d.model, ago, f"{d.rate(now):.1f}")
        return table


def watch(
    url: BrokerUrl, ca_file: Path | None = None, duration: float | None = None
) -> Iterator[tuple[Fleet, dict | None]]:
    """Each message as it comes, with the fleet as it stands; ends after `duration` seconds."""
    import queue

    inbox: queue.Queue = queue.Queue()
    client = connected_client(url, ca_file, f"edgeclf-watch-{time.time_ns() % 10**6}")
    client.on_message = lambda c, u, message: inbox.put((message.topic, message.payload))
    client.subscribe([(f"{ROOT}/+/state", 0), (f"{ROOT}/+/availability", 0)])
    fleet = Fleet()
    end = time.monotonic() + duration if duration else None
    try:
        while end is None or time.monotonic() < end:
            wait = 0.5 if end is None else max(0.0, min(0.5, end - time.monotonic()))
            try:
                topic, payload = inbox.get(timeout=wait)
            except queue.Empty:
                yield fleet, None
                continue
            yield fleet, fleet.hear(topic, payload)
    finally:
        client.disconnect()
        client.loop_stop()


def print_json(stream: Iterator[tuple[Fleet, dict | None]], emit: Callable[[str], None]) -> None:
    for _, state in stream:
        if state is not None:
            emit(json.dumps(state))
