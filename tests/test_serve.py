"""The server: API through FastAPI's test client, a real uvicorn for streaming, load and the browser."""

import contextlib
import json
import shutil
import socket
import threading
import time

import cv2
import httpx
import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient

from edgeclf.edge.datasets.synthetic import write_demo_video
from edgeclf.edge.live.service import LiveService
from edgeclf.edge.live.stream import LiveOptions
from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.classifier import FASHION_MODEL, Classifier
from edgeclf.edge.serve.app import create_app

from conftest import needs_schema
from photos import make_variant

TOKEN = "s3cret-token"
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed here"
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def png(image) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.fixture(scope="module")
def video(tmp_path_factory, test_split):
    path = tmp_path_factory.mktemp("serve") / "garments.mp4"
    write_demo_video(path, test_split.images[:12], frames_per_garment=15)
    return path


@pytest.fixture()
def client():
    with TestClient(create_app(Classifier(FASHION_MODEL), None, max_upload=200_000)) as c:
        yield c


def test_upload_real_photos(client, test_split):
    rng = np.random.default_rng(3)
    correct = 0
    for i in range(30):
        photo = make_variant(test_split.images[i], "colour_jpeg", rng)
        data = cv2.imencode(".jpg", photo)[1].tobytes()
        response = client.post("/classify", files={"file": (f"g{i}.jpg", data, "image/jpeg")})
        assert response.status_code == 200
        body = response.json()
        assert (
            set(body) == {"path", "label", "index", "score", "top_k", "ms"}
            and body["path"] == f"g{i}.jpg"
        )
        correct += body["label"] == CLASS_NAMES[test_split.labels[i]]
    assert correct >= 24


def test_bad_uploads_get_json_errors_and_the_server_keeps_serving(client, test_split):
    cases = [
        (b"definitely not an image", 415),
        (png(test_split.images[0])[:60], 415),  # corrupt PNG
        (b"", 400),
        (b"\x89PNG" + bytes(300_000), 413),  # over the 200 kB limit of this app
    ]
    blank = "no garment found (the image is blank)"  # one rule with `classify`
    cases += [
        (png(np.full((50, 50), 128, np.uint8)), 422),
        (png(np.zeros((1, 4000), np.uint8)), 422),
    ]
    for data, status in cases:
        response = client.post("/classify", files={"file": ("x.png", data, "image/png")})
        assert response.status_code == status, (status, response.text)
        assert "error" in response.json()
        assert (response.json()["error"] == blank) == (status == 422)
    assert client.post("/classify", data={"nofile": "1"}).status_code == 422
    assert (
        client.post(
            "/classify", files={"file": ("ok.png", png(test_split.images[0]), "image/png")}
        ).status_code
        == 200
    )


def test_token_guards_every_route_but_healthz(test_split):
    with TestClient(create_app(Classifier(FASHION_MODEL), None, token=TOKEN)) as c:
        assert c.get("/healthz").status_code == 200
        for path in ("/", "/api/status", "/docs", "/openapi.json"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, (
                path
            )
        assert c.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get(f"/api/status?token={TOKEN}").status_code == 200
        docs = c.get(f"/docs?token={TOKEN}").text  # the page's schema request carries the token
        assert f"/openapi.json?token={TOKEN}" in docs
        assert c.get(f"/openapi.json?token={TOKEN}").status_code == 200
        upload = {"file": ("a.png", png(test_split.images[0]), "image/png")}
        assert c.post("/classify", files=upload).status_code == 401


def test_without_camera_status_and_page(client):
    status = client.get("/api/status").json()
    assert (
        status["camera"] is None
        and status["backend"] == Classifier(FASHION_MODEL).backend.name
        and status["model"].endswith(".tflite")
    )
    assert "const LIVE = false" in client.get("/").text
    assert client.get("/stream.mjpg").status_code == 404
    assert "/classify" in client.get("/openapi.json").json()["paths"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(video):
    """A real uvicorn on loopback, fed by a video file looped at its own frame rate."""
    opts = LiveOptions(source=str(video), loop=True, realtime=True, smooth=0.0, threshold=0.0)
    live = LiveService(Classifier(FASHION_MODEL), opts)
    with running_server(create_app(Classifier(FASHION_MODEL), live)) as base:
        yield base, live
    assert not live.running  # the capture was released on shutdown


def wait_healthy(base: str, tries: int = 200) -> None:
    """Until the server at `base` answers /healthz (it is starting in a thread or a process)."""
    for _ in range(tries):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)


@contextlib.contextmanager
def running_server(app, **config):
    """A real uvicorn for `app` on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def read_frames(base: str, count: int, path: str = "/stream.mjpg") -> list[bytes]:
    frames = []
    with httpx.stream("GET", base + path, timeout=10) as response:
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        buffer = b""
        for chunk in response.iter_bytes():
            buffer += chunk
            while b"\xff\xd9" in buffer and b"\xff\xd8" in buffer:
                start = buffer.index(b"\xff\xd8")
                end = buffer.index(b"\xff\xd9", start) + 2
                frames.append(buffer[start:end])
                buffer = buffer[end:]
            if len(frames) >= count:
                return frames
    return frames


def test_stream_delivers_changing_annotated_frames(server):
    base, _ = server
    frames = read_frames(base, 5)
    assert len(frames) == 5 and len(set(frames)) == 5
    image = cv2.imdecode(np.frombuffer(frames[0], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    status = httpx.get(base + "/api/status").json()
    assert (
        status["frames"] > 0
        and status["fps"] > 0
        and status["camera"]["result"]["label"] in CLASS_NAMES
    )


def test_concurrent_viewers_and_uploads_share_one_pipeline(server, test_split):
    base, live = server
    process = psutil.Process()
    read_frames(base, 3)
    rss_before = process.memory_info().rss
    frames_before = live.live.processed
    t0 = time.time()
    errors = []
    counts = []

    def viewer():
        try:
            counts.append(len(read_frames(base, 20)))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    def uploader():
        with httpx.Client(base_url=base) as c:
            for i in range(40):
                r = c.post(
                    "/classify", files={"file": ("g.png", png(test_split.images[i]), "image/png")}
                )
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=viewer) for _ in range(5)] + [
        threading.Thread(target=uploader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.time() - t0
    assert not errors and counts == [20] * 5
    # One capture and one inference per source frame, however many viewers: the video runs at 30 FPS.
    assert live.live.processed - frames_before <= 35 * elapsed + 5
    assert process.memory_info().rss - rss_before < 60 * 2**20


@needs_chromium
def test_browser_shows_stream_label_and_upload(server, tmp_path, test_split):
    from playwright.sync_api import sync_playwright

    base, _ = server
    photo = tmp_path / "garment.png"
    cv2.imwrite(str(photo), make_variant(test_split.images[1], "canvas", np.random.default_rng(0)))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(base + "/")
        page.wait_for_function("document.getElementById('view').naturalWidth > 0", timeout=15000)
        first = page.evaluate("document.getElementById('label').textContent")
        page.wait_for_function(
            "document.getElementById('stats').textContent.includes('FPS')", timeout=15000
        )
        label = page.evaluate("document.getElementById('label').textContent")
        assert any(name in label for name in CLASS_NAMES), (first, label)
        frame = page.evaluate("document.getElementById('stats').textContent")
        page.wait_for_function(
            f"document.getElementById('stats').textContent !== {json.dumps(frame)}", timeout=10000
        )
        page.set_input_files("#upload", str(photo))
        page.wait_for_function("document.getElementById('result').dataset.label", timeout=10000)
        result = page.evaluate("document.getElementById('result').dataset.label")
        assert result == CLASS_NAMES[test_split.labels[1]]
        browser.close()


def green_pixels(jpeg: bytes) -> int:
    """Pixels of the overlay's green (the region box and headline), which the video never has."""
    from edgeclf.edge.live.overlay import GREEN

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(int)
    return int((np.abs(image - GREEN).sum(-1) < 60).sum())


@needs_chromium
def test_a_phone_sees_the_overlay_drawn_in_html_not_burned_in(server):
    """At 390 px wide the burned-in overlay is ~5 px text: the page asks for bare frames and draws
    the region and its label itself, at a size a phone can read."""
    from playwright.sync_api import sync_playwright

    base, _ = server
    assert green_pixels(read_frames(base, 1)[0]) > 500  # other viewers keep the burned-in one
    assert green_pixels(read_frames(base, 1, "/stream.mjpg?overlay=0")[0]) < 20
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        page.goto(base + "/")
        page.wait_for_function("document.getElementById('roi-label').textContent", timeout=15000)
        assert page.evaluate("document.getElementById('view').src").endswith("overlay=0")
        label = page.evaluate("document.getElementById('roi-label').textContent")
        assert any(label.startswith(name) for name in CLASS_NAMES), label
        size = page.evaluate("getComputedStyle(document.getElementById('roi-label')).fontSize")
        assert float(size.removesuffix("px")) >= 16
        view = page.locator("#view").bounding_box()
        box = page.locator("#roi").bounding_box()
        assert view["width"] <= 390 and box["width"] > 0.3 * view["width"]
        assert view["x"] <= box["x"] and box["x"] + box["width"] <= view["x"] + view["width"] + 1
        browser.close()


@pytest.fixture()
def collecting(video, tmp_path):
    """A real uvicorn whose page collects the camera's region under two classes."""
    from edgeclf.edge.live.collect import CollectOptions, Collector

    opts = LiveOptions(source=str(video), loop=True, realtime=True, roi=(40, 20, 200, 200))
    live = LiveService(Classifier(FASHION_MODEL), opts)
    collector = Collector(CollectOptions(tmp_path / "mine", ("jeans", "chinos")))
    with running_server(create_app(Classifier(FASHION_MODEL), live, collector=collector)) as base:
        yield base, tmp_path / "mine"


def test_capture_saves_the_live_region_under_a_class(collecting):
    base, folder = collecting
    assert httpx.get(base + "/api/collect").json() == {
        "classes": ["jeans", "chinos"],
        "counts": {"jeans": 0, "chinos": 0},
    }
    from concurrent.futures import ThreadPoolExecutor

    # A held button (and a second tab) asks faster than the camera delivers.
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(lambda _: httpx.post(base + "/api/collect/chinos", timeout=5), range(4))
        )
    assert [r.status_code for r in replies] == [200] * 4, replies[0].text
    assert max(r.json()["counts"]["chinos"] for r in replies) == 4
    saved = sorted((folder / "chinos").iterdir())
    assert [f"chinos/{p.name}" for p in saved] == sorted(r.json()["saved"] for r in replies)
    frames = {p.stem.split("-")[2] for p in saved}  # <date>-<time>-<frame>[-n].jpg
    assert len(frames) == 4  # each capture waits for a frame not saved yet
    for path in saved:
        image = cv2.imread(str(path))
        assert image.shape == (200, 200, 3) and path.read_bytes()[-2:] == b"\xff\xd9"
    unknown = httpx.post(base + "/api/collect/shorts")
    assert unknown.status_code == 404 and "collecting jeans, chinos" in unknown.json()["error"]
    assert not (folder / "shorts").exists() and not list(folder.rglob(".edgeclf-tmp-*"))


def test_without_collect_there_is_no_capture(server):
    base, _ = server
    assert httpx.get(base + "/api/collect").status_code == 404
    assert httpx.post(base + "/api/collect/jeans").status_code in (404, 405)


@contextlib.contextmanager
def collect_page(base: str):
    """Chromium on serve's page, its collect panel shown."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(base + "/")
        page.wait_for_selector("#collect:not(.hidden)", timeout=15000)
        try:
            yield page
        finally:
            browser.close()


@needs_chromium
def test_browser_picks_a_class_and_captures(collecting):
    base, folder = collecting
    with collect_page(base) as page:
        page.keyboard.press("2")  # the second class: chinos
        page.click("#capture")
        page.wait_for_function(
            "document.getElementById('collect-status').textContent.startsWith('saved chinos/')",
            timeout=10000,
        )
        counts = page.evaluate(
            "[...document.querySelectorAll('#classes label')].map(l => l.textContent.trim())"
        )
    assert counts == ["1 jeans: 0", "2 chinos: 1"]
    assert len(list((folder / "chinos").iterdir())) == 1 and not (folder / "jeans").exists()


def test_serve_command_stops_on_sigterm_with_a_viewer_attached(video):
    """One open browser tab must not defeat `systemctl stop`; the token is never echoed."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    edgeclf = str(Path(sys.executable).with_name("edgeclf"))
    args = ["serve", "--source", str(video), "--port", str(port), "--host", "127.0.0.2"]
    proc = subprocess.Popen([edgeclf, *args, "--token", TOKEN], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.2:{port}"
    try:
        wait_healthy(base)
        with httpx.stream(
            "GET", base + "/stream.mjpg", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as response:
            next(response.iter_bytes())  # a viewer is watching
            started = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            # uvicorn shuts down gracefully, then re-raises the signal it caught (as systemd expects)
            assert proc.wait(timeout=5) in (0, -signal.SIGTERM)
        assert time.perf_counter() - started < 5
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert TOKEN not in stderr and f"http://127.0.0.2:{port}/" in stderr
    assert "warning" not in stderr  # 127.0.0.2 is loopback too


def test_loopback_and_urls():
    from edgeclf.edge.serve.app import url
    from edgeclf.edge.serve.http_guards import is_loopback

    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "192.168.1.5", "::", "example.org")))
    assert url("::", 8000) == "http://[::]:8000/" and url("0.0.0.0", 80) == "http://0.0.0.0:80/"


def test_loopback_without_token_refuses_foreign_hosts_and_cross_origin_posts(test_split):
    """DNS rebinding: a page on attacker.example must not read the camera or use the API."""
    app = create_app(Classifier(FASHION_MODEL), None, local_only=True)
    upload = {"file": ("g.png", png(test_split.images[0]), "image/png")}
    with TestClient(app, base_url="http://127.0.0.1:8000") as local:
        assert local.get("/api/status").status_code == 200
        assert local.post("/classify", files=upload).status_code == 200
        foreign = local.get("/api/status", headers={"host": "attacker.example"})
        assert foreign.status_code == 400
        cross = local.post("/classify", files=upload, headers={"origin": "http://attacker.example"})
        assert cross.status_code == 403 and cross.json()["error"] == "cross-origin request refused"
        same = local.post("/classify", files=upload, headers={"origin": "http://localhost:8000"})
        assert same.status_code == 200
    # Served on another loopback address, its own printed URL is local too.
    app = create_app(Classifier(FASHION_MODEL), None, local_only=True, serving_on="127.0.0.2")
    with TestClient(app, base_url="http://127.0.0.2:8000") as own:
        assert own.get("/healthz").status_code == 200
        assert own.get("/api/status").status_code == 200
        origin = {"origin": "http://127.0.0.2:8000"}
        assert own.post("/classify", files=upload, headers=origin).status_code == 200


def serve_until(*args: str, line: str, timeout: float = 60) -> tuple[int | None, str]:
    """Start `edgeclf serve`, read its stderr until `line` shows (then stop it) or it exits."""
    import subprocess
    import sys
    from pathlib import Path

    edgeclf = str(Path(sys.executable).with_name("edgeclf"))
    proc = subprocess.Popen([edgeclf, "serve", *args], stderr=subprocess.PIPE, text=True)
    seen, deadline = [], time.monotonic() + timeout
    try:
        for text in proc.stderr:
            seen.append(text)
            if line in text or time.monotonic() > deadline:
                break
    finally:
        proc.kill()
    return proc.wait(), "".join(seen)


def test_a_port_in_use_is_one_line_before_any_url():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, stderr = serve_until("--source", "none", "--port", port, line="never")
    assert code == 1 and "http://" not in stderr and "Traceback" not in stderr
    assert (
        stderr.strip()
        == f"error: port {port} on 127.0.0.1 is in use (another edgeclf serve?): pick another with --port"
    )


def test_serving_on_every_interface_prints_the_lan_address():
    import ipaddress

    from edgeclf.edge.serve.app import lan_address

    port = str(free_port())
    args = ("--source", "none", "--host", "0.0.0.0", "--port", port, "--token", TOKEN)
    _, stderr = serve_until(*args, line="on this network")
    address = lan_address()
    assert ipaddress.ip_address(address).version == 4 and address != "0.0.0.0"
    assert f"on this network: http://{address}:{port}/" in stderr


def test_oversize_uploads_are_refused_before_they_are_spooled():
    """Content-Length over the cap: 413 at once. Chunked: counted as it streams, 413 past it."""
    with running_server(create_app(Classifier(FASHION_MODEL), None, max_upload=2**20)) as base:
        oversize_uploads(base)


def oversize_uploads(base: str) -> None:
    envelope = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
    sent = []

    def body():
        yield envelope
        for _ in range(300):  # 30 MB against a 1 MB cap
            sent.append(1)
            yield bytes(100_000)

    headers = {"content-type": "multipart/form-data; boundary=b"}
    try:
        response = httpx.post(base + "/classify", content=body(), headers=headers, timeout=30)
        assert response.status_code == 413 and "larger than" in response.json()["error"]
    except httpx.TransportError:
        pass  # the server may close the socket before reading the rest: refused either way
    assert len(sent) < 100  # the server closed the connection long before the end
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # declares 200 MB, sends 0
        raw.sendall(
            b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            b"boundary=b\r\nContent-Length: 209715200\r\n\r\n"
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")


def test_validation_errors_use_the_error_shape_the_page_reads(client):
    response = client.post("/classify", data={"nofile": "1"})
    assert response.status_code == 422 and response.json()["error"].startswith("body.file")


def test_slow_loris_sockets_are_closed(test_split):
    """Five sockets that never finish their headers are all closed after the header timeout."""
    from edgeclf.edge.serve.http_guards import header_timeout_protocol

    app = create_app(Classifier(FASHION_MODEL), None)
    with running_server(app, http=header_timeout_protocol(1.0)) as base:
        host, port = base.removeprefix("http://").split(":")
        sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(5)]
        for s in sockets:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.perf_counter()
        for s in sockets:
            assert s.recv(1024) == b""  # closed by the server
            s.close()
        assert time.perf_counter() - started < 4
        assert httpx.get(base + "/healthz").status_code == 200  # still serving


def read_one_response(sock) -> bytes:
    """One whole HTTP response to a GET /healthz (small, with a Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ).split(b":")[1]
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
def test_kept_alive_connections_trickling_headers_or_a_body_are_closed(test_split):
    """After one quick request, a second request's headers a byte at a time (each byte resets
    uvicorn's own keep-alive timer), or a body a byte at a time, is closed in time."""
    from edgeclf.edge.serve.http_guards import BodyLimit, header_timeout_protocol

    app = create_app(Classifier(FASHION_MODEL), None)
    with running_server(app, http=header_timeout_protocol(1.5)) as base:
        host, port = base.removeprefix("http://").split(":")
        trickling = []
        for _ in range(3):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert read_one_response(s).startswith(b"HTTP/1.1 200")
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            trickling.append(s)
        started = time.perf_counter()
        for _ in range(6):  # a byte every 0.5 s, for 3 s
            time.sleep(0.5)
            for s in trickling:
                with contextlib.suppress(OSError):
                    s.send(b"X")
        for s in trickling:
            s.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(4096) == b""  # closed by the server
            s.close()
        assert time.perf_counter() - started < 6

    slow_body = BodyLimit(
        create_app(Classifier(FASHION_MODEL), None), limit=2**20, timeout=5, total=2
    )
    with running_server(slow_body, http=header_timeout_protocol(1.5)) as base:
        host, port = base.removeprefix("http://").split(":")
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                  b"boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n")  # fmt: skip
        started, reply = time.perf_counter(), b""
        while not reply and time.perf_counter() - started < 8:
            time.sleep(0.5)
            with contextlib.suppress(OSError):
                s.send(b"x")  # each piece well inside the 5 s per-piece limit
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                reply = s.recv(4096)
            s.setblocking(True)
        assert reply.startswith((b"HTTP/1.1 408", b"HTTP/1.1 400")), reply  # FastAPI's form
        assert time.perf_counter() - started < 4  # parser turns the 408 into a 400
        s.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            while s.recv(4096):
                pass  # the rest of the answer, then the server closes
        assert time.perf_counter() - started < 6
        s.close()


def test_at_the_connection_cap_a_new_client_is_answered(test_split):
    """Twenty connections waiting on headers fill a cap of 20: the next client is answered, the
    connection that waited longest is closed for it."""
    from edgeclf.edge.serve.http_guards import header_timeout_protocol

    app = create_app(Classifier(FASHION_MODEL), None)
    with running_server(app, http=header_timeout_protocol(60, max_connections=20)) as base:
        host, port = base.removeprefix("http://").split(":")
        waiting = []
        for _ in range(20):
            waiting.append(socket.create_connection((host, int(port)), timeout=5))
            waiting[-1].sendall(b"GET / HTTP/1.1\r\n")
            time.sleep(0.01)
        started = time.perf_counter()
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        assert time.perf_counter() - started < 1
        waiting[0].settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert waiting[0].recv(1024) == b""  # the oldest made room
        for s in waiting:
            s.close()


def capture_each(base: str, names: tuple[str, ...], count: int, pause: float = 0.35) -> None:
    """`count` captures per class, a class at a time (one sitting each), as a person would."""
    for name in names:
        for _ in range(count):
            reply = httpx.post(base + f"/api/collect/{name}", timeout=5)
            assert reply.status_code == 200, reply.text
            time.sleep(pause / count)


@needs_schema
def test_learn_swaps_the_model_while_viewers_watch_and_uploads_run(collecting, test_split):
    """Learn on two classes collected from the looping video: the page's model, the stream and
    uploads move to the new model; no request fails or sees half a model meanwhile."""
    base, folder = collecting
    capture_each(base, ("jeans", "chinos"), 6)
    failures: list[str] = []
    stop = threading.Event()

    def upload_loop():
        data = png(test_split.images[0])
        while not stop.is_set():
            reply = httpx.post(base + "/classify", files={"file": ("g.png", data, "image/png")})
            if reply.status_code != 200 or reply.json()["label"] not in (
                *CLASS_NAMES,
                "jeans",
                "chinos",
            ):
                failures.append(reply.text)

    uploads = threading.Thread(target=upload_loop)
    uploads.start()
    try:
        with httpx.stream("GET", base + "/stream.mjpg", timeout=10) as viewer:
            chunks = viewer.iter_bytes()
            assert httpx.post(base + "/api/learn").status_code == 202
            assert httpx.post(base + "/api/learn").status_code in (202, 409)  # one at a time
            deadline = time.time() + 60
            while httpx.get(base + "/api/learn").json()["running"] and time.time() < deadline:
                next(chunks)  # the viewer keeps receiving frames while the model is taught
    finally:
        stop.set()
        uploads.join(timeout=10)
    state = httpx.get(base + "/api/learn").json()
    assert state["error"] is None and state["model"] == "mine.tflite"
    assert [c["name"] for c in state["classes"]] == ["chinos", "jeans"]
    assert all(c["train"] > 0 for c in state["classes"])  # one sitting each, no class starved
    assert (folder.parent / "mine.tflite").is_file() and not failures, failures[:1]
    status = httpx.get(base + "/api/status").json()
    assert status["model"] == "mine.tflite" and status["classes"] == ["chinos", "jeans"]
    deadline = time.time() + 10
    while status["camera"]["result"]["label"] not in ("chinos", "jeans") and time.time() < deadline:
        time.sleep(0.1)
        status = httpx.get(base + "/api/status").json()
    assert status["camera"]["result"]["label"] in ("chinos", "jeans")
    upload = httpx.post(
        base + "/classify", files={"file": ("g.png", png(test_split.images[0]), "image/png")}
    )
    assert upload.json()["label"] in ("chinos", "jeans")


def test_captured_images_list_delete_and_add_a_class(collecting):
    base, folder = collecting
    capture_each(base, ("jeans",), 2)
    images = httpx.get(base + "/api/collect/jeans/images").json()["images"]
    assert len(images) == 2 and images == sorted(images, reverse=True)  # newest first
    jpeg = httpx.get(base + f"/api/collect/jeans/images/{images[0]}")
    assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"
    gone = httpx.delete(base + f"/api/collect/jeans/images/{images[0]}")
    assert gone.status_code == 200 and gone.json()["counts"]["jeans"] == 1
    for bad in ("..%2F..%2Fsecret.jpg", "nope.jpg", ".hidden.jpg"):
        assert httpx.delete(base + f"/api/collect/jeans/images/{bad}").status_code == 404
    added = httpx.post(base + "/api/classes/shorts")
    assert added.status_code == 200 and added.json()["classes"] == ["jeans", "chinos", "shorts"]
    assert httpx.post(base + "/api/classes/a%2Fb").status_code in (400, 404)
    assert httpx.post(base + "/api/collect/shorts").status_code == 200


@needs_schema
@needs_chromium
def test_browser_learns_two_classes_and_the_stream_follows(collecting):
    base, folder = collecting
    with collect_page(base) as page:
        for key in ("1", "2"):  # jeans, then chinos
            page.keyboard.press(key)
            for n in range(1, 6):
                page.click("#capture")
                page.wait_for_function(
                    f"document.querySelector('#classes label:nth-child({key})').dataset.count === '{n}'",
                    timeout=10000,
                )
        page.click("#learn")
        page.wait_for_function(
            "document.getElementById('learn-status').dataset.model === 'mine.tflite'", timeout=60000
        )
        page.wait_for_function(
            "['jeans', 'chinos'].includes(document.getElementById('label').dataset.label)",
            timeout=10000,
        )
        named = page.evaluate("document.getElementById('model').textContent")
        rows = page.evaluate("document.querySelectorAll('#learn-table tr').length")
    assert named == "model mine.tflite: chinos, jeans" and rows == 2
    assert httpx.get(base + "/api/status").json()["model"] == "mine.tflite"
