"""Catalog audit: compare predictions with the labels a shop's catalog gives its photos."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..errors import EdgeclfError
from ..runtime.classes import class_index
from ..runtime.prediction import Result


def labels_from_dirs(paths: list[Path], classes: tuple[str, ...]) -> dict[Path, int]:
    """Each image's parent folder names its class (`catalog/sneaker/123.jpg`)."""
    return {p.resolve(): _parse(p.parent.name, f"folder of {p}", classes) for p in paths}


def labels_from_csv(csv_path: Path, classes: tuple[str, ...]) -> dict[Path, int]:
    """`path,label` rows (a header row is allowed); relative paths are relative to the CSV's folder."""
    try:
        text = csv_path.read_bytes().decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except OSError as exc:
        raise EdgeclfError(f"cannot read --expect {csv_path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise EdgeclfError(
            f"--expect {csv_path} is not UTF-8 (byte {exc.start}); save it as CSV UTF-8"
        ) from None
    labels: dict[Path, int] = {}
    seen_at: dict[Path, int] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip():
            continue
        if len(row) < 2:
            raise EdgeclfError(f"{csv_path}:{n}: expected 'path,label'")
        if n == 1 and row[0].strip().lower() == "path":
            continue
        path = Path(row[0].strip())
        if not path.is_absolute():
            path = csv_path.parent / path
        path = path.resolve()
        if path in seen_at:
            raise EdgeclfError(
                f"{csv_path}:{n}: {row[0].strip()} is listed twice (first on line {seen_at[path]})"
            )
        seen_at[path] = n
        labels[path] = _parse(row[1].strip(), f"{csv_path}:{n}", classes)
    return labels


def _parse(name: str, where: str, classes: tuple[str, ...]) -> int:
    try:
        return class_index(name, classes)
    except ValueError:
        raise EdgeclfError(
            f"unknown catalog label {name!r} ({where}); allowed: {', '.join(classes)}"
        ) from None


@dataclass
class Audit:
    """The catalog's label for each image path, and what the classifier's results say about it."""

    expected: dict[Path, int]
    classes: tuple[str, ...]

    @classmethod
    def from_dirs(cls, items: list[tuple[Path, str | None]], classes: tuple[str, ...]) -> Audit:
        return cls(labels_from_dirs([path for path, error in items if not error], classes), classes)

    @classmethod
    def from_csv(cls, csv_path: Path, classes: tuple[str, ...]) -> Audit:
        return cls(labels_from_csv(csv_path, classes), classes)

    def _graded(self, results: list[Result]):
        for r in results:
            want = self.expected.get(Path(r.path).resolve()) if r.ok else None
            if want is not None:
                yield r, want

    def unmatched(self, results: list[Result]) -> list[Path]:
        """Catalog paths that no classified input matched (a typo, or an image left out)."""
        given = {Path(r.path).resolve() for r in results}
        return sorted(path for path in self.expected if path not in given)

    def checked(self, results: list[Result]) -> int:
        """How many classified images the catalog has a label for."""
        return sum(1 for _ in self._graded(results))

    def mismatches(self, results: list[Result]) -> list[dict]:
        """Classified images whose prediction differs from the catalog, most confident first."""
        rows = [
            {"path": r.path, "catalog": self.classes[want], "predicted": r.label, "score": r.score}
            for r, want in self._graded(results)
            if want != r.index
        ]
        return sorted(rows, key=lambda row: -row["score"])

    def write_report(self, results: list[Result], path: Path) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["path", "catalog", "predicted", "score"])
        writer.writeheader()
        writer.writerows({**r, "score": f"{r['score']:.4f}"} for r in self.mismatches(results))
        write_text(path, out.getvalue())
