"""``mixfit fit DATA --online``: partial_fit over the file's batches, the same steps as in Python."""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

click_testing = pytest.importorskip("click.testing")

import mixfit
from mixfit.cli import cli
from mixfit.datasets import make_tutorial


def run(*args):
    return click_testing.CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_online_fit_is_partial_fit_over_the_batches(suffix, tmp_path):
    X, _, _ = make_tutorial(1002, random_state=4)
    path = tmp_path / f"rows{suffix}"
    if suffix == ".npy":
        np.save(path, X)
    else:
        path.write_text("a,b\n" + "\n".join(f"{float(x)!r},{float(y)!r}" for x, y in X) + "\n")
    out = tmp_path / "model.mixfit"
    result = run("fit", path, "-k", 3, "--online", "--batch-size", 200, "-o", out, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    # 1002 rows in batches of 200: five steps, the last on 202 rows (a tail under K rows is joined)
    assert payload["n_samples"] == 1002 and payload["n_steps"] == 5
    expected = mixfit.GaussianMixture(3, random_state=0)
    for B in (X[:200], X[200:400], X[400:600], X[600:800], X[800:]):
        expected.partial_fit(B)
    # the CSV holds repr() of each float: the same rows, the same steps
    assert_allclose(mixfit.load(out).means_, expected.means_, rtol=1e-12)


def test_online_refuses_stdin():
    result = run("fit", "-", "-k", 2, "--online")
    assert result.exit_code != 0 and "stdin" in result.output
