"""Terminal tables and the PNG for `edgeclf bench`."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..console import console


def print_report(r: dict) -> None:
    table = Table(title=f"edgeclf bench: {Path(r['model']).name}", show_header=False)
    table.add_row("images", f"{r['n']:,} ({r['data']})")
    table.add_row("top-1 accuracy", f"{r['accuracy']:.2%} ({r['correct']:,} correct)")
    if r.get("strict_accuracy") is not None and r["strict_accuracy"] != r["accuracy"]:
        table.add_row("top-1, one-class labels only", f"{r['strict_accuracy']:.2%}")
    table.add_row("top-2 accuracy", f"{r['top2_accuracy']:.2%}")
    if "reference" in r:
        ref = r["reference"]
        table.add_row(
            "vs reference",
            f"{Path(ref['model']).name}: {ref['accuracy']:.2%}, delta {ref['delta_points']:+.2f} pts, "
            f"top-1 agreement {ref['agreement']:.2%}",
        )
    lat = r["latency_us"]
    table.add_row(
        f"invoke latency ({r['threads']} thread{'s' if r['threads'] > 1 else ''})",
        f"p50 {lat['p50']:.1f} us, p90 {lat['p90']:.1f}, p99 {lat['p99']:.1f}, mean {lat['mean']:.1f}",
    )
    for n, sweep in r["thread_sweep"].items():
        if int(n) != r["threads"]:
            table.add_row(
                f"invoke latency ({n} threads)",
                f"p50 {sweep['p50']:.1f} us, p99 {sweep['p99']:.1f}",
            )
    table.add_row(
        "Python overhead per image", f"{r['python_overhead_us']:.1f} us (predict p50 - invoke p50)"
    )
    table.add_row("accuracy pass", f"{r['images_per_second']:,.0f} images/s")
    table.add_row("recipe on a 640x480 frame", f"p50 {r['preprocess_us']['p50'] / 1000:.2f} ms")
    shape = "x".join(map(str, r.get("input_shape", [])))
    table.add_row(
        "model size",
        f"{r['model_bytes']:,} bytes ({r['input_dtype']} {shape} input, {r.get('recipe')} recipe)",
    )
    if r.get("flip_average"):
        table.add_row("flip average", "on: each image also runs mirrored (2x the compute)")
    table.add_row("peak RSS", f"{r['peak_rss_mb']:.0f} MB")
    table.add_row("backend", f"{r['backend']} {r['backend_version']}")
    table.add_row(
        "machine", f"{r['cpu']} ({r['cpu_count']} cpus), Python {r['python']}, NumPy {r['numpy']}"
    )
    console.print(table)
    worst = sorted((v, k) for k, v in r["per_class"].items() if v is not None)[:3]
    console.print("weakest classes: " + ", ".join(f"{k} {v:.1%}" for v, k in worst))
    if "no_garment" in r:
        print_false_alarms(r["no_garment"])


def print_false_alarms(report: dict) -> None:
    """`--no-garment`: per threshold, empty frames announced as a garment, garments named right."""
    background = report["background_class"]
    how = f"or the background class '{background}'" if background else "(no background class)"
    table = Table(
        title=f"{report['frames']:,} frames with no garment ({report['folder']})",
        caption=f"a frame is announced unless its score is under the threshold {how}",
    )
    for column in ("threshold", "false alarms", "garments named right"):
        table.add_column(column, justify="right")
    for rate in report["rates"]:
        table.add_row(
            f"{rate['threshold']:.2f}",
            f"{rate['false_alarms']:.1%}",
            f"{rate['garments_named']:.1%}",
        )
    console.print(table)
    if report["unreadable"]:
        console.print(f"[yellow]{report['unreadable']} unreadable image(s) skipped[/]")


def print_comparison(reports: list[dict]) -> None:
    """Accuracy, size, latency at each thread count measured (p50 and p99) and peak RSS, one row
    a model, with ratios against the first."""
    base = reports[0]
    table = Table(title="edgeclf bench --compare (ratios against the first model)")
    names = [Path(r["model"]).name for r in reports]
    if len(set(names)) < len(names):  # same file names from different runs: say which run
        names = [f"{Path(r['model']).parent.name}/{Path(r['model']).name}" for r in reports]
    threads = list(base["thread_sweep"])
    table.add_column("model", no_wrap=True, min_width=max(map(len, names)))
    columns = ["input", "top-1", "Δ pts", "KB", "size x"]
    for n in threads:
        columns += [f"p50 us {n}t", f"p99 us {n}t"]
    for column in (*columns, "speed x", "peak RSS MB"):
        table.add_column(column, justify="right", overflow="fold")
    first = threads[0]
    for name, r in zip(names, reports, strict=True):
        latency = []
        for n in threads:
            sweep = r["thread_sweep"][n]
            latency += [f"{sweep['p50']:.0f}", f"{sweep['p99']:.0f}"]
        table.add_row(
            name,
            r["input_dtype"],
            f"{r['accuracy']:.2%}",
            f"{100 * (r['accuracy'] - base['accuracy']):+.2f}",
            f"{r['model_bytes'] / 1024:.1f}",
            f"{r['model_bytes'] / base['model_bytes']:.2f}x",
            *latency,
            f"{base['thread_sweep'][first]['p50'] / r['thread_sweep'][first]['p50']:.2f}x",
            f"{r['peak_rss_mb']:.0f}",
        )
    console.print(table)
    console.print(
        f"p50 / p99: one invoke, in microseconds, with {' and '.join(threads)} thread(s); each "
        "model ran in a process of its own, so its peak RSS is its own"
    )


def plot(r: dict, path: Path) -> None:
    """Confusion matrix and latency histogram side by side."""
    import numpy as np

    from ..plots import confusion_panel, pyplot, save
    from ..runtime.classes import CLASS_NAMES

    plt = pyplot()
    fig, (ax_cm, ax_lat) = plt.subplots(
        1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [1.2, 1]}
    )
    matrix = np.array(r["confusion"])
    allowed = np.array(r.get("confusion_allowed") or np.eye(*matrix.shape), bool)
    square_diagonal = (
        allowed.shape[0] == allowed.shape[1] and (allowed == np.eye(len(allowed))).all()
    )
    confusion_panel(
        ax_cm,
        matrix,
        f"{Path(r['model']).name}",
        tuple(r.get("classes") or CLASS_NAMES),
        tuple(r.get("confusion_rows") or r.get("classes") or CLASS_NAMES),
        r["accuracy"],
        None if square_diagonal else allowed,
    )
    for n, sweep in r["thread_sweep"].items():
        hist = sweep["histogram_us"]
        edges = np.array(hist["edges"])
        ax_lat.stairs(
            hist["counts"],
            edges,
            fill=True,
            alpha=0.5,
            label=f"{n} thread(s), p50 {sweep['p50']:.0f} µs",
        )
    ax_lat.set_xlim(0, 1.5 * max(sweep["p99"] for sweep in r["thread_sweep"].values()))
    ax_lat.set_xlabel("invoke latency (µs)")
    ax_lat.set_ylabel("invokes")
    ax_lat.set_title(f"latency, {r['backend']} on {r['cpu']}"[:70])
    ax_lat.grid(alpha=0.3)
    ax_lat.legend()
    fig.tight_layout()
    save(fig, path)
