"""How many devices one Mosquitto holds: simulated devices (one process, one paho client each)
publish label changes into a local broker while one subscriber, as Home Assistant would, counts
what arrives and how late.

Each device publishes `--rate` label changes a second for `--seconds`, as a camera's `events`
(QoS 0 and then QoS 1). Reported: delivered / expected, publish-to-receive latency (p50, p99),
and the CPU the broker and this process used.

    python benchmarks/fleet.py [--devices 50] [--rate 10] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([mosquitto, "-c", str(config)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def client(port: int, name: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    return c


def run(port: int, devices: int, rate: float, seconds: float, qos: int, broker) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()

    def received(c, userdata, message) -> None:
        sent = json.loads(message.payload)["t"]
        with lock:
            latencies.append(time.time() - sent)

    listener = client(port, f"listener-{qos}")
    listener.on_message = received
    listener.subscribe("bench/+/events", qos=qos)
    time.sleep(0.5)
    clients = [client(port, f"bench-{qos}-{i}") for i in range(devices)]
    time.sleep(0.5)
    own, broker_cpu = psutil.Process(), psutil.Process(broker.pid)
    before = (own.cpu_times(), broker_cpu.cpu_times(), time.perf_counter())
    labels = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat")
    expected, start = 0, time.perf_counter()
    for tick in range(int(seconds * rate)):
        for i, c in enumerate(clients):
            event = {"label": labels[(tick + i) % len(labels)], "score": 0.9, "t": time.time()}
            c.publish(f"bench/dev{i}/events", json.dumps(event), qos=qos)
            expected += 1
        pause = start + (tick + 1) / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    time.sleep(2.0)  # the last ones land
    after = (own.cpu_times(), broker_cpu.cpu_times(), time.perf_counter())
    wall = after[2] - before[2]
    for c in [*clients, listener]:
        c.disconnect()
        c.loop_stop()
    ordered = sorted(latencies)
    return {
        "qos": qos,
        "expected": expected,
        "delivered": len(ordered),
        "p50_ms": 1000 * statistics.median(ordered) if ordered else None,
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else None,
        "broker_cpu": (sum(after[1][:2]) - sum(before[1][:2])) / wall,
        "clients_cpu": (sum(after[0][:2]) - sum(before[0][:2])) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="label changes a second each")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(Path(tmp))
        try:
            print(f"{args.devices} devices x {args.rate:g} events/s for {args.seconds:g} s, "
                  "one local Mosquitto:")  # fmt: skip
            for qos in (0, 1):
                r = run(port, args.devices, args.rate, args.seconds, qos, broker)
                print(
                    f"  QoS {qos}: delivered {r['delivered']}/{r['expected']} "
                    f"({r['delivered'] / r['expected']:.2%}), latency p50 {r['p50_ms']:.1f} ms, "
                    f"p99 {r['p99_ms']:.1f} ms; broker CPU {r['broker_cpu']:.0%} of a core, "
                    f"the {args.devices} clients {r['clients_cpu']:.0%}"
                )
        finally:
            broker.terminate()
            broker.wait(timeout=10)


if __name__ == "__main__":
    main()
