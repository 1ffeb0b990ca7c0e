"""Records of one epoch built from a hand-made snapshot, and their spool files read back bit for bit."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from cntgraph.core.network import dense_snapshot
from cntgraph.core.sampling import Full, Uniform
from cntgraph.errors import SpoolError
from cntgraph.records.build import build_records, new_layout
from cntgraph.records.epoch import EpochRecords
from cntgraph.records.spool import load, save, spooled

W1 = np.array([[1.0, 2.0, -1.0], [0.5, -3.0, 4.0]])  # 3 inputs -> 2 hidden
B1 = np.array([0.25, -0.5])
W2 = np.array([[2.0, -1.0]])  # 2 hidden -> 1 output
B2 = np.array([0.75])


def records(sample: Full | Uniform = Full(), epoch: int = 3) -> EpochRecords:
    snapshot = dense_snapshot([W1, W2], [B1, B2])
    layout = new_layout("hand", 42, snapshot, sample, run_props={"model": "hand"})
    return build_records(layout, snapshot, epoch, {"loss": 0.5})


def test_records_hold_the_hand_worked_strengths_and_links() -> None:
    built = records()
    # input units: s_in = 1, s_out = column sums of W1; hidden: row sums + bias, s_out = W2's columns; output: W2 row + b2
    expected_s = [1 + W1.sum(axis=0), W1.sum(axis=1) + B1 + W2.sum(axis=0), W2.sum(axis=1) + B2 + 1]
    for block, s in zip(built.neurons, expected_s, strict=True):
        assert block.s.tolist() == pytest.approx(s.tolist())
    assert built.neurons[1].bias.tolist() == B1.tolist() and np.isnan(built.neurons[0].bias).all()
    first = built.links[0]
    assert first.w.tolist() == [W1[d, s] for s, d in zip(first.src, first.dst, strict=True)]
    assert built.link_count == W1.size + W2.size
    assert [state["fluctuation"] for state in built.layer_states] == pytest.approx([np.std(s) for s in expected_s])


def test_a_sample_keeps_only_links_between_sampled_units() -> None:
    built = records(Uniform(1, seed=3))
    kept = [set(block.unit.tolist()) for block in built.neurons]
    for block in built.links:
        assert set(block.src.tolist()) <= kept[block.layer - 1] and set(block.dst.tolist()) <= kept[block.layer]
    assert built.link_count == sum(len(kept[i]) * len(kept[i + 1]) for i in range(2))


def test_spool_files_read_back_bit_for_bit(tmp_path: Path) -> None:
    built = records()
    path = save(built, tmp_path)
    assert spooled(tmp_path) == [path] and not list(tmp_path.glob("*.partial"))
    back = load(path)
    assert (back.run, back.rid, back.epoch, back.epoch_props, back.layers) == (
        built.run, built.rid, built.epoch, built.epoch_props, built.layers
    )
    for ours, theirs in zip(built.neurons + built.links, back.neurons + back.links, strict=True):
        for name in ("unit", "s_in", "s_out", "s", "bias") if hasattr(ours, "s") else ("src", "dst", "w"):
            assert np.array_equal(getattr(ours, name), getattr(theirs, name), equal_nan=True)
    assert back.layer_states == built.layer_states


def test_a_damaged_spool_file_is_named(tmp_path: Path) -> None:
    path = save(records(), tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(SpoolError, match=str(path)):
        load(path)


def test_spool_files_are_their_owners_only(tmp_path: Path) -> None:
    """Issue 14, item 9: weights in the spool are not readable by other local users, whatever the umask."""
    previous = os.umask(0o022)
    try:
        path = save(records(), tmp_path / "spool")
    finally:
        os.umask(previous)
    assert (stat.S_IMODE(path.parent.stat().st_mode), stat.S_IMODE(path.stat().st_mode)) == (0o700, 0o600)


def test_a_full_disk_leaves_no_spool_file(tmp_path: Path) -> None:
    """Issue 14, item 1: the write fails with the disk's own error (ENOSPC, from /dev/full) and leaves nothing half-written."""
    built = records()
    (tmp_path / f"hand-42-epoch-{built.epoch:06d}.partial").symlink_to("/dev/full")
    with pytest.raises(OSError) as failed:
        save(built, tmp_path)
    assert failed.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
