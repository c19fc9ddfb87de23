"""`edgeclf classify`: a batch of photos through the model's recipe, as tables, JSON lines or a
catalog audit."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from ..atomic import check_writable_dir, check_writable_file, write_new
from ..errors import EdgeclfError, InputImageError
from ..images import BLANK, expand_inputs, is_blank, read_image, skipped_note
from ..runtime.classifier import Classifier
from ..runtime.prediction import Failure, Result


class ClassifyOptions(NamedTuple):
    """What `classify` was asked for."""

    top_k: int = 3
    raw: bool = False
    save_input: Path | None = None
    as_json: bool = False
    expect: Path | None = None  # catalog audit: CSV of path,label rows
    expect_dirs: bool = False  # catalog audit: each image's folder names its class
    report: Path | None = None  # the audit's mismatch CSV


def classify_path(clf: Classifier, path: Path, opts: ClassifyOptions) -> Result:
    started = time.perf_counter()
    try:
        image = read_image(path)
    except InputImageError as exc:
        return Failure(str(path), str(exc))
    if is_blank(image):
        return Failure(str(path), BLANK)
    view = clf.view(image, raw=opts.raw)
    result = clf.classify(view, opts.top_k)
    result.path = str(path)
    result.ms = round((time.perf_counter() - started) * 1000, 2)
    if opts.save_input:
        result.input_png = str(save_view(view, path, opts.save_input))
    return result


def save_view(view: np.ndarray, source: Path, folder: Path) -> Path:
    """Write the model's-eye view as PNG, never overwriting another image's view."""
    if view.ndim == 3:  # colour views are RGB; OpenCV writes BGR
        view = cv2.cvtColor(view, cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", view)
    if not ok:
        raise EdgeclfError(f"cannot encode the view of {source} as PNG")
    return write_new(folder / f"{source.stem}.png", png)  # any file name: OpenCV never sees it


def classify_all(
    clf: Classifier, items: Iterable[tuple[Path, str | None]], opts: ClassifyOptions
) -> Iterator[Result]:
    """Each expanded input's result, as it comes (JSON lines stream; tables wait for the end)."""
    for path, error in items:
        yield Failure(str(path), error) if error else classify_path(clf, path, opts)


def class_counts(results: list[Result]) -> Counter:
    return Counter(r.label for r in results if r.ok)


def run(clf: Classifier, images: list[str], opts: ClassifyOptions) -> int:
    """The whole command: classify, print, audit. Returns how many inputs failed."""
    if opts.report and not (opts.expect or opts.expect_dirs):
        raise EdgeclfError("--report needs --expect CSV or --expect-dirs")
    if opts.report:
        named = [Path(arg) for arg in images] + ([opts.expect] if opts.expect else [])
        check_writable_file(opts.report, "--report", named)  # before the batch, not after it
    if opts.save_input:
        check_writable_dir(opts.save_input, "--save-input")
    inputs = expand_inputs(images)
    items = inputs.found
    audit = None
    if opts.expect or opts.expect_dirs:  # csv and friends are imported only for audits
        from .catalog import Audit

        labels = clf.labels
        audit = (
            Audit.from_csv(opts.expect, labels) if opts.expect else Audit.from_dirs(items, labels)
        )
    results = []
    for result in classify_all(clf, items, opts):
        results.append(result)
        if opts.as_json:
            print(json.dumps(result.to_dict()), flush=True)
    errors = sum(not r.ok for r in results)
    if opts.as_json:  # the summary goes to stderr, keeping stdout one object per image
        counts = dict(class_counts(results).most_common())
        print(json.dumps({"summary": counts, "errors": errors}), file=sys.stderr)
    else:
        from . import tables

        tables.results_table(results)
        tables.counts_table(class_counts(results), errors)
    note = skipped_note(inputs.not_images)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if audit:
        missing = audit.unmatched(results)
        if missing:
            print(
                f"warning: {len(missing)} catalog row(s) match no classified image, "
                f"e.g. {missing[0]}",
                file=sys.stderr,
            )
        if not opts.as_json:
            from .tables import mismatch_table

            mismatch_table(audit.mismatches(results), audit.checked(results))
        if opts.report:
            audit.write_report(results, opts.report)
    return errors
