"""serve off loopback: no cross-site writes whatever --host is, a made-up token in the printed
URL (and a QR code of it), and no 5xx for any bad path value on any route."""

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from edgeclf.edge.live.collect import CollectOptions, Collector  # noqa: E402
from edgeclf.edge.live.service import LiveService  # noqa: E402
from edgeclf.edge.live.stream import LiveOptions  # noqa: E402
from edgeclf.edge.runtime.classifier import FASHION_MODEL, Classifier  # noqa: E402
from edgeclf.edge.serve.app import create_app  # noqa: E402

from conftest import EDGECLF, needs_schema  # noqa: E402

WRITES = [("post", "/api/classes/socks"), ("post", "/api/collect/jeans"), ("post", "/api/learn")]


@pytest.fixture()
def lan_app(clip, tmp_path):
    """The app as `serve --host 0.0.0.0 --collect DIR` builds it without a token (--no-token),
    reached at this machine's network address."""
    opts = LiveOptions(source=str(clip), loop=True, realtime=True, roi=(40, 20, 200, 200))
    live = LiveService(Classifier(FASHION_MODEL), opts)
    collector = Collector(CollectOptions(tmp_path / "mine", ("jeans", "chinos")))
    app = create_app(Classifier(FASHION_MODEL), live, collector=collector, serving_on="0.0.0.0")
    with TestClient(app, base_url="http://192.168.1.5:8000") as client:
        yield client, tmp_path / "mine"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://attacker.example"},
        {"origin": "null"},
        {"referer": "http://attacker.example/page.html"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://192.168.1.5:9999"},  # another port is another origin
    ],
)
def test_a_cross_site_write_is_refused_off_loopback(lan_app, headers):
    client, folder = lan_app
    for method, path in WRITES:
        reply = getattr(client, method)(path, headers=headers)
        assert reply.status_code == 403, (path, reply.text)
        assert reply.json()["error"] == "cross-origin request refused"
    assert client.get("/api/collect").json()["classes"] == ["jeans", "chinos"]
    assert not folder.exists() or not any(folder.rglob("*.jpg"))


def test_the_pages_own_writes_and_scripts_go_through(lan_app):
    client, folder = lan_app
    own = {"origin": "http://192.168.1.5:8000", "sec-fetch-site": "same-origin"}
    assert client.post("/api/classes/socks", headers=own).status_code == 200
    assert client.post("/api/collect/jeans", headers=own).status_code == 200
    assert client.post("/api/collect/jeans").status_code == 200  # curl sends no Origin
    assert len(list((folder / "jeans").iterdir())) == 2


def test_a_valid_token_lets_a_write_through_from_anywhere(clip, tmp_path):
    opts = LiveOptions(source=str(clip), loop=True, realtime=True, roi=(40, 20, 200, 200))
    live = LiveService(Classifier(FASHION_MODEL), opts)
    collector = Collector(CollectOptions(tmp_path / "mine", ("jeans",)))
    app = create_app(Classifier(FASHION_MODEL), live, token="s3cret", collector=collector)
    with TestClient(app, base_url="http://192.168.1.5:8000") as client:
        cross = {"origin": "http://attacker.example"}
        assert client.post("/api/classes/a", headers=cross).status_code == 401
        ok = client.post("/api/classes/a?token=s3cret", headers=cross)
        assert ok.status_code == 200


def test_no_route_answers_5xx_to_a_bad_path_value(lan_app):
    client, _ = lan_app
    assert client.get("/api/collect/nope/images").status_code == 404
    bad = ["nope", "..", "%2e%2e%2fetc", "a%00b", "x" * 300, "%F0%9F%91%96", "jeans%2F..%2F..", " "]
    paths = client.get("/openapi.json").json()["paths"]  # every route, as the API documents it
    routes = {path: set(methods) for path, methods in paths.items() if "{" in path}
    assert len(routes) >= 4 and sum(map(len, routes.values())) >= 5
    own = {"origin": "http://192.168.1.5:8000"}
    for route, methods in routes.items():
        for method in methods:
            for value in bad:
                path = re.sub(r"\{[^}]+\}", value, route)
                reply = client.request(method, path, headers=own)
                assert reply.status_code < 500, (method, path, reply.status_code, reply.text)


def serve_lines(*args: str, until: str, timeout: float = 60) -> tuple[subprocess.Popen, list]:
    proc = subprocess.Popen([EDGECLF, "serve", *args], stderr=subprocess.PIPE, text=True)
    lines, deadline = [], time.monotonic() + timeout
    for line in proc.stderr:
        lines.append(line)
        if until in line or time.monotonic() > deadline:
            break
    return proc, lines


def test_off_loopback_serve_makes_up_a_token_and_prints_its_url_and_qr_code():
    port = _free_port()
    proc, lines = serve_lines("--source", "none", "--host", "0.0.0.0", "--port", str(port),
                              until="on this network")  # fmt: skip
    try:
        first = next(line for line in lines if line.startswith("edgeclf serve:"))
        token = re.search(r"\?token=([\w-]+)", first)[1]
        assert len(token) >= 16 and "warning" not in "".join(lines)
        assert any(line.startswith("note: listening on 0.0.0.0 without --token: made one up")
                   for line in lines)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status = httpx.get(base + "/api/status")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert status.status_code == 401
        assert httpx.get(base + f"/api/status?token={token}").status_code == 200
        proc.stderr.readline()
        qr = proc.stderr.readline()
        assert "█" in qr or "▀" in qr  # the QR code of the network URL, for a phone
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_no_token_says_what_it_opens():
    port = _free_port()
    proc, lines = serve_lines("--source", "none", "--host", "0.0.0.0", "--port", str(port),
                              "--no-token", until="edgeclf serve:")  # fmt: skip
    proc.terminate()
    proc.wait(timeout=20)
    warning = [line for line in lines if line.startswith("warning:")]
    assert len(warning) == 1 and "--no-token" in warning[0] and "retrain" in warning[0]
    assert "token=" not in "".join(lines)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_threads_out_of_bounds_are_refused_before_the_runtime_sees_them(tmp_path):
    from edgeclf.edge.errors import ModelError

    result = subprocess.run([EDGECLF, "classify", str(Path(__file__)), "--threads", "100000"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "100000" in result.stderr
    assert "Traceback" not in result.stderr and "Segmentation" not in result.stderr
    with pytest.raises(ModelError, match="not between 1 and"):
        Classifier(FASHION_MODEL, threads=100000)


@needs_schema  # Learn teaches, and teach writes with LiteRT's schema
@pytest.mark.skipif(
    __import__("shutil").which("chromium") is None, reason="Debian's chromium is not installed here"
)
def test_the_printed_url_opens_the_page_and_learn_works_from_it_in_chromium(tmp_path, clip):
    """Off loopback with a made-up token: a browser that opens the printed URL (as a phone that
    scanned the QR code would) can capture and Learn; the same page without the token cannot."""
    import shutil

    from playwright.sync_api import sync_playwright

    from conftest import ROOT

    mine = tmp_path / "mine"
    for name in ("hat", "shorts"):
        (mine / name).mkdir(parents=True)
        for photo in sorted((ROOT / "tests" / "fixtures" / "new-classes" / name).glob("*.jpg"))[:6]:
            shutil.copy(photo, mine / name / photo.name)
    port = _free_port()
    env = {**__import__("os").environ, "EDGECLF_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [EDGECLF, "serve", "--source", str(clip), "--host", "0.0.0.0", "--port", str(port),
         "--collect", str(mine)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        first = next(line for line in proc.stderr if line.startswith("edgeclf serve:"))
        printed = re.search(r"(http://\S+\?token=[\w-]+)", first)[1]
        page_url = printed.replace("0.0.0.0", "127.0.0.1")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=flags)
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            page.goto(page_url)
            page.wait_for_selector("#collect:not(.hidden)", timeout=15000)
            page.click("#capture")
            page.wait_for_function(
                "document.getElementById('collect-status').textContent.startsWith('saved ')",
                timeout=10000,
            )
            page.click("#learn")
            page.wait_for_function(
                "document.getElementById('learn-status').dataset.model === 'mine.tflite'",
                timeout=60000,
            )
            bare = browser.new_page()
            bare.goto(page_url.split("?")[0])
            assert "missing or wrong token" in bare.content()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_capture_saves_the_frame_the_page_showed_not_the_newest(lan_app):
    """The page sends the frame whose result it shows; the camera has moved on since."""
    import time

    client, folder = lan_app
    shown = None
    for _ in range(100):
        result = client.get("/api/status").json()["camera"]["result"]
        if result:
            shown = result["frame"]
            break
        time.sleep(0.05)
    assert shown is not None
    time.sleep(0.5)  # several frames later
    saved = client.post(f"/api/collect/jeans?frame={shown}").json()["saved"]
    assert saved.endswith(f"-{shown:06d}.jpg"), saved
