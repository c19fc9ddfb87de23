"""Home Assistant MQTT discovery: the retained configs that make a camera appear as a device with
a garment sensor and a confidence sensor, with no configuration (fields as in Home Assistant's
MQTT sensor documentation)."""

from __future__ import annotations

from .topics import DISCOVERY, topic


def discovery_configs(device: str, model: str, version: str) -> dict[str, dict]:
    """{config topic: payload} for the device's two sensors."""
    block = {
        "identifiers": [f"edgeclf_{device}"],
        "name": f"edgeclf {device}",
        "model": model,
        "manufacturer": "edgeclf",
        "sw_version": version,
    }
    common = {
        "state_topic": topic(device, "state"),
        "availability_topic": topic(device, "availability"),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": block,
    }
    garment = {
        **common,
        "name": "Garment",
        "unique_id": f"edgeclf_{device}_garment",
        "value_template": "{{ value_json.label }}",
        "json_attributes_topic": topic(device, "state"),
        "icon": "mdi:tshirt-crew",
    }
    confidence = {
        **common,
        "name": "Confidence",
        "unique_id": f"edgeclf_{device}_confidence",
        "value_template": "{{ (value_json.score * 100) | round(1) }}",
        "unit_of_measurement": "%",
        "state_class": "measurement",
        "icon": "mdi:percent",
    }
    base = f"{DISCOVERY}/sensor/edgeclf_{device}"
    return {f"{base}/garment/config": garment, f"{base}/confidence/config": confidence}
