"""What every route of `serve` shares: the model, the live camera, the collector and the learner."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from fastapi import Request

from ..live.collect import Collector
from ..live.learning import Learner
from ..live.service import RECENT, LiveService
from ..runtime.classifier import Classifier


@dataclass
class ServeState:
    """One per app; routes reach it through `serve_state` (a FastAPI dependency)."""

    clf: Classifier
    live: LiveService | None = None  # None: --source none, the upload API and page only
    collector: Collector | None = None  # the page's capture buttons save under its classes
    max_upload: int = 10 * 2**20
    started: float = field(default_factory=time.time)
    one_decode: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    learner: Learner | None = field(init=False)

    def __post_init__(self) -> None:
        collector, live = self.collector, self.live
        self.learner = None
        if live and collector:
            self.learner = Learner.beside(collector, live)
            live.keep_recent = RECENT  # a capture saves the frame the page showed

    def current(self) -> Classifier:
        """The model in use now: a Learn swaps the live one; each request reads it once."""
        return self.live.clf if self.live else self.clf


def serve_state(request: Request) -> ServeState:
    return request.app.state.serve
