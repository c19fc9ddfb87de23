"""Find a TFLite interpreter: ai-edge-litert first, then tflite-runtime, then TensorFlow's.

TensorFlow is imported only when it is asked for or nothing lighter is installed.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from ..errors import ModelError, install_hint

# backend name -> (module holding Interpreter and load_delegate, distribution for the version)
BACKENDS: dict[str, tuple[str, str]] = {
    "litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite-runtime"),
    "tensorflow": ("tensorflow", "tensorflow"),  # its API lives at tf.lite
}


class Backend(NamedTuple):
    """An interpreter module found, and what edgeclf takes from it."""

    name: str
    interpreter_class: Any
    load_delegate: Any
    module: Any

    @property
    def version(self) -> str:
        # importlib.metadata costs ~12 ms: looked up only when a report asks for it.
        from importlib.metadata import PackageNotFoundError, version

        for dist in (BACKENDS[self.name][1], "tensorflow-cpu"):
            try:
                return version(dist)
            except PackageNotFoundError:
                continue
        return "unknown"

    def inspection_interpreter(self, model_bytes: bytes):
        """An interpreter with no default delegate, so its op list shows the model's own ops."""
        resolver = (
            getattr(self.module, "OpResolverType", None) or self.module.experimental.OpResolverType
        )
        return self.interpreter_class(
            model_content=model_bytes,
            experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )


def _import(name: str) -> Backend:
    module = importlib.import_module(BACKENDS[name][0])
    if name == "tensorflow":
        module = module.lite
        interpreter_class, load_delegate = module.Interpreter, module.experimental.load_delegate
    else:
        interpreter_class, load_delegate = module.Interpreter, module.load_delegate
    return Backend(name, interpreter_class, load_delegate, module)


def load_backend(name: str | None = None) -> Backend:
    """The requested backend, or the first one installed in preference order."""
    if name is not None:
        if name not in BACKENDS:
            raise ModelError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
        try:
            return _import(name)
        except ImportError as exc:
            raise ModelError(f"backend {name!r} is not installed ({exc})") from None
    for candidate in BACKENDS:
        try:
            return _import(candidate)
        except ImportError:
            continue
    raise ModelError(
        f"no TFLite interpreter installed: {install_hint('edge')} (ai-edge-litert; the extra "
        "[tflite] gives tflite-runtime where LiteRT has no wheel)"
    )


def available_backends() -> list[str]:
    """Backends importable here (imports each one: use in tests and reports, not on hot paths)."""
    found = []
    for name in BACKENDS:
        try:
            _import(name)
            found.append(name)
        except ImportError:
            pass
    return found
