"""Splits from tensors, torch Datasets and files, and the ensemble on data of a user's own."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from cntgraph import cli
from cntgraph.errors import ConfigurationError
from cntgraph.studies.data import Split, as_split, load_split
from cntgraph.studies.ensemble import run_ensemble


def blobs(n: int, shape: tuple[int, ...], classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples around one centre per class: learnable, so accuracies spread."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    centres = torch.randn(classes, *shape, generator=generator)
    return centres[labels] + 0.5 * torch.randn(n, *shape, generator=generator), labels


def test_a_split_from_tensors_and_from_datasets_holds_the_same_values() -> None:
    x_train, y_train = blobs(30, (1, 6, 6), 3, seed=0)
    x_test, y_test = blobs(9, (1, 6, 6), 3, seed=1)
    from_tensors = as_split((x_train, y_train, x_test, y_test))
    from_datasets = as_split((TensorDataset(x_train, y_train), TensorDataset(x_test, y_test)))
    for split in (from_tensors, from_datasets):
        assert torch.equal(split.x_train, x_train) and torch.equal(split.y_test, y_test)
        assert split.input_shape == (1, 6, 6) and split.classes == 3
    assert as_split(from_tensors) == from_tensors


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ("digits", "data must be a Split, four tensors"),
        ((torch.zeros(3, 2), torch.zeros(3), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long)), "train labels must be class indices"),
        ((torch.zeros(3, 2), torch.zeros(2, dtype=torch.long), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long)), "train data needs inputs"),
        ((torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(1, 5), torch.zeros(1, dtype=torch.long)), "differ in shape"),
    ],
)
def test_bad_data_is_named(data: object, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        as_split(data)  # type: ignore[arg-type]


def test_load_split_reads_a_saved_dict_and_names_what_is_wrong(tmp_path: Path) -> None:
    x, y = blobs(12, (4,), 2, seed=2)
    torch.save({"x_train": x, "y_train": y, "x_test": x[:4], "y_test": y[:4]}, tmp_path / "mine.pt")
    split = load_split(tmp_path / "mine.pt")
    assert torch.equal(split.x_test, x[:4]) and split.classes == 2
    torch.save({"x_train": x}, tmp_path / "short.pt")
    with pytest.raises(ConfigurationError, match="must hold a dict with the tensors x_train, y_train, x_test, y_test"):
        load_split(tmp_path / "short.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a torch file")
    with pytest.raises(ConfigurationError, match="cannot read the data file"):
        load_split(tmp_path / "broken.pt")


def test_the_ensemble_trains_on_a_users_own_data() -> None:
    data = Split(*blobs(60, (2, 7, 7), 4, seed=3), *blobs(20, (2, 7, 7), 4, seed=4))
    result = run_ensemble(size=3, epochs=2, seed=1, architecture="cnn", data=data, bucket_width=1.0, min_members=1,
                          null_draws=0, progress=False)
    ensemble = result.ensemble
    assert (ensemble.input_shape, ensemble.classes) == ((2, 7, 7), 4)
    # input 2x7x7 = 98 units, conv 8x5x5 = 200, conv 16x3x3 = 144, dense 64, 4 classes
    assert ensemble.strengths.query("member == 0 and epoch == 0").groupby("layer").size().tolist() == [98, 200, 144, 64, 4]
    assert ensemble.select([0]).input_shape == (2, 7, 7)


def test_cli_ensemble_reads_a_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = blobs(40, (5,), 3, seed=5)
    torch.save({"x_train": x, "y_train": y, "x_test": x[:10], "y_test": y[:10]}, tmp_path / "mine.pt")
    code = cli.main(["ensemble", "--size", "3", "--epochs", "1", "--bucket-width", "1", "--min-members", "1", "--pooled",
                     "--null-draws", "0", "--data", str(tmp_path / "mine.pt"), "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0 and "40 samples of shape (5,)" in printed and "3 members in" in printed
    assert cli.main(["ensemble", "--size", "2", "--data", str(tmp_path / "none.pt"), "--out", str(tmp_path)]) == 1
    assert "cannot read the data file" in capsys.readouterr().err
