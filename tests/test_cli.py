import sys

from conftest import ROOT, run_cli

COMMANDS = ("train", "convert", "classify", "camera", "bench")


def test_help_lists_every_command_with_help():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        line = next(line for line in result.stdout.splitlines() if f" {command} " in line)
        assert len(line.split(command, 1)[1].strip(" │")) > 10, line


def test_a_run_builds_only_the_command_it_runs():
    # Building every command's options cost ~5 ms of each start; a run needs only its own.
    import typer
    from typer.testing import CliRunner

    from edgeclf.edge.cli.support import only_the_command_run

    def two_commands() -> typer.Typer:
        app = typer.Typer()

        @app.callback()
        def options() -> None:
            """Two commands."""

        @app.command()
        def first_one() -> None:
            print("first")

        @app.command()
        def second() -> None:
            print("second")

        return app

    app = two_commands()
    only_the_command_run(app, ["edgeclf", "first-one"])
    assert len(app.registered_commands) == 1
    assert CliRunner().invoke(app, ["first-one"]).output == "first\n"
    for argv in (["edgeclf"], ["edgeclf", "--help"], ["edgeclf", "frist-one"]):
        app = two_commands()
        only_the_command_run(app, argv)
        assert len(app.registered_commands) == 2, argv


def test_a_mistyped_command_still_gets_a_suggestion():
    result = run_cli("clasify", "x.jpg")
    assert result.returncode == 2 and "Did you mean 'classify'" in result.stderr
    result = run_cli("bench", "--help")
    assert result.returncode == 0 and "Usage: edgeclf bench" in result.stdout


def test_the_console_script_loads_without_collections_and_freezes_what_it_loaded():
    # The collector walking typer's and edgeclf's start-up objects (also at exit) cost ~20 ms of
    # a 150 ms `classify`; collection must still be back on before any command runs.
    import subprocess
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="edgeclf")
    assert script.value == "edgeclf.edge.cli.entry:main"
    code = (
        "import gc; from edgeclf.edge.cli.entry import load_command_line; starts = []\n"
        "gc.callbacks.append(lambda phase, info: starts.append(phase) if phase == 'start' else 0)\n"
        "main = load_command_line()\n"
        "print(len(starts), gc.isenabled(), gc.get_freeze_count(), main.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    collections, enabled, frozen, module = result.stdout.split()
    assert (collections, enabled, module) == ("0", "True", "edgeclf.edge.cli.app")
    assert int(frozen) > 10_000  # typer's and edgeclf's modules, classes and options


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("edgeclf ")


def test_train_without_tensorflow_names_the_extra(tmp_path):
    # Make TensorFlow and Keras unimportable, as on a Pi with only the `edge` extra.
    for name in ("tensorflow", "keras"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ImportError('No module named {name}')\n"
        )
    env = {"PYTHONPATH": str(tmp_path)}
    keras_model = str(ROOT / "models" / "photo.keras")  # its output is checked before the extra
    out = str(tmp_path / "m.tflite")
    for args in (("train", "--epochs", "1"), ("convert", keras_model, "--int8", "-o", out)):
        result = run_cli(*args, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "pip install -e '.[train]' in a clone" in lines[0], result.stderr
        assert "edgeclf-VERSION-py3-none-any.whl[train]' from the wheel" in lines[0]
        assert "Traceback" not in result.stderr


def test_edge_import_path_is_lean():
    code = "import sys, edgeclf.edge.cli.app, edgeclf.edge.classify.run, edgeclf.edge.live.camera, edgeclf.edge.bench.run; print(sorted(sys.modules))"
    import subprocess

    modules = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("tensorflow", "keras", "matplotlib", "edgeclf.train", "edgeclf.convert"):
        assert f"'{heavy}'" not in modules, heavy


def test_classify_start_up_imports_only_what_it_uses():
    # `classify` on one photo is the command people wait for (benchmarks/cold_start.py): rich
    # (~60 ms) and importlib.resources (~10 ms) would take it past 1.3x a bare LiteRT script.
    from pathlib import Path

    photo = next((Path(__file__).parent / "fixtures" / "photos" / "images").glob("*.jpg"))
    code = (
        "import atexit, sys; atexit.register(lambda: print(sorted(sys.modules), file=sys.stderr)); "
        f"sys.argv = ['edgeclf', 'classify', {str(photo)!r}]; "
        "from edgeclf.edge.cli.entry import main; main()"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "T-shirt/top" in result.stdout or "%" in result.stdout
    for heavy in ("rich", "importlib.resources", "tensorflow", "edgeclf.train"):
        assert f"'{heavy}'" not in result.stderr, heavy


def test_help_groups_the_long_commands_and_lists_every_choice():
    env = {"COLUMNS": "200"}
    train = run_cli("train", "--help", env=env).stdout
    for panel in ("Source", "Model", "Training", "Output", "Fashion-MNIST models only"):
        assert f"─ {panel} ─" in train, panel
    assert "[tiny|small|small-gap|accurate|photo-medium|photo|photo-wide]" in train
    camera = run_cli("camera", "--help", env=env).stdout
    panels = [line.split("─ ")[1].split(" ─")[0] for line in camera.splitlines() if "╭─ " in line]
    assert panels == ["Options", "Source", "Model", "Output", "Collect", "Fleet (MQTT)"]
    assert "[litert|tflite-runtime|tensorflow]" in camera
    assert "[int8|uint8|float]" in run_cli("convert", "--help", env=env).stdout
    assert "[all|val|train]" in run_cli("bench", "--help", env=env).stdout


def test_a_choice_reaches_the_stage_as_its_string(tmp_path):
    from conftest import ROOT

    image = next((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))
    from edgeclf.edge.runtime.backends import load_backend

    installed = load_backend(None).name  # litert here, tflite-runtime in the fallback venv
    result = run_cli("classify", str(image), "--backend", installed, "--json")
    assert result.returncode == 0, result.stderr
    wrong = run_cli("classify", str(image), "--backend", "litrt")
    assert wrong.returncode == 2 and "'litrt' is not one of" in wrong.stderr
    # The stages get plain strings: an Enum member would print as 'Arch.small_gap'.
    from edgeclf.edge.cli.options import Arch
    from edgeclf.edge.cli.support import user_errors

    handed = user_errors(lambda arch: arch)(arch=Arch.small_gap)
    assert type(handed) is str and f"{handed}" == "small-gap"


def test_the_arch_choices_are_the_architectures_train_builds():
    import pytest

    from conftest import HAS_TRAIN, TRAIN_EXTRA

    if not HAS_TRAIN:
        pytest.skip(TRAIN_EXTRA)
    from edgeclf.edge.cli.options import Arch
    from edgeclf.train.architectures import ARCHITECTURES, PHOTO_ARCHITECTURES

    assert {a.value for a in Arch} == {*ARCHITECTURES, *PHOTO_ARCHITECTURES}


def test_every_command_shows_an_example_in_its_help():
    from edgeclf.edge.cli.app import app

    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"classify", "camera", "teach", "serve", "bench", "publish", "watch"} <= set(names)
    for name in names:
        result = run_cli(name, "--help")
        assert result.returncode == 0 and "Examples:" in result.stdout, name
        assert f"edgeclf {name} " in result.stdout, name


def test_version_names_what_a_bug_report_needs():
    result = run_cli("--version")
    assert result.returncode == 0
    assert all(part in result.stdout for part in ("edgeclf ", "OpenCV ", "NumPy ", "Python "))
