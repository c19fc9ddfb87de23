"""The one rich Console (imported only when a table is printed, to keep start-up lean)."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped output keeps whole lines (files, CI logs) instead of wrapping at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
