"""`edgeclf publish`: one model to one device or to all, signed, retained: a device that starts
later still gets it."""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import EdgeclfError, install_hint
from ..runtime.classifier import Classifier
from .envelope import seal
from .topics import BrokerUrl, topic


def connected_client(url: BrokerUrl, ca_file: Path | None, name: str, timeout: float = 10.0):
    """A paho client connected now (or a one-line refusal), its network loop running."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise EdgeclfError(f"this needs paho-mqtt: {install_hint('mqtt')}") from None
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
    if url.user:
        client.username_pw_set(url.user, url.password)
    if url.tls:
        client.tls_set(ca_certs=str(ca_file) if ca_file else None)
    ready, answer = threading.Event(), {}

    def on_connect(client, userdata, flags, reason_code, properties):
        answer["code"] = reason_code
        ready.set()

    client.on_connect = on_connect
    try:
        client.connect(url.host, url.port, keepalive=30)
    except (OSError, ValueError) as exc:
        raise EdgeclfError(f"cannot reach the broker at {url.shown()}: {exc}") from None
    client.loop_start()
    if not ready.wait(timeout) or answer["code"].is_failure:
        client.loop_stop()
        why = answer.get("code", "no answer")
        raise EdgeclfError(f"the broker at {url.shown()} refused the connection ({why})")
    return client


def publish_model(
    model_path: Path, url: BrokerUrl, to: str, key: bytes, ca_file: Path | None = None
) -> str:
    """Check the model loads with its card, seal it and publish it (retained, QoS 1); what was
    sent, in one line."""
    clf = Classifier(model_path)  # a damaged model is refused here, not on every device
    if clf.card is None:
        raise EdgeclfError(f"{model_path}: no card inside it; devices refuse such a model")
    payload = seal(clf.content, model_path.name, key)
    client = connected_client(url, ca_file, "edgeclf-publish")
    try:
        info = client.publish(topic(to, "model"), payload, qos=1, retain=True)
        info.wait_for_publish(30)
        if not info.is_published():
            raise EdgeclfError(f"the broker at {url.shown()} did not take the model")
    finally:
        client.disconnect()
        client.loop_stop()
    return (
        f"published {model_path.name} ({len(clf.content) / 1024:.0f} KB, "
        f"{', '.join(clf.labels)}) to {topic(to, 'model')}, signed and retained"
    )
