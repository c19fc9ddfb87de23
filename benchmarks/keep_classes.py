"""`teach --keep-classes` measured: Hat, Shorts and Skirt added beside the bundled model's ten
classes, from N photos each of the clothing-photos senders the base trained on, collected as one
sitting per class; scored on the senders the base held out (sender split, seed 0).

Prints the base classes' accuracy (a base photo taken for a new class is wrong) before and after,
and the new classes' accuracy among all 13, for each draw of the new photos.

    python benchmarks/keep_classes.py ../shared/data/clothing-photos [--per-class 50] [--draws 3]
        [--base accurate]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np

from edgeclf.edge.datasets.photoset import group_split, load_photos, mapping_for, read_items
from edgeclf.edge.images import read_image
from edgeclf.edge.runtime.classifier import DEFAULT_MODEL, Classifier
from edgeclf.edge.teach.run import TeachOptions, save, teach

NEW = ("Hat", "Shorts", "Skirt")


def probabilities(model: Classifier, paths: list[Path]) -> np.ndarray:
    return np.array([model.predict(model.view(read_image(p)))[0] for p in paths])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--per-class", type=int, default=50, help="photos per new class (0: all)")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--base", default=str(DEFAULT_MODEL), help="a model, fast or accurate")
    args = parser.parse_args()

    base = Classifier(args.base)
    split = base.card.validation
    classes = base.contract.classes
    known = load_photos(args.photos, classes, mapping_for(classes))
    _, base_val = group_split(known.groups, split.val_fraction, split.seed)
    base_paths = [known.items[i].path for i in base_val]
    base_allowed = known.allowed[base_val]

    items = [item for item in read_items(args.photos).items if item.label in NEW]
    groups = np.array([item.group for item in items])
    new_train, new_val = group_split(groups, split.val_fraction, split.seed)
    val_paths = [items[i].path for i in new_val]
    val_y = np.array([len(classes) + NEW.index(items[i].label) for i in new_val])

    before = base_allowed[
        np.arange(len(base_paths)), probabilities(base, base_paths).argmax(1)
    ].mean()
    print(f"base classes before: {before:.2%} on {len(base_paths)} photos of held-out senders")
    rows = []
    for draw in range(args.draws):
        rng = np.random.default_rng(draw)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "collected"
            for c, label in enumerate(NEW):
                (folder / label).mkdir(parents=True)
                own = [i for i in new_train if items[i].label == label]
                for k, i in enumerate(rng.permutation(own)[: args.per_class or None]):
                    name = f"2026120{c + 1}-090000-{k * 5:06d}.jpg"  # one sitting per class
                    shutil.copy(items[i].path, folder / label / name)
            out = Path(tmp) / "kept.tflite"
            taught = teach(TeachOptions(folder=folder, out=out, base=base.path, keep_classes=True))
            save(taught, out)
            result = taught.result
            model = Classifier(out)
            top = probabilities(model, base_paths).argmax(1)
            kept = np.where(
                top < len(classes), base_allowed[np.arange(len(top)), top % len(classes)], False
            ).mean()
            on_new = probabilities(model, val_paths)
            new = (on_new.argmax(1) == val_y).mean()
            among_new = (on_new[:, len(classes) :].argmax(1) + len(classes) == val_y).mean()
        rows.append((kept, new, among_new, result.seconds))
        print(
            f"draw {draw}: base classes {kept:.2%} ({100 * (kept - before):+.2f} points); new "
            f"classes {new:.2%} among all {len(classes) + len(NEW)}, {among_new:.2%} among the "
            f"new {len(NEW)}, on {len(val_paths)} photos; taught in {result.seconds:.1f} s"
        )
    kept, new, among_new, _ = (statistics.median(column) for column in zip(*rows, strict=True))
    print(
        f"median of {args.draws}: base classes {100 * (kept - before):+.2f} points, new classes "
        f"{new:.2%} among all, {among_new:.2%} among the new"
    )


if __name__ == "__main__":
    main()
