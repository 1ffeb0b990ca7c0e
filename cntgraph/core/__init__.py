"""The CNT core: the network as data, its metrics, links, samples and divergences.

numpy, pandas and scipy only: no torch, no Neo4j driver (an import-linter contract checks it).
"""
