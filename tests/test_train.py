import csv
import json

import pytest

from conftest import TINY_RUN, TRAIN_EXTRA

keras = pytest.importorskip("keras", reason=TRAIN_EXTRA)

from edgeclf.edge.runtime.classes import CLASS_NAMES  # noqa: E402
from edgeclf.train.architectures import ARCHITECTURES, build  # noqa: E402
from edgeclf.train.configs import (  # noqa: E402
    DistillConfig,
    FashionMnistConfig,  # noqa: E402
    load_config,
)
from edgeclf.train.trainer import train  # noqa: E402

pytestmark = pytest.mark.slow


def test_zoo_sizes():
    assert build("tiny").count_params() < 30_000
    assert build("small").count_params() < 100_000
    assert set(ARCHITECTURES) >= {"tiny", "small", "accurate"}
    model = build("small")
    assert model.input.dtype == "float32" and tuple(model.input_shape) == (None, 28, 28, 1)


def test_training_lowers_loss_and_writes_every_artifact(tiny_run):
    out, metrics = tiny_run
    for name in (
        "model.keras",
        "history.json",
        "metrics.json",
        "curves.png",
        "confusion.png",
        "config.json",
    ):
        assert (out / name).stat().st_size > 0, name
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 3
    assert history["loss"][-1] < history["loss"][0]
    saved = json.loads((out / "metrics.json").read_text())
    assert (
        saved["test_accuracy"] == metrics["test_accuracy"] > 0.3
    )  # well above chance after 3 epochs
    assert set(saved["per_class_accuracy"]) == set(CLASS_NAMES)
    assert saved["params"] < 30_000 and saved["train_seconds"] > 0 and "keras" in saved["versions"]
    model = keras.models.load_model(out / "model.keras")
    assert model.output_shape == (None, 10) and model.layers[-1].name == "probabilities"
    assert not (out / "checkpoint").exists()  # removed once the run finished


class StopAfter(keras.callbacks.Callback):
    """Simulates Ctrl-C at the end of an epoch, after the checkpoint was written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_continues_from_checkpoint(tmp_path, mini_dir):
    cfg = FashionMnistConfig(
        arch="tiny", epochs=3, batch_size=64, limit=300, data_dir=str(mini_dir), warmup_epochs=1
    )
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path, extra_callbacks=[StopAfter(1)])
    assert (tmp_path / "checkpoint").exists() and not (tmp_path / "model.keras").exists()
    metrics = train(load_config(tmp_path), tmp_path, resume=True)
    with open(tmp_path / "history.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2]  # epochs 0-1 before the interrupt, only epoch 2 after it
    assert metrics["epochs"] == 3 and (tmp_path / "model.keras").exists()


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    from conftest import run_cli

    result = run_cli("train", "--resume", str(tmp_path))
    assert (
        result.returncode == 1
        and "cannot resume" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_same_seed_same_run(tmp_path, mini_dir):
    def run(folder):
        cfg = FashionMnistConfig(
            arch="tiny", epochs=1, batch_size=64, limit=200, data_dir=str(mini_dir), seed=5
        )
        train(cfg, folder)
        return json.loads((folder / "history.json").read_text())["loss"]

    assert run(tmp_path / "a") == run(tmp_path / "b")


def test_soft_targets_blend_teacher_and_label(tiny_run, mini_dir):
    from edgeclf.edge.datasets.fashion_mnist import load_split
    from edgeclf.train.distill import load_teacher, soft_targets
    from edgeclf.train.training_data import as_input

    teacher = load_teacher(tiny_run[0] / "model.keras")
    split = load_split("train", mini_dir)
    x, one_hot = as_input(split.images[:64]), keras.utils.to_categorical(split.labels[:64], 10)
    probs = teacher.predict(x, verbose=0)
    assert soft_targets(teacher, x, one_hot, 0.0) == pytest.approx(one_hot)
    assert soft_targets(teacher, x, one_hot, 1.0) == pytest.approx(probs, abs=1e-6)
    blended = soft_targets(teacher, x, one_hot, 0.7)
    assert blended.sum(axis=1) == pytest.approx(1.0, abs=1e-5)
    assert (blended.argmax(axis=1) == split.labels[:64]).mean() > 0.9  # the label still leads
    assert (blended < one_hot).any() and (blended[one_hot == 0] > 0).all()


def test_distilled_run_records_its_teacher(tiny_run, tmp_path, mini_dir):
    """The same run as the teacher's own, plus distillation: it learns (well above the 10 %
    of chance) and its targets really changed (another loss curve from the same seed)."""
    teacher = tiny_run[0] / "model.keras"
    cfg = DistillConfig(**TINY_RUN, data_dir=str(mini_dir), teacher=str(teacher))
    metrics = train(cfg, tmp_path)
    assert metrics["test_accuracy"] > 0.3
    assert json.loads((tmp_path / "config.json").read_text())["teacher"] == str(teacher)
    plain = json.loads((tiny_run[0] / "history.json").read_text())["loss"]
    distilled = json.loads((tmp_path / "history.json").read_text())["loss"]
    assert distilled != pytest.approx(plain, rel=1e-3)


def test_teacher_from_another_split_is_refused(tiny_run, tmp_path, mini_dir):
    from conftest import run_cli

    teacher = tiny_run[0] / "model.keras"
    args = ("train", "--arch", "tiny", "--epochs", "1", "--data-dir", str(mini_dir))
    result = run_cli(*args, "--seed", "1", "--teacher", str(teacher), "-o", str(tmp_path / "s"))
    assert result.returncode == 1 and "different train/validation split (seed" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "s" / "model.keras").exists()
    missing = run_cli(*args, "--teacher", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "m"))
    assert missing.returncode == 1 and "teacher model not found" in missing.stderr


def test_bf16_run_saves_a_float32_model(tmp_path, mini_dir):
    cfg = FashionMnistConfig(
        arch="tiny", epochs=1, batch_size=64, limit=300, data_dir=str(mini_dir), bf16=True
    )
    train(cfg, tmp_path)
    assert keras.mixed_precision.global_policy().name == "float32"
    model = keras.models.load_model(tmp_path / "model.keras")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert model.output.dtype == "float32"


def test_fresh_run_refuses_a_used_folder_and_resume_a_corrupt_config(tmp_path, mini_dir):
    """A stale checkpoint must never be resumed silently by a run that did not ask for it."""
    from conftest import run_cli

    (tmp_path / "checkpoint").mkdir()
    args = ("train", "--arch", "tiny", "--epochs", "1", "--limit", "100", "-o", str(tmp_path))
    result = run_cli(*args, "--data-dir", str(mini_dir))
    assert result.returncode == 1 and "not empty" in result.stderr and "--resume" in result.stderr
    assert not (tmp_path / "model.keras").exists()
    fresh = run_cli(*args, "--data-dir", str(mini_dir), "--overwrite")
    assert fresh.returncode == 0, fresh.stderr
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 1 and not (tmp_path / "checkpoint").exists()
    (tmp_path / "config.json").write_text("{not json")
    broken = run_cli("train", "--resume", str(tmp_path))
    assert broken.returncode == 1 and "is unreadable" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_interrupted_bf16_run_puts_the_precision_policy_back(tmp_path, mini_dir):
    cfg = FashionMnistConfig(
        arch="tiny", epochs=2, batch_size=64, limit=200, data_dir=str(mini_dir), bf16=True
    )
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path, extra_callbacks=[StopAfter(0)])
    assert keras.mixed_precision.global_policy().name == "float32"
