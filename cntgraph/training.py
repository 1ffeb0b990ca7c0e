"""Old import path, kept working: the digits data and small models now live in :mod:`cntgraph.studies.digits`."""

from cntgraph.studies.digits import Digits, accuracy, cnn, load_digits, mlp, train

__all__ = ["Digits", "accuracy", "cnn", "load_digits", "mlp", "train"]
