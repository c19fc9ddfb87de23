"""The wheel a Pi installs: `make wheel`, then a fresh venv outside the clone, `pip install
'<wheel>[edge]'`, and the edge commands work from there with the bundled models."""

import json
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

PHOTOS = ROOT / "tests" / "fixtures" / "photos" / "images"


@pytest.mark.slow  # builds a wheel and installs it with its dependencies (about 15 s)
def test_the_wheel_installs_into_a_fresh_venv_and_classifies_outside_the_clone(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run(["make", "-C", str(ROOT), "wheel", f"DIST={dist}"],
                           capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("edgeclf-*-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for bundled in ("photo_int8.tflite", "photo_int8.bank.npz", "fashion_int8.tflite"):
        assert f"edgeclf/models/{bundled}" in names
    assert "edgeclf/edge/serve/static/index.html" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[edge]"],
                             capture_output=True, text=True)  # fmt: skip
    if install.returncode != 0:
        pytest.skip(
            f"the wheel's dependencies could not be installed here: {install.stderr[-300:]}"
        )
    edgeclf = str(venv / "bin" / "edgeclf")
    photo = sorted(PHOTOS.glob("*.jpg"))[0]
    away = tmp_path / "elsewhere"
    away.mkdir()
    result = subprocess.run([edgeclf, "classify", str(photo), "--json"], cwd=away,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["label"] and len(row["top_k"]) == 3
    version = subprocess.run([edgeclf, "--version"], cwd=away, capture_output=True, text=True)
    assert version.stdout.startswith("edgeclf ") and "OpenCV" in version.stdout
    shop = away / "shop"
    for name in ("hat", "shorts"):
        (shop / name).mkdir(parents=True)
        for source in sorted((ROOT / "tests" / "fixtures" / "new-classes" / name).glob("*.jpg"))[
            :6
        ]:
            (shop / name / source.name).write_bytes(source.read_bytes())
    taught = subprocess.run([edgeclf, "teach", str(shop), "-o", str(away / "shop.tflite")],
                            cwd=away, capture_output=True, text=True,
                            env={"HOME": str(away), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert taught.returncode == 0, taught.stderr
    assert (away / "shop.tflite").is_file()
