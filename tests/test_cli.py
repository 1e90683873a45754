import re

import numpy as np
import pytest

click_testing = pytest.importorskip("click.testing")

from mixfit.cli import cli  # noqa: E402
from mixfit.datasets import load_faithful  # noqa: E402


def run(*args):
    return click_testing.CliRunner().invoke(cli, list(args))


def test_demo_prints_the_faithful_fit_that_sklearn_finds():
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    result = run("demo")
    assert result.exit_code == 0, result.output
    X, _ = load_faithful()
    ref = sklearn_mixture.GaussianMixture(2, random_state=0).fit(X)
    loglik = float(re.search(r"log-likelihood\s+(-?[\d.]+)", result.output).group(1))
    # The printed total log-likelihood has 4 decimals; scikit-learn reaches the same optimum
    # (PRML Fig. 9.8) from its own k-means start, to its tol of 1e-3 per sample.
    assert loglik == pytest.approx(ref.score(X) * X.shape[0], abs=272 * 1e-3)
    for name in ("weight", "mean", "covariance", "BIC", "iterations"):
        assert name in result.output
    weights = sorted(float(w) for w in re.findall(r"weight\s+([\d.]+)", result.output))
    np.testing.assert_allclose(weights, sorted(ref.weights_), atol=1e-3)


def test_a_user_mistake_is_one_line_and_no_traceback():
    result = run("demo", "-k", "0")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "n-components" in result.output
