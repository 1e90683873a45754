"""scikit-learn's own mixture tests, run against mixfit's classes.

The three test files of the installed scikit-learn (sklearn/mixture/tests/) are copied into a
temporary directory, their imports of ``GaussianMixture`` / ``BayesianGaussianMixture`` rewritten
to mixfit's, and run by pytest in a subprocess (both global dtypes, float64 and float32, as
scikit-learn's CI runs them). The bar: every test passes, or is listed below with its reason.
Skipped if the installed scikit-learn ships without its tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn

SOURCE = Path(sklearn.__file__).parent / "mixture" / "tests"
FILES = ("test_gaussian_mixture.py", "test_bayesian_mixture.py", "test_mixture.py")

# Tests of scikit-learn's private machinery, not of the estimators' public behaviour: they call or
# mock methods and functions mixfit does not have (its maths lives in models/ and families/).
SKLEARN_INTERNALS = {
    "test_bayesian_mixture.py::test_compare_covar_type":
        "calls BayesianGaussianMixture._check_parameters / _initialize_parameters / _m_step",
    "test_gaussian_mixture.py::test_gaussian_mixture_precisions_init":
        "calls GaussianMixture._set_parameters with sklearn's internal parameter tuple",
    "test_gaussian_mixture.py::test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters":
        "mocks sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters",
}

# Public behaviour where mixfit differs on purpose or has not matched scikit-learn yet
# (the list docs/differences.md gives).
EXPECTED_FAILURES = {
    "test_gaussian_mixture.py::test_check_weights":
        "scikit-learn's weights_init range message says 'max value <min>, min value <max>' (the two "
        "swapped); mixfit names them in the right order",
    "test_gaussian_mixture.py::test_gaussian_mixture_setting_best_params":
        "a spherical start with precision 1e6 and reg_covar=0 puts one row in component 0: its "
        "variance is a cancellation at rounding level (scikit-learn's arithmetic leaves +3.6e-16, "
        "mixfit's shifted scatter leaves <= 0), and the default on_collapse='raise' raises "
        "CollapsedComponentError where scikit-learn fits",
}

CONFTEST = '''
import numpy as np
import pytest

SKIPS = {skips!r}
XFAILS = {xfails!r}


@pytest.fixture(params=[42])
def global_random_seed(request):  # scikit-learn's default seed (its conftest reads an env var)
    return request.param


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):  # both, as scikit-learn's CI with SKLEARN_RUN_FLOAT32_TESTS=1
    return request.param


def pytest_collection_modifyitems(items):
    for item in items:
        name = item.nodeid.split("[")[0]
        if name in SKIPS:
            item.add_marker(pytest.mark.skip(reason="scikit-learn internals: " + SKIPS[name]))
        elif name in XFAILS:
            item.add_marker(pytest.mark.xfail(reason=XFAILS[name], strict=True))
'''


def rewrite(text: str) -> str:
    text = re.sub(r"^from sklearn\.mixture import ", "from mixfit import ", text, flags=re.MULTILINE)
    # the Bayesian tests borrow RandomData from the Gaussian ones: the copy beside them
    return text.replace("from sklearn.mixture.tests.test_gaussian_mixture import",
                        "from test_gaussian_mixture import")


@pytest.mark.skipif(not all((SOURCE / name).is_file() for name in FILES),
                    reason="the installed scikit-learn ships without its mixture tests")
def test_sklearn_mixture_tests_pass_against_mixfit(tmp_path):
    for name in FILES:
        (tmp_path / name).write_text(rewrite((SOURCE / name).read_text()))
        assert "from mixfit import" in (tmp_path / name).read_text()  # the rewrite took
    (tmp_path / "conftest.py").write_text(CONFTEST.format(skips=SKLEARN_INTERNALS, xfails=EXPECTED_FAILURES))
    mixfit_src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([mixfit_src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEX", "--rootdir", str(tmp_path),
         *FILES],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    # exit 0: every test passed, was skipped as sklearn-internal, or failed as listed (strict xfail:
    # a listed test that passes fails the run, so the list cannot go stale)
    assert done.returncode == 0, report
    summary = done.stdout.strip().splitlines()[-1]
    assert int(re.search(r"(\d+) passed", summary).group(1)) >= 80, summary  # the tests did run
    assert f"{len(EXPECTED_FAILURES)} xfailed" in summary, summary
