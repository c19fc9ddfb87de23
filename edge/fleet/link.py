"""One device's link to the broker: availability with a last will, its state (retained, on every
label change and as a heartbeat), an event per label change, Home Assistant discovery, and signed
models taken in. The camera never waits on it: paho runs the network in its own thread, and an
outage costs nothing but a bounded queue of events.

paho-mqtt reconnects with backoff (1 s up to 30 s); an outage is said in one line when it starts
and one when it ends (with how many events were kept or dropped), never once per attempt. On each
connect the availability, the discovery configs and the current state are published again.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import EdgeclfError, install_hint
from .discovery import discovery_configs
from .envelope import Refused, open_sealed
from .topics import BrokerUrl, topic

Say = Callable[[str], None]
# Given a verified model's bytes and name: swap it in and say what it is, or raise EdgeclfError.
Accept = Callable[[bytes, str], str]


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class FleetLink:
    def __init__(
        self,
        url: BrokerUrl,
        device: str,
        *,
        ca_file: Path | None = None,
        discovery: bool = True,
        interval: float = 30.0,
        queue: int = 1000,
        accept: Accept | None = None,
        key: bytes | None = None,
        version: str = "",
        say: Say = say_on_stderr,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise EdgeclfError(f"--mqtt needs paho-mqtt: {install_hint('mqtt')}") from None
        self.url, self.device, self.say = url, device, say
        self.discovery, self.interval, self.version = discovery, interval, version
        self.accept, self.key = accept, key
        self.lock = threading.Lock()
        self.pending: collections.deque[bytes] = collections.deque(maxlen=max(queue, 1))
        self.dropped = 0
        self.connected = False
        self.stopping = False
        self.outage_started: float | None = None
        self.state: dict | None = None
        self.shown: tuple | None = None  # (label, model, classes) last seen
        self.announced: tuple | None = None  # (model, classes) discovery was last sent for
        self.last_beat = 0.0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"edgeclf-{device}",
            protocol=mqtt.MQTTv311,
        )
        self.client.will_set(topic(device, "availability"), "offline", qos=1, retain=True)
        if url.user:
            self.client.username_pw_set(url.user, url.password)
        if url.tls:
            self.client.tls_set(ca_certs=str(ca_file) if ca_file else None)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_message = self._message

    # -- the connection --------------------------------------------------------------------------

    def start(self) -> FleetLink:
        """Connect in the background; the camera goes on whether or not the broker is there."""
        try:
            self.client.connect_async(self.url.host, self.url.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise EdgeclfError(f"--mqtt {self.url.shown()}: {exc}") from None
        self.client.loop_start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """A clean exit: `offline` (retained), then disconnect."""
        self.stopping = True
        deadline = time.monotonic() + timeout
        while not self.connected and self.outage_started is None and time.monotonic() < deadline:
            time.sleep(0.05)  # a short run: let the first connection send what was kept
        if self.connected:
            info = self.client.publish(topic(self.device, "availability"), "offline", 1, True)
            info.wait_for_publish(timeout)
        self.client.disconnect()
        self.client.loop_stop()

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if self.outage_started is None:
                self.outage_started = time.monotonic()
                self.say(
                    f"mqtt: {self.url.shown()} refused the connection ({reason_code}); retrying"
                )
            return
        client.publish(topic(self.device, "availability"), "online", 1, True)
        if self.accept is not None:
            client.subscribe([(topic(self.device, "model"), 1), (topic("all", "model"), 1)])
        with self.lock:
            self.connected = True
            state, backlog, dropped = self.state, list(self.pending), self.dropped
            self.pending.clear()
            self.dropped = 0
        if state is not None:
            self._announce(state)
        for event in backlog:
            client.publish(topic(self.device, "events"), event, 1, False)
        if self.outage_started is not None:
            gone = time.monotonic() - self.outage_started
            lost = f", {dropped} dropped (--mqtt-queue)" if dropped else ""
            self.say(f"mqtt: back after {gone:.0f} s; {len(backlog)} events sent{lost}")
            self.outage_started = None
        else:
            self.say(f"mqtt: connected to {self.url.shown()} as {self.device}")

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        with self.lock:
            was, self.connected = self.connected, False
        if was and self.outage_started is None and not self.stopping:
            self.outage_started = time.monotonic()
            self.say(
                f"mqtt: lost {self.url.shown()} ({reason_code}); reconnecting, keeping up to "
                f"{self.pending.maxlen} events"
            )

    # -- what the camera sees --------------------------------------------------------------------

    def see(self, result: dict, model: str, classes: list[str]) -> None:
        """One classified frame: state and an event when the label changes, a heartbeat state
        every `interval` seconds, discovery again when the model's classes change."""
        state = {
            "label": result["label"],
            "score": result["score"],
            "uncertain": result["label"] == "uncertain",
            "top_k": result.get("top_k", []),
            "model": model,
            "classes": classes,
            "t": result.get("t", time.time()),
        }
        now = time.monotonic()
        shown = (state["label"], model, tuple(classes))
        changed = self.shown is None or shown != self.shown
        with self.lock:
            self.state = state
            connected = self.connected
            if changed:
                event = json.dumps(state).encode()
                if connected:
                    self.client.publish(topic(self.device, "events"), event, 1, False)
                else:
                    if len(self.pending) == self.pending.maxlen:
                        self.dropped += 1
                    self.pending.append(event)
        if connected and shown[1:] != self.announced:  # a new model: discovery again
            self._announce(state)
        elif connected and (changed or now - self.last_beat >= self.interval):
            self._publish_state(state)
        self.shown = shown

    def _publish_state(self, state: dict) -> None:
        self.client.publish(topic(self.device, "state"), json.dumps(state), 1, True)
        self.last_beat = time.monotonic()

    def _announce(self, state: dict) -> None:
        """Discovery (for the model now in use), then the state."""
        self.announced = (state["model"], tuple(state["classes"]))
        if self.discovery:
            for config_topic, payload in discovery_configs(
                self.device, state["model"], self.version
            ).items():
                self.client.publish(config_topic, json.dumps(payload), 1, True)
        self._publish_state(state)

    # -- models from the fleet -------------------------------------------------------------------

    def _message(self, client, userdata, message) -> None:
        if self.accept is None or not message.topic.endswith("/model"):
            return
        if not message.payload:  # a cleared retained model
            return
        try:
            signed = open_sealed(message.payload, self.key or b"")
            line = f"mqtt: swapped in {self.accept(signed.model, signed.name)} from {message.topic}"
        except (Refused, EdgeclfError) as exc:
            line = f"mqtt: refused a model from {message.topic}: {exc}; the running model stays"
        except Exception as exc:  # noqa: BLE001 - a bad model must never stop the camera
            line = f"mqtt: refused a model from {message.topic}: {type(exc).__name__}: {exc}"
        self.say(line)
        client.publish(topic(self.device, "log"), line, 1, False)
