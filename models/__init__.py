"""The bundled models: int8 TFLite files with their model cards (read as package data)."""
