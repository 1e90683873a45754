"""Model files: round trips are bit-identical, and every bad file is refused, none executed."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import mixfit
from mixfit.datasets import load_faithful
from mixfit.exceptions import ModelFileError, NotFittedError
from mixfit.modelfile.io import SCHEMA_VERSION, read_model_file, save

MEANS = "arrays/fitted/means_.npy"
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
ESTIMATORS = {
    "em": lambda ct: mixfit.GaussianMixture(3, covariance_type=ct, random_state=0),
    "vb": lambda ct: mixfit.BayesianGaussianMixture(n_components=3, covariance_type=ct, random_state=0),
    "vb-dirichlet": lambda ct: mixfit.BayesianGaussianMixture(
        n_components=3, covariance_type=ct, random_state=0, weight_concentration_prior_type="dirichlet_distribution"),
    "t": lambda ct: mixfit.StudentMixture(3, covariance_type=ct, random_state=0),
}


@pytest.fixture(scope="module")
def X():
    return load_faithful()[0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, X):
    path = tmp_path_factory.mktemp("io") / "model.mixfit"
    mixfit.GaussianMixture(2, random_state=0).fit(X).save(path)
    return path


def read_entries(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_entries(path, entries: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def npy_bytes(array, allow_pickle=False) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def tampered(source, target, edit_manifest=None, replace=None) -> None:
    """A copy of ``source`` with the manifest edited and entries replaced ({name: bytes})."""
    entries = read_entries(source)
    if edit_manifest is not None:
        manifest = json.loads(entries["model.json"])
        edit_manifest(manifest)
        entries["model.json"] = json.dumps(manifest)
    entries.update(replace or {})
    write_entries(target, entries)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_a_loaded_model_predicts_bit_identically(kind, covariance_type, X, tmp_path):
    model = ESTIMATORS[kind](covariance_type).fit(X)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    # Bit-identical, not close: the same arrays through the same code give the same bits.
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.covariances_, model.covariances_)
    assert loaded.lower_bounds_ == model.lower_bounds_
    assert (loaded.converged_, loaded.n_iter_, loaded.lower_bound_) == (model.converged_, model.n_iter_,
                                                                       model.lower_bound_)


@pytest.mark.parametrize("kind", ["em", "vb", "t"])
def test_float32_stays_float32_through_a_file(kind, X, tmp_path):
    X32 = X.astype(np.float32)
    model = ESTIMATORS[kind]("tied").fit(X32)
    save(model, tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.means_.dtype == np.float32
    np.testing.assert_array_equal(loaded.predict_proba(X32), model.predict_proba(X32))
    np.testing.assert_array_equal(loaded.score_samples(X32), model.score_samples(X32))


def test_hyper_parameter_arrays_metadata_and_bytes_survive(X, tmp_path):
    means_init = np.array([[2.0, 55.0], [4.0, 80.0]])
    model = mixfit.GaussianMixture(2, means_init=means_init, random_state=0).fit(X)
    model.save(tmp_path / "a.mixfit", metadata={"columns": ["eruptions", "waiting"]})
    model.save(tmp_path / "b.mixfit", metadata={"columns": ["eruptions", "waiting"]})
    assert (tmp_path / "a.mixfit").read_bytes() == (tmp_path / "b.mixfit").read_bytes()  # reproducible files
    saved = read_model_file(tmp_path / "a.mixfit")
    np.testing.assert_array_equal(saved.estimator.means_init, means_init)
    assert saved.metadata == {"columns": ["eruptions", "waiting"]}
    assert saved.schema_version == SCHEMA_VERSION
    manifest = json.loads(read_entries(tmp_path / "a.mixfit")["model.json"])
    assert manifest["format"] == "mixfit-model"
    assert "covariances_" not in manifest["fitted"]  # derived from precisions_cholesky_, not stored


def test_an_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        mixfit.GaussianMixture(2).save(tmp_path / "m.mixfit")


def test_a_random_state_object_is_saved_as_none_with_a_warning(X, tmp_path):
    model = mixfit.GaussianMixture(2, random_state=np.random.default_rng(0)).fit(X)
    with pytest.warns(UserWarning, match="random_state"):
        model.save(tmp_path / "m.mixfit")
    assert mixfit.load(tmp_path / "m.mixfit").random_state is None


# ---- refused files ----------------------------------------------------------------------------


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "m.mixfit"
    path.write_bytes(b"weights,means\n0.5,1.0\n")
    with pytest.raises(ModelFileError, match="not a mixfit model file"):
        mixfit.load(path)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_a_truncated_file_is_refused(model_file, tmp_path, fraction):
    data = model_file.read_bytes()
    path = tmp_path / "cut.mixfit"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelFileError):
        mixfit.load(path)


def test_a_corrupted_entry_is_refused(model_file, tmp_path):
    entries = read_entries(model_file)
    original = entries[MEANS]
    corrupted = bytearray(original)
    corrupted[-3] ^= 0xFF  # one flipped byte in the data: the zip's CRC-32 catches it
    path = tmp_path / "bad.mixfit"
    write_entries(path, entries)  # stored uncompressed, so the entry's bytes appear as they are
    path.write_bytes(path.read_bytes().replace(original, bytes(corrupted)))
    with pytest.raises(ModelFileError, match="means_"):
        mixfit.load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(schema_version=SCHEMA_VERSION + 1), "schema version"),
        (lambda m: m.update(schema_version="1"), "schema_version"),
        (lambda m: m.update(format="something-else"), "not a mixfit model file"),
        (lambda m: m.update(estimator="KMeans"), "unknown estimator class 'KMeans'"),
        (lambda m: m["params"].update(covariance_type="tied"), "precisions_cholesky_ has shape"),
        (lambda m: m["params"].update(colour="red"), "unknown hyper-parameters"),
        (lambda m: m["fitted"].pop("means_"), "means_"),
        (lambda m: m["fitted"].update(n_features_in_=3), "shape"),
        (lambda m: m["fitted"].update(__class___="x"), "not fitted attribute names"),
        (lambda m: m["fitted"].update(covariances_=1.0), "not fitted attribute names"),
    ],
    ids=["newer-schema", "schema-not-int", "other-format", "unknown-class", "covariance-type-vs-shape",
         "unknown-param", "missing-array", "wrong-n-features", "dunder-attribute", "derived-attribute"],
)
def test_an_inconsistent_manifest_is_refused(model_file, tmp_path, edit, message):
    path = tmp_path / "bad.mixfit"
    tampered(model_file, path, edit)
    with pytest.raises(ModelFileError, match=message):
        mixfit.load(path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 2)), r"means_ has shape \(3, 2\)"),
        (np.zeros((2, 2), dtype=np.float32), "dtype float32"),
        (np.zeros((2, 2), dtype=np.int64), "must be a float32 or float64"),
        (np.array([[np.nan, 1.0], [2.0, 3.0]]), "NaN"),
    ],
    ids=["shape", "dtype", "integer", "nan"],
)
def test_a_tampered_array_is_refused(model_file, tmp_path, array, message):
    path = tmp_path / "bad.mixfit"
    tampered(model_file, path, replace={MEANS: npy_bytes(array)})
    with pytest.raises(ModelFileError, match=message):
        mixfit.load(path)


def test_weights_that_are_not_a_distribution_are_refused(model_file, tmp_path):
    path = tmp_path / "bad.mixfit"
    tampered(model_file, path, replace={"arrays/fitted/weights_.npy": npy_bytes(np.array([0.5, 0.7]))})
    with pytest.raises(ModelFileError, match="probability distribution"):
        mixfit.load(path)


class _CreatesMarker:
    """Unpickling this opens (creates) a file: proof that a pickle was executed."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_pickle_payload_is_live(tmp_path):
    # The control: the payload used below does execute when something unpickles it.
    marker = tmp_path / "control"
    path = tmp_path / "payload.npy"
    path.write_bytes(npy_bytes(np.array([_CreatesMarker(marker)], dtype=object), allow_pickle=True))
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_an_object_array_is_refused_without_unpickling(model_file, tmp_path):
    marker = tmp_path / "executed"
    payload = npy_bytes(np.array([_CreatesMarker(marker)], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.mixfit"
    tampered(model_file, path, replace={MEANS: payload})
    with pytest.raises(ModelFileError, match="object|refused"):
        mixfit.load(path)
    assert not marker.exists()


def test_a_pickle_entry_is_refused_without_unpickling(model_file, tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.mixfit"
    tampered(model_file, path, replace={"model.pkl": pickle.dumps(_CreatesMarker(marker))})
    with pytest.raises(ModelFileError, match="not named by model.json"):
        mixfit.load(path)
    assert not marker.exists()


def test_a_pickle_named_as_a_hyper_parameter_array_is_refused(model_file, tmp_path):
    marker = tmp_path / "executed"
    payload = npy_bytes(np.array([_CreatesMarker(marker)], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.mixfit"

    def point_means_init_at_payload(manifest):
        manifest["params"]["means_init"] = {"$array": "arrays/params/means_init.npy"}

    tampered(model_file, path, point_means_init_at_payload, replace={"arrays/params/means_init.npy": payload})
    with pytest.raises(ModelFileError, match="refused"):
        mixfit.load(path)
    assert not marker.exists()


def test_feature_names_survive(X, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["eruptions", "waiting"])
    model = mixfit.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.mixfit")
    saved = read_model_file(tmp_path / "m.mixfit")
    assert saved.feature_names == ["eruptions", "waiting"]
    np.testing.assert_array_equal(saved.estimator.feature_names_in_, model.feature_names_in_)
    np.testing.assert_array_equal(saved.estimator.predict_proba(frame), model.predict_proba(frame))


def test_a_map_prior_object_survives(X, tmp_path):
    prior = mixfit.ConjugatePrior(mean_shrinkage=0.1, scale=np.diag([0.1, 30.0]), mean=[3.0, 70.0])
    model = mixfit.GaussianMixture(2, prior=prior, random_state=0).fit(X)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert type(loaded.prior) is mixfit.ConjugatePrior and loaded.prior.mean == [3.0, 70.0]
    np.testing.assert_array_equal(loaded.prior.scale, prior.scale)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    refit = loaded.fit(X)  # the same hyper-parameters give the same fit
    np.testing.assert_array_equal(refit.means_, model.means_)


def test_an_unknown_value_class_is_refused(model_file, tmp_path):
    path = tmp_path / "bad.mixfit"

    def smuggle_an_object(manifest):
        manifest["params"]["prior"] = {"$object": ["os.system", {"command": "touch executed"}]}

    tampered(model_file, path, smuggle_an_object)
    with pytest.raises(ModelFileError, match="unknown value class"):
        mixfit.load(path)


def test_info_describes_a_bernoulli_mixture(tmp_path):
    """`mixfit info` on a BernoulliMixture file: its weights and success probabilities, no covariances."""
    import json
    import subprocess

    from mixfit import BernoulliMixture

    X = (np.random.default_rng(0).random((200, 6)) < 0.5).astype(np.uint8)
    model = BernoulliMixture(2, random_state=0).fit(X)
    path = tmp_path / "b.mixfit"
    model.save(path)
    text = subprocess.run(["mixfit", "info", str(path)], capture_output=True, text=True, check=True).stdout
    assert "P(x_i = 1)" in text and "component 1" in text
    out = json.loads(subprocess.run(["mixfit", "info", str(path), "--json"], capture_output=True, text=True,
                                    check=True).stdout)
    np.testing.assert_allclose(out["means"], model.means_, rtol=1e-12)  # printed with full precision
