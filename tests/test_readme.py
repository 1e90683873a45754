"""README's Python examples run as written, so that they cannot rot (issue 22: an example passed
``n_components`` positionally to the keyword-only ``BayesianGaussianMixture``).

The ```python blocks run in order in one namespace, as a reader would paste them, on the data
they name: ``X`` (Old Faithful), ``w`` (integer weights), ``X_binary`` and ``lengths``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mixfit.datasets import load_faithful

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)


def reader_namespace() -> dict:
    X, _ = load_faithful()
    return {
        "X": X,
        "w": np.arange(X.shape[0]) % 3 + 1,  # integer weights, as the README's sample_weight
        # (272, 12) 0/1 rows: enough distinct rows for BernoulliMixture(10)'s k-means start
        "X_binary": (np.random.default_rng(0).random((X.shape[0], 12)) < 0.3).astype(np.float64),
        "lengths": [100, X.shape[0] - 100],  # two sequences of the rows in order
    }


def test_the_readme_has_python_examples():
    # the extraction itself: a change of fence style must not leave the next test running nothing
    assert len(BLOCKS) >= 3 and any("BayesianGaussianMixture(" in block for block in BLOCKS)


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the model-file example writes faithful.mixfit here
    namespace = reader_namespace()
    for number, block in enumerate(BLOCKS):
        # The traceback names the block by this file name; running the README's code is the point.
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)  # noqa: S102


# README (and GaussianMixture.fit's sample_weight entry) name the starts that are weight-exact.
WEIGHT_EXACT = {"kmeans": True, "k-means++": True, "random": False, "random_from_data": False,
                "hierarchical": False, "mclust": False, "kmeans_subsample": True}


def test_the_readme_lists_every_start():
    from mixfit.engine.starts import INIT_METHODS

    assert set(WEIGHT_EXACT) == set(INIT_METHODS)
    text = " ".join(README.read_text().split())
    for method in INIT_METHODS:
        assert f"`'{method}'`" in text


@pytest.mark.parametrize("init_params", list(WEIGHT_EXACT))
def test_integer_weights_are_repeated_rows_from_the_weight_exact_starts(init_params):
    from mixfit import GaussianMixture

    rng = np.random.default_rng(5)  # four overlapping blobs, where a start that is not exact shows
    X = rng.normal(size=(300, 2)) @ np.array([[1.0, 0.3], [0.0, 0.5]]) + rng.integers(0, 4, (300, 1)) * 1.5
    w = rng.integers(0, 6, X.shape[0])  # zero weights too
    starts = [GaussianMixture(3, init_params=init_params, random_state=0, max_iter=0).fit(data, sample_weight=weights)
              for data, weights in ((X, w), (np.repeat(X, w, axis=0), None))]
    # max_iter=0: the start itself, as parameters; EM's steps are weight-exact for any start.
    # Same partition, so the means differ by summation order only (rounding, 1e-12 of the data's
    # scale of about 5); a different start moves a mean by a large fraction of a blob's spread.
    exact = np.allclose(starts[0].means_, starts[1].means_, rtol=0, atol=1e-12)
    assert exact == WEIGHT_EXACT[init_params]
