"""Callbacks that record training runs of frameworks (each imports its framework lazily)."""
