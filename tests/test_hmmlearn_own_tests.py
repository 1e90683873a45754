"""hmmlearn's own test suite, run against mixfit's HMM classes.

The installed hmmlearn's test files (hmmlearn/tests/) are run by pytest in a subprocess with a
plugin that replaces, before collection, the classes of ``hmmlearn.hmm`` and ``hmmlearn.vhmm``
by mixfit's (the tests reach them as ``hmm.GaussianHMM`` and the like). The bar: every test
passes, is skipped because it tests hmmlearn's private machinery (listed below), or is an
expected failure listed below with its reason (strict: a listed test that passes fails the run).
hmmlearn's own seed is fixed (HMMLEARN_SEED). test_base.py, test_utils.py and
test_kl_divergence.py are left out: they test hmmlearn's base class, helpers and KL formulas,
none of its estimators. Skipped if the installed hmmlearn ships without its tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

hmmlearn = pytest.importorskip("hmmlearn")

SOURCE = Path(hmmlearn.__file__).parent / "tests"
FILES = ("test_gaussian_hmm.py", "test_categorical_hmm.py", "test_gmm_hmm.py", "test_gmm_hmm_multisequence.py",
         "test_gmm_hmm_new.py", "test_multinomial_hmm.py", "test_poisson_hmm.py",
         "test_variational_categorical.py", "test_variational_gaussian.py")
PATCH = {"hmmlearn.hmm": ("GaussianHMM", "CategoricalHMM", "MultinomialHMM", "PoissonHMM", "GMMHMM"),
         "hmmlearn.vhmm": ("VariationalGaussianHMM", "VariationalCategoricalHMM")}

# Tests that call hmmlearn's private methods (``_init``, ``_check_and_set_n_features``,
# ``_compute_*``) rather than its public interface.
HMMLEARN_INTERNALS = {
    'test_gaussian_hmm.py::TestGaussianHMMWithSphericalCovars::test_score_samples_and_decode':
        "calls GaussianHMM._init (hmmlearn's initialiser) before scoring",
    'test_gaussian_hmm.py::TestGaussianHMMWithSphericalCovars::test_fit_too_little_data':
        "calls GaussianHMM._init and expects its log record 'degenerate solution'",
    'test_gaussian_hmm.py::TestGaussianHMMWithDiagonalCovars::test_score_samples_and_decode':
        "calls GaussianHMM._init (hmmlearn's initialiser) before scoring",
    'test_gaussian_hmm.py::TestGaussianHMMWithDiagonalCovars::test_fit_too_little_data':
        "calls GaussianHMM._init and expects its log record 'degenerate solution'",
    'test_gaussian_hmm.py::TestGaussianHMMWithTiedCovars::test_score_samples_and_decode':
        "calls GaussianHMM._init (hmmlearn's initialiser) before scoring",
    'test_gaussian_hmm.py::TestGaussianHMMWithTiedCovars::test_fit_too_little_data':
        "calls GaussianHMM._init and expects its log record 'degenerate solution'",
    'test_gaussian_hmm.py::TestGaussianHMMWithFullCovars::test_score_samples_and_decode':
        "calls GaussianHMM._init (hmmlearn's initialiser) before scoring",
    'test_gaussian_hmm.py::TestGaussianHMMWithFullCovars::test_fit_too_little_data':
        "calls GaussianHMM._init and expects its log record 'degenerate solution'",
    'test_gaussian_hmm.py::TestGaussianHMMWithDiagonalCovars::test_covar_is_writeable':
        'calls GaussianHMM._init',
    'test_categorical_hmm.py::TestCategoricalHMM::test_fit_with_init':
        'calls CategoricalHMM._init',
    'test_categorical_hmm.py::TestCategoricalHMM::test__check_and_set_categorical_n_features':
        'calls CategoricalHMM._check_and_set_n_features',
    'test_gmm_hmm_new.py::TestGMMHMMWithSphericalCovars::test_init':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithSphericalCovars::test_fit_sparse_data':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithDiagCovars::test_init':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithDiagCovars::test_fit_sparse_data':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithTiedCovars::test_init':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithTiedCovars::test_fit_sparse_data':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithFullCovars::test_init':
        'calls GMMHMM._init',
    'test_gmm_hmm_new.py::TestGMMHMMWithFullCovars::test_fit_sparse_data':
        'calls GMMHMM._init',
    'test_multinomial_hmm.py::TestMultinomialHMM::test_fit_with_init':
        'calls MultinomialHMM._init',
    'test_multinomial_hmm.py::TestMultinomialHMM::test__check_and_set_multinomial_n_features_n_trials':
        'calls MultinomialHMM._check_and_set_n_features',
    'test_poisson_hmm.py::TestPoissonHMM::test_fit_with_init':
        'calls PoissonHMM._init',
    'test_variational_gaussian.py::TestFull::test_initialization':
        "assigns the variational posteriors' internal parameters (scale_posterior_ ...) and calls _init",
    'test_variational_gaussian.py::TestFull::test_common_initialization':
        "assigns the variational posteriors' internal parameters and calls _init",
    'test_variational_gaussian.py::TestTied::test_initialization':
        "assigns the variational posteriors' internal parameters (scale_posterior_ ...) and calls _init",
    'test_variational_gaussian.py::TestTied::test_common_initialization':
        "assigns the variational posteriors' internal parameters and calls _init",
    'test_variational_gaussian.py::TestSpherical::test_initialization':
        "assigns the variational posteriors' internal parameters (scale_posterior_ ...) and calls _init",
    'test_variational_gaussian.py::TestSpherical::test_common_initialization':
        "assigns the variational posteriors' internal parameters and calls _init",
    'test_variational_gaussian.py::TestDiagonal::test_initialization':
        "assigns the variational posteriors' internal parameters (scale_posterior_ ...) and calls _init",
    'test_variational_gaussian.py::TestDiagonal::test_common_initialization':
        "assigns the variational posteriors' internal parameters and calls _init",
}

# Public behaviour where mixfit differs on purpose or does not match hmmlearn yet (the list
# docs/differences.md gives).
EXPECTED_FAILURES = {
    'test_variational_categorical.py::TestVariationalCategorical::test_init_incorrect_priors':
        "assigns the variational posterior (startprob_prior_ / startprob_posterior_ ...) before fit and expects a shape error; mixfit's variational fits start from point parameters, and its *_prior_ / *_posterior_ are fitted attributes that fit overwrites",
    'test_variational_categorical.py::TestVariationalCategorical::test_fit_and_compare_with_em':
        "starts the variational fit from an assigned posterior (vi_uniform_startprob_and_transmat); mixfit's variational fits start from point parameters, so the fits differ",
    'test_variational_gaussian.py::TestFull::test_random_fit':
        "repeats one-iteration fits with init_params='' expecting the score to climb; each mixfit fit restarts q from the point means of the previous one (a variational start is point parameters, not the assigned posterior), so it does not climb",
    'test_variational_gaussian.py::TestFull::test_fit_mcgrory_titterington1d':
        "checks the posterior means reached from hmmlearn's own random start; mixfit's fit from the same random_state draws its start differently and ends elsewhere (not investigated further)",
    'test_variational_gaussian.py::TestTied::test_random_fit':
        "repeats one-iteration fits with init_params='' expecting the score to climb; each mixfit fit restarts q from the point means of the previous one (a variational start is point parameters, not the assigned posterior), so it does not climb",
    'test_variational_gaussian.py::TestTied::test_fit_mcgrory_titterington1d':
        "checks the posterior means reached from hmmlearn's own random start; mixfit's fit from the same random_state draws its start differently and ends elsewhere (not investigated further)",
    'test_variational_gaussian.py::TestSpherical::test_random_fit':
        "repeats one-iteration fits with init_params='' expecting the score to climb; each mixfit fit restarts q from the point means of the previous one (a variational start is point parameters, not the assigned posterior), so it does not climb",
    'test_variational_gaussian.py::TestSpherical::test_fit_mcgrory_titterington1d':
        "checks the posterior means reached from hmmlearn's own random start; mixfit's fit from the same random_state draws its start differently and ends elsewhere (not investigated further)",
    'test_variational_gaussian.py::TestDiagonal::test_random_fit':
        "repeats one-iteration fits with init_params='' expecting the score to climb; each mixfit fit restarts q from the point means of the previous one (a variational start is point parameters, not the assigned posterior), so it does not climb",
    'test_variational_gaussian.py::TestDiagonal::test_fit_mcgrory_titterington1d':
        "checks the posterior means reached from hmmlearn's own random start; mixfit's fit from the same random_state draws its start differently and ends elsewhere (not investigated further)",
    'test_gaussian_hmm.py::TestGaussianHMMWithSphericalCovars::test_underflow_from_scaling[scaling]':
        "expects implementation='scaling' to fail (ValueError) on an outlier; mixfit's recursions do not underflow, and 'scaling' gives the same fit as 'log'",
    'test_categorical_hmm.py::TestCategoricalHMM::test_n_features':
        "expects fit to write the number of symbols into the n_features hyper-parameter; mixfit never changes a hyper-parameter in fit (scikit-learn's rule): it is n_symbols_",
    'test_variational_categorical.py::TestVariationalCategorical::test_n_features':
        "expects fit to write the number of symbols into the n_features hyper-parameter; mixfit never changes a hyper-parameter in fit (scikit-learn's rule): it is n_symbols_",
    'test_gmm_hmm_multisequence.py::test_gmmhmm_multi_sequence_fit_invariant_to_sequence_ordering':
        "reads monitor_ before fit to replace it by a subclass; mixfit's monitor_ is a fitted attribute, set by fit (scikit-learn's rule: none in __init__)",
}

# Expected failures whose outcome is rounding noise (either way, by the platform's last bits): not strict.
UNSTABLE: dict = {}

PLUGIN = '''
import importlib

import pytest

import mixfit

for module, names in {patch!r}.items():
    target = importlib.import_module(module)
    for name in names:
        setattr(target, name, getattr(mixfit, name))

SKIPS = {skips!r}
XFAILS = {xfails!r}
UNSTABLE = {unstable!r}


def pytest_collection_modifyitems(items):
    for item in items:
        full = item.path.name + "::" + item.nodeid.split("::", 1)[1]  # with its parameters
        name = full.split("[")[0]
        if name in SKIPS:
            item.add_marker(pytest.mark.skip(reason="hmmlearn internals: " + SKIPS[name]))
        elif name in UNSTABLE:
            item.add_marker(pytest.mark.xfail(reason=UNSTABLE[name], strict=False))
        elif full in XFAILS or name in XFAILS:
            item.add_marker(pytest.mark.xfail(reason=XFAILS.get(full, XFAILS.get(name)), strict=True))
'''


def run_hmmlearn_tests(tmp_path: Path, files=FILES, skips=None, xfails=None) -> subprocess.CompletedProcess:
    """Run hmmlearn's test ``files`` against mixfit's classes; the finished pytest process."""
    (tmp_path / "mixfit_for_hmmlearn.py").write_text(PLUGIN.format(
        patch=PATCH, skips=HMMLEARN_INTERNALS if skips is None else skips,
        xfails=EXPECTED_FAILURES if xfails is None else xfails, unstable=UNSTABLE))
    mixfit_src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "HMMLEARN_SEED": "42",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), mixfit_src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mixfit_for_hmmlearn", "-rfEX",
         "-W", "ignore", "--rootdir", str(tmp_path), *(str(SOURCE / name) for name in files)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not all((SOURCE / name).is_file() for name in FILES),
                    reason="the installed hmmlearn ships without its tests")
def test_hmmlearn_tests_pass_against_mixfit(tmp_path):
    done = run_hmmlearn_tests(tmp_path)
    report = done.stdout[-8000:] + done.stderr[-2000:]
    # exit 0: every test passed, was skipped as hmmlearn-internal or by hmmlearn, or failed as
    # listed (strict xfail: a listed test that passes fails the run, so the list cannot go stale)
    assert done.returncode == 0, report
    summary = done.stdout.strip().splitlines()[-1]
    assert int(re.search(r"(\d+) passed", summary).group(1)) >= 150, summary  # the tests did run
