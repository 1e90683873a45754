"""README's Python examples run as written, so that they cannot rot (issue 22: an example passed
``n_components`` positionally to the keyword-only ``BayesianGaussianMixture``).

The ```python blocks run in order in one namespace, as a reader would paste them, on the data
they name: ``X`` (Old Faithful), ``w`` (integer weights), ``X_binary`` and ``lengths``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

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
