"""Keras -> TFLite conversion with verification and a model card (needs the `train` extra)."""
