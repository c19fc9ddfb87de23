"""Desktop training stage: Keras 3 CNNs for Fashion-MNIST (needs the `train` extra)."""
