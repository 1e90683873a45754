"""Model files of the variational HMMs: bit-identical round trips, warm start after load, bad
files refused."""

import warnings

import numpy as np
import pytest
from test_io import npy_bytes, tampered
from test_io_hmm import assert_hmm_identical

import mixfit
from mixfit.datasets import load_faithful
from mixfit.exceptions import ConvergenceWarning, ModelFileError

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
LENGTHS = [100, 172]  # faithful's 272 rows as two sequences


@pytest.fixture(scope="module")
def X():
    return load_faithful()[0]


@pytest.fixture(scope="module")
def symbols():
    rng = np.random.default_rng(0)
    return rng.choice(4, size=(300, 1), p=[0.1, 0.2, 0.3, 0.4])


@pytest.fixture(scope="module")
def gaussian_file(tmp_path_factory, X):
    path = tmp_path_factory.mktemp("io-vhmm") / "vhmm.mixfit"
    transmat = np.array([[0.9, 0.1], [0.0, 1.0]])  # a forbidden transition: stored as a 0 concentration
    mixfit.VariationalGaussianHMM(2, transmat_init=transmat, random_state=0).fit(X, LENGTHS).save(path)
    return path


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_loaded_variational_gaussian_hmm_decodes_bit_identically(covariance_type, X, tmp_path):
    model = mixfit.VariationalGaussianHMM(3, covariance_type=covariance_type, random_state=0).fit(X, LENGTHS)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert_hmm_identical(loaded, model, X, LENGTHS)
    for name in ("covariances_", "scale_posterior_", "transmat_posterior_", "startprob_posterior_",
                 "beta_posterior_", "dof_posterior_", "means_prior_", "scale_prior_", "transmat_prior_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name), err_msg=name)
    assert (loaded.beta_prior_, loaded.dof_prior_) == (model.beta_prior_, model.dof_prior_)
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])


def test_a_loaded_variational_categorical_hmm_decodes_bit_identically(symbols, tmp_path):
    model = mixfit.VariationalCategoricalHMM(2, random_state=0).fit(symbols, [150, 150])
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.n_symbols_ == model.n_symbols_
    np.testing.assert_array_equal(loaded.emissionprob_posterior_, model.emissionprob_posterior_)
    np.testing.assert_array_equal(loaded.emissionprob_prior_, model.emissionprob_prior_)
    assert_hmm_identical(loaded, model, symbols, [150, 150])


def test_a_loaded_model_continues_its_fit_by_warm_start(gaussian_file, X):
    loaded, again = mixfit.load(gaussian_file), mixfit.load(gaussian_file)
    assert loaded.transmat_posterior_[1, 0] == 0  # the forbidden transition is in the file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loaded.set_params(warm_start=True, max_iter=3, tol=0).fit(X, LENGTHS)
        again.set_params(warm_start=True, max_iter=3, tol=0).fit(X, LENGTHS)
    np.testing.assert_array_equal(loaded.means_, again.means_)  # deterministic from the stored q
    assert loaded.transmat_[1, 0] == 0
    # the bound of a converged fit's continuation moves by less than its tol per frame
    assert abs(loaded.lower_bounds_[0] - mixfit.load(gaussian_file).lower_bound_) < 1e-4


@pytest.mark.parametrize(
    ("entry", "array", "message"),
    [
        ("transmat_posterior_", np.array([[1.0, -1.0], [0.0, 2.0]]), "transmat_posterior_ holds Dirichlet"),
        ("startprob_posterior_", np.zeros(2), "startprob_posterior_ holds Dirichlet"),
        ("transmat_posterior_", np.array([[3.0, 1.0], [1.0, 2.0]]), "disagree on which entries are forbidden"),
        ("beta_posterior_", np.array([1.0, -2.0]), "beta_posterior_ and dof_posterior_ must be positive"),
        ("scale_prior_", np.eye(3), r"scale_prior_ has shape \(3, 3\)"),
        ("dof_posterior_", np.ones(3), r"dof_posterior_ has shape \(3,\)"),
    ],
    ids=["negative-concentration", "empty-start", "support-disagrees", "beta-negative", "scale-prior-shape",
         "dof-shape"],
)
def test_a_tampered_variational_hmm_is_refused(gaussian_file, tmp_path, entry, array, message):
    path = tmp_path / "bad.mixfit"
    tampered(gaussian_file, path, replace={f"arrays/fitted/{entry}.npy": npy_bytes(array)})
    with pytest.raises(ModelFileError, match=message):
        mixfit.load(path)


def test_a_categorical_file_without_its_posterior_is_refused(symbols, tmp_path):
    source, path = tmp_path / "m.mixfit", tmp_path / "bad.mixfit"
    mixfit.VariationalCategoricalHMM(2, random_state=0).fit(symbols).save(source)
    tampered(source, path, lambda m: m["fitted"].pop("emissionprob_posterior_"))
    with pytest.raises(ModelFileError, match="emissionprob_posterior_"):
        mixfit.load(path)
    tampered(source, path, replace={"arrays/fitted/emissionprob_prior_.npy": npy_bytes(np.full((2, 4), -1.0))})
    with pytest.raises(ModelFileError, match="emissionprob_prior_ holds Dirichlet"):
        mixfit.load(path)


@pytest.mark.parametrize("cls", [mixfit.VariationalGaussianHMM, mixfit.VariationalCategoricalHMM])
def test_an_unfitted_model_cannot_be_saved(cls, tmp_path):
    with pytest.raises(mixfit.exceptions.NotFittedError):
        cls().save(tmp_path / "m.mixfit")


@pytest.mark.parametrize("kind", ["VariationalGaussianHMM", "VariationalCategoricalHMM"])
def test_mixfit_info_reads_the_file(kind, gaussian_file, symbols, tmp_path):
    """``mixfit info`` prints a variational HMM's posterior-mean parameters, as text and JSON."""
    from test_cli import mixfit_cmd, ok_json

    if kind == "VariationalGaussianHMM":
        path = gaussian_file
    else:
        path = tmp_path / "m.mixfit"
        mixfit.VariationalCategoricalHMM(2, random_state=0).fit(symbols).save(path)
    model = mixfit.load(path)
    info = ok_json(mixfit_cmd("info", str(path), "--json", cwd=tmp_path))
    assert info["estimator"] == kind
    np.testing.assert_array_equal(info["transmat"], model.transmat_)
    if kind == "VariationalGaussianHMM":
        np.testing.assert_array_equal(info["covariances"], model.covariances_)
    else:
        np.testing.assert_array_equal(info["emissionprob"], model.emissionprob_)
    text = mixfit_cmd("info", str(path), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "transmat" in text.stdout and "state 1" in text.stdout
