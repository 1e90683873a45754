"""Model files of PoissonHMM, MultinomialHMM and GMMHMM: bit-identical round trips, bad files refused."""

import json

import numpy as np
import pytest
from test_io import npy_bytes, tampered
from test_io_hmm import assert_hmm_identical

import mixfit
from mixfit.exceptions import ModelFileError

LENGTHS = [100, 140]


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(4)
    return np.concatenate([rng.poisson([1.0, 5.0, 0.5], (120, 3)), rng.poisson([6.0, 1.0, 2.0], (120, 3))])


@pytest.fixture(scope="module")
def trials():
    rng = np.random.default_rng(5)
    return np.concatenate([rng.multinomial(6, [0.7, 0.2, 0.1], 120), rng.multinomial(6, [0.1, 0.3, 0.6], 120)])


@pytest.mark.parametrize(("prior", "weight"), [(0.0, 0.0), (1.5, 0.5)], ids=["maximum-likelihood", "gamma-prior"])
def test_a_loaded_poisson_hmm_decodes_bit_identically(counts, tmp_path, prior, weight):
    model = mixfit.PoissonHMM(2, lambdas_prior=prior, lambdas_weight=weight, random_state=0).fit(counts, LENGTHS)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert_hmm_identical(loaded, model, counts, LENGTHS)
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])


@pytest.mark.parametrize("n_trials", [None, 6], ids=["own-totals", "given"])
def test_a_loaded_multinomial_hmm_decodes_bit_identically(trials, tmp_path, n_trials):
    model = mixfit.MultinomialHMM(2, n_trials=n_trials, random_state=0).fit(trials, LENGTHS)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.n_trials_ == model.n_trials_ == 6  # every frame has 6 trials
    assert_hmm_identical(loaded, model, trials, LENGTHS)
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])


def test_tampered_count_hmm_files_are_refused(counts, trials, tmp_path):
    source, path = tmp_path / "m.mixfit", tmp_path / "bad.mixfit"
    mixfit.PoissonHMM(2, random_state=0).fit(counts).save(source)
    tampered(source, path, replace={"arrays/fitted/lambdas_.npy": npy_bytes(np.full((2, 3), -1.0))})
    with pytest.raises(ModelFileError, match="lambdas_ are Poisson rates"):
        mixfit.load(path)
    tampered(source, path, replace={"arrays/fitted/lambdas_.npy": npy_bytes(np.ones((2, 4)))})
    with pytest.raises(ModelFileError, match=r"lambdas_ has shape \(2, 4\)"):
        mixfit.load(path)
    mixfit.MultinomialHMM(2, n_trials=6, random_state=0).fit(trials).save(source)
    tampered(source, path, replace={"arrays/fitted/emissionprob_.npy": npy_bytes(np.full((2, 3), 0.5))})
    with pytest.raises(ModelFileError, match="emissionprob_ must sum to 1"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["fitted"].update(n_trials_=0))
    with pytest.raises(ModelFileError, match="n_trials_ = 0"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["fitted"].update(n_trials_=5))
    with pytest.raises(ModelFileError, match="n_trials = 6 but n_trials_ = 5"):
        mixfit.load(path)


@pytest.mark.parametrize("kind", ["PoissonHMM", "MultinomialHMM", "GMMHMM"])
def test_mixfit_info_reads_the_file(kind, counts, trials, tmp_path):
    from test_cli import run  # in process: the subprocess path is test_io_hmm.py's

    path = tmp_path / "m.mixfit"
    data = {"PoissonHMM": counts, "MultinomialHMM": trials, "GMMHMM": counts.astype(float)}[kind]
    getattr(mixfit, kind)(2, random_state=0, tol=1e-2).fit(data).save(path)
    model = mixfit.load(path)
    result = run("info", str(path), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["estimator"] == kind
    np.testing.assert_array_equal(info["transmat"], model.transmat_)
    emission = {"PoissonHMM": "lambdas", "MultinomialHMM": "emissionprob", "GMMHMM": "weights"}[kind]
    np.testing.assert_array_equal(info[emission], getattr(model, f"{emission}_"))
    text = run("info", str(path))
    assert text.exit_code == 0, text.output
    assert "transmat" in text.output


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_a_loaded_gmm_hmm_decodes_bit_identically(covariance_type, tmp_path):
    from mixfit.datasets import load_faithful

    X = load_faithful()[0]
    lengths = [100, 172]
    model = mixfit.GMMHMM(2, 2, covariance_type=covariance_type, random_state=0, tol=1e-2).fit(X, lengths)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert_hmm_identical(loaded, model, X, lengths)
    np.testing.assert_array_equal(loaded.covars_, model.covars_)
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # three iterations: enough to save
def test_tampered_gmm_hmm_files_are_refused(tmp_path):
    X = np.random.default_rng(6).normal(size=(120, 2))
    source, path = tmp_path / "m.mixfit", tmp_path / "bad.mixfit"
    mixfit.GMMHMM(2, 2, covariance_type="full", random_state=0, max_iter=3).fit(X).save(source)
    tampered(source, path, replace={"arrays/fitted/weights_.npy": npy_bytes(np.full((2, 2), 0.7))})
    with pytest.raises(ModelFileError, match="weights_ must sum to 1"):
        mixfit.load(path)
    tampered(source, path, replace={"arrays/fitted/precisions_cholesky_.npy": npy_bytes(np.zeros((2, 2, 2, 2)))})
    with pytest.raises(ModelFileError, match="not a valid precision factor"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["params"].update(covariance_type="diag"))
    with pytest.raises(ModelFileError, match="precisions_cholesky_ has shape"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["params"].update(n_mix=3))
    with pytest.raises(ModelFileError, match=r"weights_ has shape \(2, 2\)"):
        mixfit.load(path)
