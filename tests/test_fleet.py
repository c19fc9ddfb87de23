"""The fleet, against a real Mosquitto on loopback: discovery, availability and its last will,
events, a broker that goes away, signed models swapped in (and refused), and `watch`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from edgeclf.edge.errors import EdgeclfError
from edgeclf.edge.fleet.discovery import discovery_configs
from edgeclf.edge.fleet.envelope import MAX_MODEL_BYTES, Refused, open_sealed, seal
from edgeclf.edge.fleet.topics import device_id, parse_url
from edgeclf.edge.runtime.classifier import FASHION_MODEL

from conftest import EDGECLF

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt (the 'mqtt' extra) is missing")
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
needs_broker = pytest.mark.skipif(
    MOSQUITTO is None, reason="Debian's mosquitto is not installed here (.ci/run installs it)"
)
KEY = "fleet-key-for-tests-0123456789"


# --- pure parts ---------------------------------------------------------------------------------


def test_a_sealed_model_opens_only_with_its_key_whole():
    model = FASHION_MODEL.read_bytes()
    sealed = seal(model, "shop.tflite", KEY.encode())
    assert open_sealed(sealed, KEY.encode()).model == model
    with pytest.raises(Refused, match="wrong signature"):
        open_sealed(sealed, b"another-key-entirely")
    with pytest.raises(Refused, match="does not match its signed size"):
        open_sealed(sealed[:-100], KEY.encode())
    flipped = bytearray(sealed)
    flipped[-5] ^= 1
    with pytest.raises(Refused, match="does not match"):
        open_sealed(bytes(flipped), KEY.encode())
    with pytest.raises(Refused, match="over the bound"):
        open_sealed(b"x" * (MAX_MODEL_BYTES + 5000), KEY.encode())
    with pytest.raises(Refused, match="not a signed"):
        open_sealed(b"hello", KEY.encode())


def test_urls_ids_and_discovery_payloads():
    assert parse_url("mqtt://cam@broker.lan").port == 1883
    assert parse_url("mqtts://broker.lan").port == 8883 and parse_url("mqtts://b").tls
    for bad in ("http://x", "mqtt://u:secret@x", "mqtt://"):
        with pytest.raises(EdgeclfError):
            parse_url(bad)
    assert device_id("shop cam #1/left") == "shop-cam-1-left"
    with pytest.raises(EdgeclfError):
        device_id("all")
    configs = discovery_configs("cam1", "shop.tflite", "0.1.0")
    garment = configs["homeassistant/sensor/edgeclf_cam1/garment/config"]
    confidence = configs["homeassistant/sensor/edgeclf_cam1/confidence/config"]
    assert garment["state_topic"] == "edgeclf/cam1/state"
    assert garment["json_attributes_topic"] == "edgeclf/cam1/state"
    assert garment["availability_topic"] == "edgeclf/cam1/availability"
    assert garment["value_template"] == "{{ value_json.label }}"
    assert garment["unique_id"] != confidence["unique_id"]
    assert garment["device"] == {
        "identifiers": ["edgeclf_cam1"],
        "name": "edgeclf cam1",
        "model": "shop.tflite",
        "manufacturer": "edgeclf",
        "sw_version": "0.1.0",
    }
    assert confidence["unit_of_measurement"] == "%"


# --- a real broker ------------------------------------------------------------------------------


class Broker:
    """Mosquitto on a free loopback port, with its own config; stop and start it again."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("Debian's mosquitto is not installed here (.ci/run installs it)")
    running = Broker(tmp_path)
    yield running
    running.stop()


class Recorder:
    """A subscriber to everything, as a Home Assistant or Node-RED would be; it reconnects and
    subscribes again on its own."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes, bool, float]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe("#", qos=1)
        self.client.on_message = self._got
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _got(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload, message.retain, time.time()))

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _, _ in self.messages if t == topic]

    def wait(self, predicate, timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(port: int, wait: float = 1.0) -> dict[str, bytes]:
    """What a client that connects now is given at once."""
    got = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.__setitem__(m.topic, m.payload) if m.retain else None
    client.connect("127.0.0.1", port)
    client.subscribe("#")
    client.loop_start()
    time.sleep(wait)
    client.loop_stop()
    client.disconnect()
    return got


def camera(clip: Path, broker: Broker, *extra: str, env: dict | None = None) -> subprocess.Popen:
    args = [EDGECLF, "camera", "--source", str(clip), "--headless", "--on-change", "--model",
            str(FASHION_MODEL), "--mqtt", broker.url, "--device-id", "cam1", *extra]  # fmt: skip
    full = {**os.environ, "EDGECLF_FLEET_KEY": KEY, **(env or {})}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full
    )


@needs_broker
def test_a_camera_publishes_discovery_availability_state_and_its_labels(broker, clip):
    recorder = Recorder(broker.port)
    proc = camera(clip, broker)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    printed = [json.loads(line)["label"] for line in out.splitlines()]
    assert recorder.wait(lambda: len(recorder.on("edgeclf/cam1/events")) >= len(printed))
    events = [json.loads(p) for p in recorder.on("edgeclf/cam1/events")]
    assert [e["label"] for e in events] == printed and len(printed) >= 3  # the clip's labels
    assert set(events[0]) == {"label", "score", "uncertain", "top_k", "model", "classes", "t"}
    assert recorder.on("edgeclf/cam1/availability")[:1] == [b"online"]
    recorder.close()
    kept = retained(broker.port)
    assert kept["edgeclf/cam1/availability"] == b"offline"  # a clean exit says so
    assert json.loads(kept["edgeclf/cam1/state"])["label"] == printed[-1]
    config = json.loads(kept["homeassistant/sensor/edgeclf_cam1/garment/config"])
    assert config["state_topic"] == "edgeclf/cam1/state"
    assert config["device"]["model"] == FASHION_MODEL.name
    assert "homeassistant/sensor/edgeclf_cam1/confidence/config" in kept


@needs_broker
def test_the_last_will_says_offline_when_the_camera_is_killed(broker, clip):
    recorder = Recorder(broker.port)
    proc = camera(clip, broker, "--loop", "--realtime")
    try:
        assert recorder.wait(lambda: b"online" in recorder.on("edgeclf/cam1/availability"))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert recorder.wait(lambda: recorder.on("edgeclf/cam1/availability")[-1:] == [b"offline"])
    finally:
        proc.kill()
        recorder.close()


@needs_broker
def test_a_broker_that_goes_away_costs_no_frame_and_no_event(broker, clip, tmp_path):
    recorder = Recorder(broker.port)
    env = {"EDGECLF_CACHE": str(tmp_path)}
    proc = camera(clip, broker, "--loop", "--realtime", "--duration", "14", "--accept-models",
                  env=env)  # fmt: skip
    assert recorder.wait(lambda: b"online" in recorder.on("edgeclf/cam1/availability"))
    time.sleep(1.0)
    broker.stop()
    gone = time.time()
    time.sleep(5.0)
    broker.start()
    back = time.time()
    assert recorder.wait(lambda: recorder.on("edgeclf/cam1/availability")[-1:] == [b"online"])
    shop = tmp_path / "after.tflite"  # subscribed again on reconnect: a model still arrives
    shutil.copy(FASHION_MODEL, shop)
    subprocess.run([EDGECLF, "publish", str(shop), "--mqtt", broker.url, "--to", "cam1"],
                   check=True, capture_output=True, env={**os.environ, "EDGECLF_FLEET_KEY": KEY})  # fmt: skip
    out, err = proc.communicate(timeout=60)
    assert "swapped in after.tflite" in err, err
    assert proc.returncode == 0, err  # it classified on, and exits as it would have
    lines = [line for line in err.splitlines() if line.startswith("mqtt:")]
    assert sum("lost" in line for line in lines) == 1, lines  # one line per outage
    sent = [line for line in lines if "back after" in line]
    assert len(sent) == 1, lines
    kept = int(sent[0].split("; ")[1].split()[0])
    assert kept >= 3  # the clip changes garment every 10 frames at 15 FPS: events in the gap
    assert recorder.wait(lambda: recorder.on("edgeclf/cam1/availability")[-1:] == [b"offline"])
    late = [e for t, e, _, when in recorder.messages if t == "edgeclf/cam1/events" and when > back]
    stamped = [json.loads(e)["t"] for e in late]
    started = min(json.loads(e)["t"] for e in recorder.on("edgeclf/cam1/events"))
    in_gap = [t for t in stamped if t - started < back - gone + 2]
    assert len(late) >= kept and in_gap, (len(late), kept)
    assert len(out.splitlines()) > 10
    recorder.close()


@needs_broker
def test_a_signed_model_is_swapped_in_and_bad_ones_are_refused(broker, clip, tmp_path):
    shop = tmp_path / "shop.tflite"
    shutil.copy(FASHION_MODEL, shop)
    recorder = Recorder(broker.port)
    env = {"EDGECLF_CACHE": str(tmp_path / "cache")}
    proc = camera(clip, broker, "--loop", "--realtime", "--accept-models", env=env)
    try:
        assert recorder.wait(lambda: b"online" in recorder.on("edgeclf/cam1/availability"))
        publish = [EDGECLF, "publish", str(shop), "--mqtt", broker.url, "--to", "cam1"]
        sent = subprocess.run(publish, capture_output=True, text=True,
                              env={**os.environ, "EDGECLF_FLEET_KEY": KEY})  # fmt: skip
        assert sent.returncode == 0, sent.stderr

        def models() -> set:
            return {json.loads(p)["model"] for p in recorder.on("edgeclf/cam1/state")}

        assert recorder.wait(lambda: "shop.tflite" in str(models()))
        wrong = subprocess.run(publish, capture_output=True, text=True,
                               env={**os.environ, "EDGECLF_FLEET_KEY": "x" * 20})  # fmt: skip
        assert wrong.returncode == 0
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        cut = seal(shop.read_bytes(), "cut.tflite", KEY.encode())[:-500]
        client.publish("edgeclf/cam1/model", cut, qos=1).wait_for_publish(5)
        huge = b"x" * (MAX_MODEL_BYTES + 10_000)
        client.publish("edgeclf/all/model", huge, qos=1).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        assert recorder.wait(lambda: len(recorder.on("edgeclf/cam1/log")) >= 4)
        log = [p.decode() for p in recorder.on("edgeclf/cam1/log")]
        assert "swapped in shop.tflite" in log[0]
        assert "wrong signature" in log[1] and "cut short" in log[2] and "over the bound" in log[3]
        assert all("the running model stays" in line for line in log[1:])
        time.sleep(1.0)
        last = json.loads(recorder.on("edgeclf/cam1/state")[-1])
        assert last["model"].endswith("shop.tflite")  # still the one that was accepted
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        recorder.close()


@needs_broker
def test_a_retained_model_reaches_a_device_that_starts_later_and_watch_lists_it(
    broker, clip, tmp_path
):
    shop = tmp_path / "later.tflite"
    shutil.copy(FASHION_MODEL, shop)
    env = {**os.environ, "EDGECLF_FLEET_KEY": KEY}
    sent = subprocess.run([EDGECLF, "publish", str(shop), "--mqtt", broker.url],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert sent.returncode == 0 and "edgeclf/all/model" in sent.stdout, sent.stderr
    watch = subprocess.Popen([EDGECLF, "watch", broker.url, "--json", "--duration", "8"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    proc = camera(
        clip, broker, "--accept-models", "--realtime", env={"EDGECLF_CACHE": str(tmp_path)}
    )
    out, err = proc.communicate(timeout=60)
    assert "swapped in later.tflite" in err, err
    lines = [json.loads(line) for line in watch.communicate(timeout=30)[0].splitlines()]
    assert lines and {line["device"] for line in lines} == {"cam1"}
    assert any(line["model"].endswith("later.tflite") for line in lines)


@needs_broker
def test_serve_publishes_like_the_camera(broker, clip):
    recorder = Recorder(broker.port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [EDGECLF, "serve", "--source", str(clip), "--port", str(port), "--model",
            str(FASHION_MODEL), "--mqtt", broker.url, "--device-id", "shopfront"]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        assert recorder.wait(lambda: len(recorder.on("edgeclf/shopfront/events")) >= 2)
        state = json.loads(recorder.on("edgeclf/shopfront/state")[-1])
        assert state["model"] == FASHION_MODEL.name and state["label"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert recorder.wait(lambda: recorder.on("edgeclf/shopfront/availability")[-1:] == [b"offline"])
    recorder.close()
