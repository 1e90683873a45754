"""Model files of the HMMs and GaussianMixtureIC: bit-identical round trips, bad files refused."""

import io
import json

import numpy as np
import pytest
from test_io import npy_bytes, read_entries, tampered

import mixfit
from mixfit.datasets import load_faithful
from mixfit.exceptions import ModelFileError

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
LENGTHS = [100, 172]  # faithful's 272 rows as two sequences
NESTED = "arrays/fitted/best_estimator_.fitted."


@pytest.fixture(scope="module")
def X():
    return load_faithful()[0]


@pytest.fixture(scope="module")
def symbols():
    rng = np.random.default_rng(0)
    return rng.choice(4, size=(300, 1), p=[0.1, 0.2, 0.3, 0.4])


@pytest.fixture(scope="module")
def hmm_file(tmp_path_factory, X):
    path = tmp_path_factory.mktemp("io-hmm") / "hmm.mixfit"
    mixfit.GaussianHMM(2, covariance_type="full", random_state=0).fit(X, LENGTHS).save(path)
    return path


@pytest.fixture(scope="module")
def ic(X):
    return mixfit.GaussianMixtureIC(n_components=(1, 2, 3), covariance_types=("full", "diag"), n_init=1,
                                    random_state=0).fit(X)


@pytest.fixture(scope="module")
def ic_file(tmp_path_factory, ic):
    path = tmp_path_factory.mktemp("io-ic") / "ic.mixfit"
    ic.save(path)
    return path


def assert_hmm_identical(loaded, model, X, lengths):
    # Bit-identical, not close: the same arrays through the same code give the same bits.
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    assert loaded.score(X, lengths) == model.score(X, lengths)
    np.testing.assert_array_equal(loaded.predict_proba(X, lengths), model.predict_proba(X, lengths))
    np.testing.assert_array_equal(loaded.predict(X, lengths), model.predict(X, lengths))
    for algorithm in ("viterbi", "map"):
        (lp_loaded, path_loaded), (lp, path) = (m.decode(X, lengths, algorithm) for m in (loaded, model))
        assert lp_loaded == lp
        np.testing.assert_array_equal(path_loaded, path)
    assert loaded.lower_bounds_ == model.lower_bounds_
    assert (loaded.converged_, loaded.n_iter_, loaded.lower_bound_) == (model.converged_, model.n_iter_,
                                                                       model.lower_bound_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_loaded_gaussian_hmm_decodes_bit_identically(covariance_type, X, tmp_path):
    model = mixfit.GaussianHMM(3, covariance_type=covariance_type, random_state=0).fit(X, LENGTHS)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert_hmm_identical(loaded, model, X, LENGTHS)
    np.testing.assert_array_equal(loaded.covariances_, model.covariances_)
    # sample draws from the stored parameters: the same seed gives the same sequence
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])


def test_a_loaded_categorical_hmm_decodes_bit_identically(symbols, tmp_path):
    model = mixfit.CategoricalHMM(2, random_state=0).fit(symbols, [150, 150])
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.n_symbols_ == model.n_symbols_ and loaded.emissionprob_.dtype == np.float64
    assert_hmm_identical(loaded, model, symbols, [150, 150])


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(1)
    return (rng.random((240, 5)) < [0.1, 0.5, 0.9, 0.3, 0.0]).astype(np.int8)  # the last column never on


@pytest.mark.parametrize(("alpha", "beta"), [(None, None), (1.0, 1.0)], ids=["default-prior", "maximum-likelihood"])
def test_a_loaded_bernoulli_hmm_decodes_bit_identically(binary, tmp_path, alpha, beta):
    model = mixfit.BernoulliHMM(2, alpha=alpha, beta=beta, random_state=0).fit(binary, [140, 100])
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert (loaded.alpha_prior_, loaded.beta_prior_) == (model.alpha_prior_, model.beta_prior_)
    assert_hmm_identical(loaded, model, binary, [140, 100])
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])


def test_a_bernoulli_hmm_with_probabilities_outside_the_unit_interval_is_refused(binary, tmp_path):
    source, path = tmp_path / "m.mixfit", tmp_path / "bad.mixfit"
    mixfit.BernoulliHMM(2, random_state=0).fit(binary).save(source)
    tampered(source, path, replace={"arrays/fitted/means_.npy": npy_bytes(np.full((2, 5), 1.5))})
    with pytest.raises(ModelFileError, match="means_ are success probabilities"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["fitted"].update(alpha_prior_=0.5))
    with pytest.raises(ModelFileError, match="alpha_prior_ = 0.5"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["fitted"].pop("beta_prior_"))
    with pytest.raises(ModelFileError, match="beta_prior_"):
        mixfit.load(path)


def test_a_loaded_gaussian_mixture_ic_predicts_bit_identically(ic, ic_file, X):
    loaded = mixfit.load(ic_file)
    assert type(loaded) is mixfit.GaussianMixtureIC and loaded.get_params() == ic.get_params()
    assert (loaded.n_components_, loaded.covariance_type_) == (ic.n_components_, ic.covariance_type_)
    assert type(loaded.best_estimator_) is mixfit.GaussianMixture
    assert loaded.best_estimator_.random_state == ic.best_estimator_.random_state
    np.testing.assert_array_equal(loaded.predict(X), ic.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), ic.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), ic.score_samples(X))
    np.testing.assert_array_equal(loaded.sample(10, random_state=1)[0], ic.sample(10, random_state=1)[0])
    assert loaded.weights_ is loaded.best_estimator_.weights_  # mirrored, as after fit
    # the selection table survives as rows; the best cell holds the best estimator
    assert str(loaded.selection_) == str(ic.selection_)
    assert loaded.selection_.best.estimator is loaded.best_estimator_


def test_a_gaussian_mixture_ic_stores_its_best_arrays_once(ic_file):
    manifest = json.loads(read_entries(ic_file)["model.json"])
    assert "weights_" not in manifest["fitted"]  # taken from best_estimator_ on load
    assert manifest["fitted"]["best_estimator_"]["estimator"] == "GaussianMixture"
    assert isinstance(manifest["fitted"]["selection_"]["table"], list)


def test_float32_stays_float32_in_a_gaussian_mixture_ic(X, tmp_path):
    X32 = X.astype(np.float32)
    model = mixfit.GaussianMixtureIC(n_components=(1, 2), covariance_types="diag", n_init=1,
                                     random_state=0).fit(X32)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.means_.dtype == np.float32
    np.testing.assert_array_equal(loaded.predict_proba(X32), model.predict_proba(X32))


@pytest.mark.parametrize("cls", [mixfit.GaussianHMM, mixfit.CategoricalHMM, mixfit.BernoulliHMM,
                                 mixfit.GaussianMixtureIC])
def test_an_unfitted_model_cannot_be_saved(cls, tmp_path):
    with pytest.raises(mixfit.exceptions.NotFittedError):
        cls().save(tmp_path / "m.mixfit")


# ---- refused files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "array", "message"),
    [
        ("transmat_", np.array([[0.5, 0.6], [0.5, 0.5]]), "transmat_ must sum to 1"),
        ("transmat_", np.array([[1.5, -0.5], [0.5, 0.5]]), "probabilities >= 0"),
        ("startprob_", np.array([0.7, 0.7]), "startprob_ must sum to 1"),
        ("transmat_", np.full((3, 3), 1 / 3), r"transmat_ has shape \(3, 3\)"),
        ("means_", np.zeros((2, 2), dtype=np.float32), "dtype float32"),
        ("precisions_cholesky_", np.zeros((2, 2)), r"precisions_cholesky_ has shape \(2, 2\)"),
        ("precisions_cholesky_", np.zeros((2, 2, 2)), "not a valid precision factor"),
    ],
    ids=["transmat-row-sum", "transmat-negative", "startprob-sum", "transmat-shape", "means-dtype",
         "precision-shape", "precision-singular"],
)
def test_a_tampered_hmm_array_is_refused(hmm_file, tmp_path, entry, array, message):
    path = tmp_path / "bad.mixfit"
    tampered(hmm_file, path, replace={f"arrays/fitted/{entry}.npy": npy_bytes(array)})
    with pytest.raises(ModelFileError, match=message):
        mixfit.load(path)


def test_a_categorical_hmm_with_rows_that_are_not_distributions_is_refused(symbols, tmp_path):
    source, path = tmp_path / "m.mixfit", tmp_path / "bad.mixfit"
    mixfit.CategoricalHMM(2, random_state=0).fit(symbols).save(source)
    tampered(source, path, replace={"arrays/fitted/emissionprob_.npy": npy_bytes(np.full((2, 4), 0.3))})
    with pytest.raises(ModelFileError, match="emissionprob_ must sum to 1"):
        mixfit.load(path)
    tampered(source, path, lambda m: m["fitted"].update(n_symbols_=5))
    with pytest.raises(ModelFileError, match=r"emissionprob_ has shape \(2, 4\)"):
        mixfit.load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["params"].update(covariance_type="diag"), "precisions_cholesky_ has shape"),
        (lambda m: m["params"].update(n_components=3), r"startprob_ has shape \(2,\)"),
        (lambda m: m["fitted"].pop("transmat_"), "transmat_"),
        (lambda m: m.update(estimator="CategoricalHMM"), "missing|unknown hyper-parameters"),
    ],
    ids=["covariance-type-vs-shape", "n-components-vs-shape", "missing-transmat", "other-class"],
)
def test_an_inconsistent_hmm_manifest_is_refused(hmm_file, tmp_path, edit, message):
    path = tmp_path / "bad.mixfit"
    tampered(hmm_file, path, edit)
    with pytest.raises(ModelFileError, match=message):
        mixfit.load(path)


def _nested(manifest) -> dict:
    return manifest["fitted"]["best_estimator_"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: _nested(m).update(estimator="BayesianGaussianMixture"), "must be a GaussianMixture"),
        (lambda m: _nested(m).update(estimator="os.system"), "must be a GaussianMixture"),
        (lambda m: _nested(m).update(params=[1, 2]), "best_estimator_ must be an object"),
        (lambda m: _nested(m)["params"].update(covariance_type="tied"), "best_estimator_: precisions_cholesky_"),
        (lambda m: m["fitted"].update(covariance_type_="spherical"), "the selection says"),
        (lambda m: m["fitted"].update(n_components_=0), "n_components_ = 0"),
        (lambda m: m["fitted"].update(selection_={"table": 3}), "not a selection table"),
        (lambda m: m["fitted"]["selection_"].update(criterion="elbo"),  # higher is better: another cell
         "best cell is not the stored best_estimator_"),
    ],
    ids=["forbidden-nested-class", "unknown-nested-class", "nested-not-an-object", "nested-covariance-type",
         "selected-type-disagrees", "bad-n-components", "bad-table", "table-ranks-another-best"],
)
def test_an_inconsistent_gaussian_mixture_ic_is_refused(ic_file, tmp_path, edit, message):
    path = tmp_path / "bad.mixfit"
    tampered(ic_file, path, edit)
    with pytest.raises(ModelFileError, match=message):
        mixfit.load(path)


def test_a_tampered_nested_array_is_refused(ic_file, tmp_path):
    path = tmp_path / "bad.mixfit"
    weights = np.load(io.BytesIO(read_entries(ic_file)[NESTED + "weights_.npy"]))
    tampered(ic_file, path, replace={NESTED + "weights_.npy": npy_bytes(weights * 2)})
    with pytest.raises(ModelFileError, match="best_estimator_: weights_ .* not a probability distribution"):
        mixfit.load(path)
    tampered(ic_file, path, replace={NESTED + "means_.npy": npy_bytes(np.zeros((7, 2)))})
    with pytest.raises(ModelFileError, match=r"best_estimator_: .*shape"):
        mixfit.load(path)


@pytest.mark.parametrize("kind", ["GaussianHMM", "CategoricalHMM", "BernoulliHMM", "GaussianMixtureIC"])
def test_mixfit_info_reads_the_file(kind, X, symbols, binary, ic_file, hmm_file, tmp_path):
    from test_cli import mixfit_cmd, ok_json

    if kind == "CategoricalHMM":
        path = tmp_path / "m.mixfit"
        mixfit.CategoricalHMM(2, random_state=0).fit(symbols).save(path)
    elif kind == "BernoulliHMM":
        path = tmp_path / "m.mixfit"
        mixfit.BernoulliHMM(2, random_state=0).fit(binary).save(path)
    else:
        path = hmm_file if kind == "GaussianHMM" else ic_file
    model = mixfit.load(path)
    info = ok_json(mixfit_cmd("info", str(path), "--json", cwd=tmp_path))
    assert info["estimator"] == kind
    if kind == "GaussianMixtureIC":
        np.testing.assert_array_equal(info["weights"], model.weights_)
        assert info["covariance_type"] == model.covariance_type_
    else:
        np.testing.assert_array_equal(info["transmat"], model.transmat_)
    text = mixfit_cmd("info", str(path), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert ("selected" if kind == "GaussianMixtureIC" else "transmat") in text.stdout
