"""Names people type and folders people make: emoji, case twins, near-copies of base classes,
typos, newlines, empty and unreadable folders. Each is taught, or refused in one line that names
it, before any work. In-process and fast: teach is an engine that returns data."""

import shutil
from pathlib import Path

import pytest

from edgeclf.edge.errors import EdgeclfError
from edgeclf.edge.teach.run import TeachOptions, teach
from edgeclf.edge.tflite.standard_metadata import read_standard_labels

from conftest import ROOT, needs_schema

NEW = ROOT / "tests" / "fixtures" / "new-classes"


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))


def folder_of(tmp_path: Path, classes: dict[str, str], per_class: int = 8) -> Path:
    """Class folders named as given, each filled with photos of a fixture class."""
    root = tmp_path / "shop"
    for name, source in classes.items():
        (root / name).mkdir(parents=True)
        for photo in sorted((NEW / source).glob("*.jpg"))[:per_class]:
            shutil.copy(photo, root / name / photo.name)
    return root


def taught(root: Path, **options):
    return teach(TeachOptions(folder=root, out=root.parent / "model.tflite", **options))


@needs_schema
def test_emoji_names_train_and_keep_apart(tmp_path):
    root = folder_of(tmp_path, {"👒": "hat", "🩳": "shorts", "👗": "skirt"})
    done = taught(root)
    assert [c.name for c in done.result.classes] == sorted(["👒", "🩳", "👗"])
    assert all(c.train > 0 for c in done.result.classes)
    assert read_standard_labels(done.model) == tuple(sorted(["👒", "🩳", "👗"]))
    assert done.card.classes == tuple(sorted(["👒", "🩳", "👗"]))


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (("Jeans", "jeans"), "Jeans/ and"),
        (("hat", "HAT "), "would be one class"),
        (("a\nb", "hat"), "not a usable class name"),
    ],
)
def test_folders_that_would_be_one_class_or_no_name_are_refused_first(tmp_path, names, says):
    root = folder_of(tmp_path, dict(zip(names, ("hat", "shorts"), strict=True)))
    with pytest.raises(EdgeclfError, match=says):
        taught(root)
    assert not (tmp_path / "cache").exists()  # before any photo was read


@pytest.mark.parametrize("near", ["t-shirt", "trousers", "Ankle  boot", "Trouser ", "sneakers"])
def test_keep_classes_refuses_a_near_copy_of_a_base_class(tmp_path, near):
    root = folder_of(tmp_path, {near: "shorts", "hat": "hat"})
    with pytest.raises(EdgeclfError, match="already a class of photo_int8.tflite"):
        taught(root, keep_classes=True)


@needs_schema
def test_a_typo_beside_a_class_is_taught_with_a_warning(tmp_path):
    root = folder_of(tmp_path, {"hat": "hat", "hta": "hat", "shorts": "shorts"}, per_class=4)
    notes = taught(root).result.notes
    assert "warning: new class 'hta' (did you mean 'hat'?)" in notes
    assert sum("did you mean" in n for n in notes) == 1  # once a pair


@needs_schema
def test_each_class_problem_is_named(tmp_path):
    root = folder_of(tmp_path, {"hat": "hat", "shorts": "shorts", "skirt": "skirt"})
    for photo in (root / "skirt").iterdir():
        photo.unlink()
    with pytest.raises(EdgeclfError, match=r"^skirt/ is empty"):
        taught(root)
    for i in range(3):
        (root / "skirt" / f"x{i}.jpg").write_bytes(b"not a photo")
    with pytest.raises(
        EdgeclfError, match=r"skirt: no readable photo \(3 unreadable, e\.g\. .*x0\.jpg"
    ):
        taught(root)
    shutil.rmtree(root / "skirt")
    shutil.rmtree(root / "shorts")
    with pytest.raises(EdgeclfError, match="--keep-classes"):
        taught(root)


@needs_schema
def test_plain_teach_says_what_the_model_no_longer_knows_and_signs_the_drop(tmp_path):
    root = folder_of(tmp_path, {"hat": "hat", "shorts": "shorts"})
    result = taught(root).result
    assert any("knows only hat, shorts; add --keep-classes" in n for n in result.notes)
    assert result.drop_points == pytest.approx(100 * (result.int8_accuracy - result.float_accuracy))
    kept = taught(root, keep_classes=True).result
    assert not any("knows only" in n for n in kept.notes)


def test_the_learner_reports_what_kills_its_thread(tmp_path, monkeypatch):
    from edgeclf.edge.live import learning

    def broken(*args, **kwargs):
        raise ValueError("cannot reshape array")

    monkeypatch.setattr(learning, "teach", broken)
    for name in ("hat", "cap"):
        (tmp_path / name).mkdir()
        for i in range(5):
            (tmp_path / name / f"{i}.jpg").write_bytes(b"")
    learner = learning.Learner(tmp_path, lambda clf: None)
    learner.start()
    learner.thread.join(10)
    status = learner.status()
    assert status["running"] is False
    assert status["error"] == "learning failed: ValueError: cannot reshape array"


def test_class_name_checks_and_folds():
    from edgeclf.edge.runtime.classes import check_class_name, did_you_mean, fold, near_copy

    assert fold("👖") != fold("👟") and fold("Jeans") == fold("jeans ")
    assert near_copy("hat", ("Bag", "Shirt")) is None and near_copy("shirts", ("Shirt",))
    assert did_you_mean("skrit", ["skirt"]) == "skirt" and did_you_mean("cap", ["hat"]) is None
    for bad in ("a\nb", "tab\there", "..", "a/b", "---"):
        with pytest.raises(EdgeclfError):
            check_class_name(bad)
    assert all(check_class_name(ok) == ok for ok in ("jeans", "👩‍💻", "Ankle boot", "Ñandú"))


def test_a_live_learn_says_what_to_capture_first(tmp_path):
    from edgeclf.edge.live.learning import Learner

    learner = Learner(tmp_path / "mine", lambda clf: None)
    with pytest.raises(EdgeclfError, match="^capture photos of at least 2 classes first$"):
        learner.start()
    for name, count in (("hat", 7), ("cap", 2)):
        (tmp_path / "mine" / name).mkdir(parents=True)
        for i in range(count):
            (tmp_path / "mine" / name / f"{i}.jpg").write_bytes(b"")
    with pytest.raises(EdgeclfError, match="at least 5 photos of each class first: cap has 2"):
        learner.start()
    keeping = Learner(tmp_path / "mine", lambda clf: None, keep_classes=True)
    shutil.rmtree(tmp_path / "mine" / "cap")
    shutil.rmtree(tmp_path / "mine" / "hat")
    with pytest.raises(EdgeclfError, match="at least 1 class first"):
        keeping.start()


@needs_schema
def test_a_photo_deleted_while_teaching_is_skipped_and_named(tmp_path):
    root = folder_of(tmp_path, {"hat": "hat", "shorts": "shorts"}, per_class=10)
    doomed = []

    def progress(stage, done, total):
        if stage == "fitting" and not doomed:  # after the features, before the int8 check
            doomed.extend(sorted((root / "hat").iterdir()))  # its validation photos among them
            for photo in doomed:
                photo.unlink()

    result = teach(TeachOptions(folder=root, out=tmp_path / "m.tflite"), progress).result
    skipped = [n for n in result.notes if "could not be read again" in n]
    assert doomed and len(skipped) == 1 and "file not found" in skipped[0]
    assert any(photo.name in skipped[0] for photo in doomed)


@needs_schema
def test_a_stream_takes_the_model_alone(tmp_path):
    from edgeclf.edge.teach.run import save

    root = folder_of(tmp_path, {"hat": "hat", "shorts": "shorts"}, per_class=4)
    done = teach(TeachOptions(folder=root, out=Path("/dev/null")))
    assert save(done, Path("/dev/null")) == (Path("/dev/null"),)
    assert not Path("/dev/null.json").exists()


def test_collect_refuses_twins_and_near_copies_and_asks_about_typos(tmp_path):
    from edgeclf.edge.live.collect import CollectOptions, Collector, NearName
    from edgeclf.edge.runtime.classes import CLASS_NAMES

    opts = CollectOptions(tmp_path / "mine", ("hat",), keep_classes=True)
    with pytest.raises(EdgeclfError, match="already knows T-shirt/top"):
        Collector(CollectOptions(tmp_path / "mine", ("t-shirt",), keep_classes=True), CLASS_NAMES)
    collector = Collector(opts, CLASS_NAMES)
    with pytest.raises(EdgeclfError, match="already collecting hat"):
        collector.add("HAT ")
    with pytest.raises(EdgeclfError, match="already knows Trouser"):
        collector.add("trousers")
    with pytest.raises(NearName, match=r"did you mean 'hat'\?\): add it again to confirm"):
        collector.add("hta")
    assert collector.classes == ("hat",)
    collector.add("hta", confirm=True)
    collector.add("👟")
    assert collector.classes == ("hat", "hta", "👟")
    with pytest.raises(EdgeclfError, match="control character"):
        collector.add("a\nb")
