"""`edgeclf teach`: classes of your own learned on the device, from folders collected the way
people collect (one sitting per class), with no TensorFlow, into one standard int8 model."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeclf.edge.datasets.sittings import sitting_split
from edgeclf.edge.runtime.card import ModelCard
from edgeclf.edge.runtime.classifier import PHOTO_MODEL, Classifier
from edgeclf.edge.teach.head import fit
from edgeclf.edge.tflite.model_file import find_head, read

from conftest import ROOT, copy_without_card, needs_schema, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
# Three shop classes from the committed real photos, and which senders are kept out as "others".
GROUPS = {"tops": ("T-Shirt", "Polo", "Longsleeve"), "trousers": ("Pants",), "shoes": ("Shoes",)}


def photos_by_class() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {name: [] for name in GROUPS}
    with open(PHOTOS / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            for name, labels in GROUPS.items():
                if row["label"] in labels:
                    found[name].append(PHOTOS / "images" / f"{row['image']}.jpg")
    return found


def collected(tmp_path: Path, photos: dict[str, list[Path]], sittings: int = 1) -> Path:
    """Class folders named as `camera --collect` names them: `<session>-<frame>.jpg`, each class
    collected in `sittings` sittings (one by default: one class at a time)."""
    folder = tmp_path / "shop"
    for c, (name, members) in enumerate(photos.items()):
        (folder / name).mkdir(parents=True)
        for i, photo in enumerate(members):
            session = f"2026120{c + 1}-09{i * sittings // len(members):02d}00"
            shutil.copy(photo, folder / name / f"{session}-{i * 5:06d}.jpg")
    return folder


# --- the split can't starve a class ------------------------------------------------------


def test_one_sitting_per_class_keeps_every_class_in_training():
    labels = np.repeat(np.arange(3), 20)
    groups = np.repeat(["a/s1", "b/s2", "c/s3"], 20)
    order = [f"s-{i:06d}" for i in range(60)]
    split = sitting_split(labels, groups, order, ("a", "b", "c"), 0.15, seed=0)
    assert [(c.train, c.val, c.by_time) for c in split.classes] == [(17, 3, True)] * 3
    for c in range(3):  # the held-out frames are each class's last three, in time order
        assert sorted(split.val[labels[split.val] == c]) == list(range(20 * c + 17, 20 * c + 20))
    assert split.optimistic == ("a", "b", "c") and not split.unvalidated


def test_several_sittings_hold_out_whole_sittings_and_keep_one_for_training():
    labels = np.repeat([0, 1], 30)
    groups = np.array([f"a/s{i // 10}" for i in range(30)] + [f"b/t{i // 15}" for i in range(30)])
    order = [f"{g}-{i:06d}" for i, g in enumerate(groups)]
    for seed in range(20):
        split = sitting_split(labels, groups, order, ("a", "b"), 0.5, seed)
        for c in (0, 1):
            train_groups = set(groups[split.train][labels[split.train] == c])
            val_groups = set(groups[split.val][labels[split.val] == c])
            assert train_groups and not train_groups & val_groups
        assert not split.optimistic


def class_of_sittings(sizes: list[int], loose: int = 0) -> tuple[np.ndarray, np.ndarray, list]:
    """One class: collect sittings of these sizes (named as collect names frames) and photos
    dropped in by hand (each its own sitting)."""
    groups, order = [], []
    for s, size in enumerate(sizes):
        groups += [f"a/2026120{s + 1}-090000"] * size
        order += [f"2026120{s + 1}-090000-{i:06d}" for i in range(size)]
    groups += [f"a/IMG_{i}.jpg" for i in range(loose)]
    order += [f"IMG_{i}" for i in range(loose)]
    return np.zeros(len(groups), int), np.array(groups), order


@pytest.mark.parametrize(
    ("sizes", "loose"), [([20], 1), ([20], 3), ([20, 3], 0), ([5, 5, 40], 0), ([10, 10], 0)]
)
def test_a_class_never_trains_on_fewer_photos_than_it_validates_over_every_seed(sizes, loose):
    """One photo dropped in by hand beside a collected sitting used to be the whole training
    side for about half of all seeds."""
    labels, groups, order = class_of_sittings(sizes, loose)
    total = len(labels)
    for seed in range(200):
        split = sitting_split(labels, groups, order, ("a",), 0.15, seed)
        (c,) = split.classes
        assert c.train + c.val == total and c.train >= total - round(0.15 * total) - 1
        assert 1 <= c.val <= round(0.15 * total) + 1, (seed, c)
        if c.by_time:  # no sitting fitted: the last frames in time, as for one sitting
            assert sorted(split.val) == sorted(range(total), key=order.__getitem__)[-c.val :]
        else:  # whole sittings: none on both sides
            assert not set(groups[split.val]) & set(groups[split.train])


def test_tiny_classes_validate_only_where_they_can():
    for total, val in ((1, 0), (2, 1), (3, 1), (4, 2), (9, 4)):
        labels, groups, order = class_of_sittings([total])
        (c,) = sitting_split(labels, groups, order, ("a",), 0.5, 0).classes
        assert (c.train, c.val) == (total - val, val)


# --- the head and the int8 model --------------------------------------------------------------


def test_numpy_head_separates_features_it_was_given():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 16))
    labels = np.repeat(np.arange(3), 40)
    x = (centres[labels] + rng.normal(0, 0.3, (120, 16))).astype(np.float32) * 5 + 2
    head = fit(x, labels, 3)
    assert (head.logits(x).argmax(1) == labels).mean() == 1.0
    assert np.allclose(head.probabilities(x).sum(1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """`teach` on three classes collected one sitting each, the way every collect path gives them;
    TensorFlow and Keras made unimportable in the process that teaches."""
    tmp = tmp_path_factory.mktemp("teach")
    folder = collected(tmp, photos_by_class())
    out = tmp / "shop_int8.tflite"
    blocker = (
        "import sys\n"
        "for name in ('tensorflow', 'keras', 'tf_keras'):\n"
        "    sys.modules[name] = None  # any import of them now fails\n"
        "from edgeclf.edge.cli.app import main\n"
        f"sys.argv = ['edgeclf', 'teach', {str(folder)!r}, '-o', {str(out)!r}]\n"
        "main()\n"
    )
    env_cache = {"EDGECLF_CACHE": str(tmp / "cache")}
    import os

    result = subprocess.run(
        [sys.executable, "-c", blocker],
        capture_output=True,
        text=True,
        env={**os.environ, **env_cache},
    )
    return folder, out, result, tmp


@needs_schema
def test_teach_learns_every_class_without_tensorflow(taught):
    folder, out, result, _ = taught
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "optimistic" in result.stderr  # one sitting per class: said once
    assert "no model card" not in result.stderr  # the model it checks is loaded with its card
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["classes"] == ["shoes", "tops", "trousers"]
    assert card["validation"]["split"] == "sittings"
    clf = Classifier(out)
    assert clf.labels == ("shoes", "tops", "trousers") and clf.input.dtype == np.int8
    assert all(v > 0 for v in card["class_counts"].values())  # no class starved
    rows = [
        json.loads(line)
        for line in run_cli(
            "classify", str(folder), "--json", "--model", str(out)
        ).stdout.splitlines()
    ]
    right = [Path(r["path"]).parent.name == r["label"] for r in rows]
    assert len(rows) == sum(1 for _ in folder.rglob("*.jpg")) and np.mean(right) >= 0.9


@needs_schema
def test_the_int8_model_matches_the_float_head(taught):
    _, out, _, _ = taught
    card = json.loads(out.with_suffix(".json").read_text())
    accuracy = card["accuracy"]
    assert accuracy["agreement"] >= 0.9 and abs(accuracy["drop_points"]) <= 10
    base, new = (read(p.read_bytes()) for p in (PHOTO_MODEL, out))
    head = find_head(new)
    weights = new.subgraphs[0].tensors[head.weights]
    assert list(weights.shape) == [3, 160] and len(weights.quantization.scale) == 3
    assert len(new.subgraphs[0].operators) == len(base.subgraphs[0].operators)  # one graph


@needs_schema
def test_teaching_again_reads_only_new_photos_from_disk(taught):
    folder, _, _, tmp = taught
    out = tmp / "again.tflite"
    import os

    env = {**os.environ, "EDGECLF_CACHE": str(tmp / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "edgeclf.edge.cli.app", "teach", str(folder), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    photos = sum(1 for _ in folder.rglob("*.jpg"))
    assert f"{photos} photos ({photos} features from the cache)" in result.stdout


def test_teach_refuses_in_one_line_before_any_work(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(next((PHOTOS / "images").glob("*.jpg")), flat)
    cases = [
        (("teach", str(flat), "-o", str(tmp_path / "a.tflite")), "own subfolder"),
        (("teach", str(tmp_path / "none"), "-o", str(tmp_path / "a.tflite")), "not a folder"),
        (("teach", str(PHOTOS), "-o", str(tmp_path / "a.tflite")), "--classes"),
        (
            ("teach", str(PHOTOS), "--classes", "Pants,Shoes", "-o", str(PHOTO_MODEL)),
            "is an input of this command",
        ),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "a.tflite").exists()


def base_beside_its_card_and_bank(folder: Path) -> Path:
    """A copy of the bundled photo model with its card and bank, as a user's models/ holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("photo_int8.tflite", "photo_int8.json", "photo_int8.bank.npz"):
        shutil.copy(ROOT / "models" / name, folder / name)
    return folder / "photo_int8.tflite"


def test_teach_never_writes_over_a_photo_the_base_its_card_or_its_bank(tmp_path):
    from edgeclf.edge.errors import EdgeclfError
    from edgeclf.edge.teach.run import TeachOptions, teach

    own = dict(zip(("jumpers", "slacks", "footwear"), photos_by_class().values(), strict=True))
    folder = collected(tmp_path, {k: v[:4] for k, v in own.items()})  # no base class's name
    base = base_beside_its_card_and_bank(tmp_path / "models")
    photo = next((folder / "footwear").iterdir())
    before = {
        p: p.read_bytes() for p in [*folder.rglob("*"), *base.parent.iterdir()] if p.is_file()
    }
    for out in (photo, base, base.with_suffix(".v2"), base.with_name("photo_int8.bank.npz")):
        for keep in (False, True):
            opts = TeachOptions(folder=folder, out=out, base=base, keep_classes=keep)
            with pytest.raises(EdgeclfError, match="input of this command"):
                teach(opts)
    after = {p: p.read_bytes() for p in [*folder.rglob("*"), *base.parent.iterdir()] if p.is_file()}
    assert after == before


@needs_schema
def test_int8_model_reproduces_the_float_head_on_every_photo(tmp_path, monkeypatch):
    """The quantized head, run whole by the interpreter, gives the float head's probabilities
    (within int8's resolution) on the 40 committed photos' own features."""
    from edgeclf.edge.images import read_image
    from edgeclf.edge.teach.features import FeatureReader
    from edgeclf.edge.tflite.model_file import quantize_head, with_head

    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path))
    base = Classifier(PHOTO_MODEL)
    reader = FeatureReader(base)
    paths = sorted((PHOTOS / "images").glob("*.jpg"))
    features = np.stack([f.plain for f in reader.of_files(paths)])
    labels = np.arange(len(paths)) % 4  # any labels: the head only has to be reproduced
    head = fit(features, labels, 4, l2=0.01)
    int8 = quantize_head(head.weights, head.bias, reader.scale, head.logits(features))
    model = tmp_path / "four.tflite"
    model.write_bytes(with_head(PHOTO_MODEL.read_bytes(), int8))
    contract = base.contract._replace(classes=("a", "b", "c", "d"))
    clf = Classifier(model, card=ModelCard(contract, output_kind="probabilities"))
    probs = np.concatenate([clf.predict(clf.view(read_image(p))) for p in paths])
    expected = head.probabilities(features)
    assert np.abs(probs - expected).max() < 0.06
    assert (probs.argmax(1) == expected.argmax(1)).mean() >= 0.95


@needs_schema
def test_a_taught_model_copied_alone_keeps_its_class_names(taught, tmp_path):
    folder, out, _, _ = taught
    alone = tmp_path / "elsewhere" / "copy.tflite"
    alone.parent.mkdir()
    shutil.copy(out, alone)  # no card beside it
    result = run_cli("classify", str(folder / "shoes"), "--json", "--model", str(alone))
    assert result.returncode == 0, result.stderr
    labels = {json.loads(line)["label"] for line in result.stdout.splitlines()}
    assert labels <= {"shoes", "tops", "trousers"} and "no model card" not in result.stderr
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(alone.read_bytes())) as archive:  # TFLite's standard place
        assert archive.read("labels.txt").decode().split() == ["shoes", "tops", "trousers"]
    card = json.loads(out.with_suffix(".json").read_text())
    card["classes"] = ["boots", "tops", "trousers"]  # a sidecar that disagrees with the model
    alone.with_suffix(".json").write_text(json.dumps(card))
    refused = run_cli("classify", str(folder / "shoes"), "--model", str(alone))
    assert refused.returncode == 2 and "disagree" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_model_with_no_card_at_all_says_its_names_are_guessed(tmp_path):
    bare = copy_without_card(PHOTO_MODEL, tmp_path / "bare.tflite")
    result = run_cli("classify", str(PHOTOS / "images"), "--json", "--model", str(bare))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert result.stderr.count("has no model card") == 1 and "guessed" in result.stderr


# --- --keep-classes: new classes beside the base's ten --------------------------------------------

NEW_CLASSES = ROOT / "tests" / "fixtures" / "new-classes"  # 12 hats, shorts and skirts each (CC0)


def probabilities(model: Classifier, paths: list[Path]) -> np.ndarray:
    from edgeclf.edge.images import read_image

    return np.array([model.predict(model.view(read_image(p)))[0] for p in paths])


def top1(model: Classifier, paths: list[Path]) -> np.ndarray:
    return probabilities(model, paths).argmax(1)


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """Hats, shorts and skirts taught beside the bundled model's classes, one sitting each."""
    tmp = tmp_path_factory.mktemp("keep")
    new = ("hat", "shorts", "skirt")
    folder = collected(tmp, {name: sorted((NEW_CLASSES / name).glob("*.jpg")) for name in new})
    out = tmp / "kept_int8.tflite"
    cache = {"EDGECLF_CACHE": str(tmp / "cache")}
    result = run_cli("teach", str(folder), "-o", str(out), "--keep-classes", env=cache)
    return folder, out, result


@needs_schema
def test_keep_classes_adds_new_classes_and_keeps_the_base_answers(kept):
    folder, out, result = kept
    assert result.returncode == 0, result.stderr
    base = Classifier(PHOTO_MODEL)
    model = Classifier(out)
    assert model.contract.classes == (*base.contract.classes, "hat", "shorts", "skirt")
    # The 40 committed photos of base classes: the base's answers stand.
    photos = sorted((PHOTOS / "images").glob("*.jpg"))
    same = (top1(model, photos) == top1(base, photos)).mean()
    assert same >= 0.95, same
    probs = probabilities(model, photos)
    new_mass = probs[:, 10:].sum(1)  # lowered new-class biases: little doubt moves to them
    assert (probs.argmax(1) < 10).all() and new_mass.mean() < 0.025, new_mass.mean()
    # The taught photos: each goes to its new class.
    for c, name in enumerate(("hat", "shorts", "skirt"), start=10):
        right = (top1(model, sorted((folder / name).glob("*.jpg"))) == c).mean()
        assert right >= 0.75, (name, right)
    card = json.loads(out.with_suffix(".json").read_text())
    assert "classes kept" in card["quantization"]["head"]
    assert set(card["class_counts"]) == {"hat", "shorts", "skirt"}
    assert "kept" in result.stdout


@needs_schema
def test_keep_classes_refuses_a_base_class_or_a_base_without_bank(kept, tmp_path):
    folder, _, _ = kept
    (folder.parent / "again" / "Dress").mkdir(parents=True)
    for photo in sorted((folder / "hat").glob("*.jpg"))[:3]:
        shutil.copy(photo, folder.parent / "again" / "Dress" / photo.name)
    for name in ("hat", "shorts"):
        shutil.copytree(folder / name, folder.parent / "again" / name)
    refused = run_cli(
        "teach", str(folder.parent / "again"), "-o", str(tmp_path / "x.tflite"), "--keep-classes"
    )
    assert refused.returncode == 1 and "Dress: already a class" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    bare = tmp_path / "bare.tflite"  # the bundled model and its card, without the bank
    shutil.copy(PHOTO_MODEL, bare)
    shutil.copy(PHOTO_MODEL.with_suffix(".json"), bare.with_suffix(".json"))
    no_bank = run_cli(
        "teach",
        str(folder),
        "-o",
        str(tmp_path / "y.tflite"),
        "--keep-classes",
        "--base",
        str(bare),
    )
    assert no_bank.returncode == 1 and "bare.bank.npz" in no_bank.stderr
    assert len(no_bank.stderr.strip().splitlines()) == 1 and not (tmp_path / "y.tflite").exists()


def test_the_bank_takes_each_photo_once_single_class_labels_first():
    from edgeclf.edge.teach.bank import pick_per_class

    allowed = np.array([[1, 1], [1, 0], [1, 1], [0, 1], [1, 0]], bool)  # sets and singles
    chosen, owner = pick_per_class(allowed, 2, np.random.default_rng(0))
    assert sorted(chosen[owner == 0]) == [1, 4]  # class 0 alone, before the two-class labels
    assert 3 in chosen[owner == 1]
    chosen, owner = pick_per_class(allowed, 3, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == [0, 1, 2, 3, 4]  # five photos, none taken twice


@needs_schema
def test_a_bank_belongs_to_the_model_it_was_built_for(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))
    from edgeclf.edge.runtime.classifier import FASHION_MODEL
    from edgeclf.edge.teach.bank import bank_path, build_bank, load_bank

    base = tmp_path / "base.tflite"
    shutil.copy(PHOTO_MODEL, base)
    shutil.copy(PHOTO_MODEL.with_suffix(".json"), base.with_suffix(".json"))
    photos = tmp_path / "photos"  # the committed photos, as if one sender on the training side
    shutil.copytree(PHOTOS / "images", photos / "images")
    with open(PHOTOS / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(photos / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "sender_id": "0"} for row in rows)
    with pytest.raises(Exception, match="no readable photo"):
        build_bank(PHOTOS, base)  # all held out: its senders were validation senders
    written = build_bank(photos, base, per_class=2)
    assert written == bank_path(base) == tmp_path / "base.bank.npz"
    bank = load_bank(Classifier(base))
    assert 0 < max(bank.per_class.values()) <= 2
    assert bank.features.shape == (2 * sum(bank.per_class.values()), 160)  # and mirrored
    other = tmp_path / "other.tflite"
    shutil.copy(FASHION_MODEL, other)
    shutil.copy(written, bank_path(other))
    with pytest.raises(Exception, match="belongs to another model"):
        load_bank(Classifier(other))


@needs_schema
def test_learning_live_keeps_the_base_classes_when_asked(kept, tmp_path, monkeypatch):
    """serve's Learn button and the camera's `l` key, with --keep-classes: the swapped-in model
    answers with the base's classes and the collected ones."""
    from edgeclf.edge.live.collect import CollectOptions
    from edgeclf.edge.live.learning import Learner

    folder, _, _ = kept
    shop = tmp_path / "shop"
    shutil.copytree(folder, shop)
    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))
    swapped: list[Classifier] = []
    opts = CollectOptions.for_command(shop, None, keep_classes=True)
    learner = Learner(shop, swapped.append, keep_classes=opts.keep_classes)
    assert learner.run() is not None and learner.error is None
    assert swapped[0].contract.classes[10:] == ("hat", "shorts", "skirt")
    assert [c["kept"] for c in learner.status()["classes"]] == [True] * 10 + [False] * 3
    refused = run_cli("camera", "--keep-classes", "--headless", "--source", "0")
    assert refused.returncode == 1 and "go with --collect DIR" in refused.stderr


@needs_schema
def test_one_new_class_is_enough_beside_the_base_classes(kept, tmp_path):
    folder, _, _ = kept
    alone = tmp_path / "hats"
    shutil.copytree(folder / "hat", alone / "hat")
    out = tmp_path / "eleven.tflite"
    refused = run_cli("teach", str(alone), "-o", str(out))  # alone, one class is not a model
    assert refused.returncode == 1 and "teaching needs 2" in refused.stderr
    result = run_cli("teach", str(alone), "-o", str(out), "--keep-classes")
    assert result.returncode == 0, result.stderr
    assert Classifier(out).contract.classes[10:] == ("hat",)


@needs_schema
def test_an_unreadable_photo_is_skipped_and_named(tmp_path):
    folder = collected(tmp_path, photos_by_class())
    (folder / "tops" / "20261201-090000-000001.jpg").write_bytes(b"\xff\xd8 not a photo")
    total = sum(1 for _ in folder.rglob("*.jpg"))
    cache = {"EDGECLF_CACHE": str(tmp_path / "cache")}
    result = run_cli("teach", str(folder), "-o", str(tmp_path / "shop.tflite"), env=cache)
    assert result.returncode == 0, result.stderr
    assert f"{total - 1} photos (" in result.stdout  # the unreadable one is not counted
    assert "skipped 1 unreadable photo(s), e.g." in result.stderr
    assert "20261201-090000-000001.jpg" in result.stderr
