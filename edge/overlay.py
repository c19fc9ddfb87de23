"""Draw the prediction on a frame: ROI box, label, top-3 bars, FPS and inference time."""

from __future__ import annotations

import cv2
import numpy as np

GREEN, AMBER, WHITE, DARK = (80, 200, 80), (0, 170, 255), (255, 255, 255), (30, 30, 30)


def draw(
    frame: np.ndarray,
    roi,
    label: str,
    top: list[tuple[str, float]],
    fps: float,
    infer_ms: float,
    uncertain: bool,
) -> np.ndarray:
    out = frame.copy()
    x, y, w, h = roi
    colour = AMBER if uncertain else GREEN
    cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
    score = top[0][1] if top else 0.0
    _text(out, f"{label} {score:.0%}", (10, 34), 0.9, colour)
    for i, (name, p) in enumerate(top[:3]):
        y0 = 52 + i * 24
        cv2.rectangle(out, (10, y0), (10 + int(160 * p), y0 + 16), colour, -1)
        cv2.rectangle(out, (10, y0), (170, y0 + 16), WHITE, 1)
        _text(out, f"{name} {p:.0%}", (178, y0 + 13), 0.5, WHITE)
    _text(out, f"{fps:.1f} FPS  model {infer_ms:.2f} ms", (10, out.shape[0] - 12), 0.55, WHITE)
    return out


def _text(img, text, org, scale, colour) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, DARK, 4, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
