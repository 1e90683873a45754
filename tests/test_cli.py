import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

click_testing = pytest.importorskip("click.testing")

import mixfit
from mixfit.cli import cli
from mixfit.datasets import load_faithful


def run(*args):
    return click_testing.CliRunner().invoke(cli, list(args))


def test_demo_prints_the_faithful_fit_that_sklearn_finds(tmp_path, monkeypatch):
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    monkeypatch.chdir(tmp_path)  # the demo writes its figure to the working directory
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


# ---- the installed entry point, in a subprocess ------------------------------------------------

_SCRIPT = Path(sys.executable).with_name("mixfit")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mixfit.cli"]


def start(args, cwd, stdin_text=None):
    process = subprocess.Popen([*COMMAND, *args], cwd=cwd, text=True, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, stdin_text


def finish(started):
    process, stdin_text = started
    stdout, stderr = process.communicate(stdin_text, timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def mixfit_cmd(*args, cwd, stdin_text=None):
    return finish(start(list(args), cwd, stdin_text))


def ok_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def faithful():
    X, names = load_faithful()
    return X, names


@pytest.fixture(scope="module")
def work(tmp_path_factory, faithful):
    """A directory of data files (good and bad) and one EM model fitted by the command line."""
    X, names = faithful
    d = tmp_path_factory.mktemp("cli")
    np.savetxt(d / "faithful.csv", X, delimiter=",", header=",".join(names), comments="", fmt="%.17g")
    np.savetxt(d / "faithful.tsv", X, delimiter="\t", fmt="%.17g")
    np.save(d / "faithful.npy", X)
    weights = np.arange(X.shape[0]) % 3  # integer weights, some zero
    np.savetxt(d / "weighted.csv", np.column_stack([X, weights]), delimiter=",", header="eruptions,waiting,w",
               comments="", fmt="%.17g")
    (d / "words.csv").write_text("eruptions,waiting\n3.6,79\n1.8,fast\n")
    (d / "missing.csv").write_text("eruptions,waiting\n3.6,79\n1.8,inf\n2.0,60\n")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (d / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (d / "not-a-model.mixfit").write_text("hello\n")
    fitted = mixfit_cmd("fit", "faithful.csv", "-k", "2", "--seed", "0", "-o", "em.mixfit", "--json", cwd=d)
    return d, ok_json(fitted), fitted


def test_fit_prints_and_saves_the_library_s_own_fit(work, faithful):
    d, printed, _ = work
    X, names = faithful
    ref = mixfit.GaussianMixture(2, random_state=0).fit(X)
    # The same data through the same code; JSON floats round-trip exactly, but BLAS in another
    # process may sum in another order (alignment, threads): rounding only, hence rtol 1e-12.
    np.testing.assert_allclose(printed["weights"], ref.weights_, rtol=1e-12)
    np.testing.assert_allclose(printed["means"], ref.means_, rtol=1e-12)
    np.testing.assert_allclose(printed["covariances"], ref.covariances_, rtol=1e-12)
    np.testing.assert_allclose([printed["bic"], printed["score"]], [ref.bic(X), ref.score(X)], rtol=1e-12)
    assert printed["columns"] == names and printed["n_iter"] == ref.n_iter_
    loaded = mixfit.load(d / "em.mixfit")
    np.testing.assert_array_equal(loaded.predict_proba(X), ref.predict_proba(X))


def test_vb_fit_of_a_headerless_tsv(work, faithful):
    d, _, _ = work
    X, _ = faithful
    printed = ok_json(mixfit_cmd("fit", "faithful.tsv", "--no-header", "-k", "4", "--method", "vb",
                                 "--covariance", "diag", "-o", "vb.mixfit", "--json", cwd=d))
    ref = mixfit.BayesianGaussianMixture(n_components=4, covariance_type="diag", random_state=0,
                                         max_iter=500).fit(X)
    assert printed["estimator"] == "BayesianGaussianMixture" and printed["columns"] == ["x1", "x2"]
    np.testing.assert_allclose(printed["weights"], ref.weights_, rtol=1e-12)  # rounding only, as above
    assert printed["active_components"] == ref.active_components_.tolist()
    assert "bic" not in printed


def test_fit_from_stdin_with_columns_and_sample_weight(work, faithful):
    d, _, _ = work
    X, _ = faithful
    text = (d / "weighted.csv").read_text()
    printed = ok_json(mixfit_cmd("fit", "-", "-k", "2", "--columns", "waiting,eruptions", "--sample-weight", "w",
                                 "-o", "w.mixfit", "--json", cwd=d, stdin_text=text))
    ref = mixfit.GaussianMixture(2, random_state=0).fit(X[:, ::-1], sample_weight=np.arange(X.shape[0]) % 3)
    assert printed["columns"] == ["waiting", "eruptions"]
    np.testing.assert_allclose(printed["means"], ref.means_, rtol=1e-12)  # rounding only, as above


def test_prior_maps_to_the_default_map_prior(work, faithful):
    d, _, _ = work
    X, _ = faithful
    printed = ok_json(mixfit_cmd("fit", "faithful.csv", "-k", "2", "--prior", "-o", "map.mixfit", "--json", cwd=d))
    ref = mixfit.GaussianMixture(2, prior="default", random_state=0).fit(X)
    assert printed["params"]["prior"] == "default"
    np.testing.assert_allclose(printed["means"], ref.means_, rtol=1e-12)  # rounding only, as above


def test_fit_takes_mclust_family_names(work, faithful):
    """--covariance takes mclust's fourteen names: the library's fit of that family, written with
    its decomposition; a family without VB's conjugate prior is one line, no traceback."""
    d, _, _ = work
    X, _ = faithful
    printed = ok_json(mixfit_cmd("fit", "faithful.csv", "-k", "3", "--covariance", "VEV", "-o", "vev.mixfit",
                                 "--json", cwd=d))
    ref = mixfit.GaussianMixture(3, covariance_type="VEV", random_state=0).fit(X)
    np.testing.assert_allclose(printed["means"], ref.means_, rtol=1e-12)  # rounding only, as above
    np.testing.assert_allclose(mixfit.load(d / "vev.mixfit").volumes_, ref.volumes_, rtol=1e-12)
    result = run("fit", str(d / "faithful.csv"), "-k", "3", "--covariance", "EVE", "--method", "vb")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "covariance_type='EVE'" in result.output


def test_predict_labels_and_probabilities(work, faithful):
    d, _, _ = work
    X, _ = faithful
    model = mixfit.load(d / "em.mixfit")
    printed = ok_json(mixfit_cmd("predict", "em.mixfit", "faithful.npy", "--json", cwd=d))
    assert printed["labels"] == model.predict(X).tolist()
    result = mixfit_cmd("predict", "em.mixfit", "faithful.csv", "--proba", "-o", "proba.csv", cwd=d)
    assert result.returncode == 0, result.stderr
    lines = (d / "proba.csv").read_text().splitlines()
    assert lines[0] == "p0,p1"
    # Written with 10 significant digits.
    np.testing.assert_allclose(np.loadtxt(lines[1:], delimiter=","), model.predict_proba(X), rtol=1e-9, atol=1e-300)


def test_score_and_info(work, faithful):
    d, _, _ = work
    X, names = faithful
    model = mixfit.load(d / "em.mixfit")
    scored = ok_json(mixfit_cmd("score", "em.mixfit", "faithful.csv", "--json", cwd=d))
    assert scored["score"] == model.score(X) and scored["bic"] == model.bic(X) and scored["n_samples"] == 272
    info = ok_json(mixfit_cmd("info", "em.mixfit", "--json", cwd=d))
    assert info["estimator"] == "GaussianMixture" and info["schema_version"] == mixfit.modelfile.io.SCHEMA_VERSION
    assert info["metadata"]["columns"] == names
    np.testing.assert_array_equal(info["weights"], model.weights_)


def test_plot_writes_a_png(work):
    d, _, _ = work
    result = mixfit_cmd("plot", "em.mixfit", "faithful.csv", "-o", "fig.png", cwd=d)
    assert result.returncode == 0, result.stderr
    assert (d / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_of_the_tutorial_prints_true_parameters_and_a_figure(tmp_path):
    result = mixfit_cmd("demo", "--example", "tutorial", "--out", "tutorial.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("true mean") == 6  # 3 components, EM and VB
    assert (tmp_path / "tutorial.png").read_bytes()[:4] == b"\x89PNG"
    assert "tutorial.png" in result.stdout


def test_progress_bar_on_request_and_silent_when_not_a_terminal(work):
    d, _, silent = work
    assert silent.stderr == ""  # the fixture's fit: stderr is a pipe, so no bar
    shown = mixfit_cmd("fit", "faithful.csv", "-k", "2", "-o", "p.mixfit", "--progress", cwd=d)
    assert shown.returncode == 0 and "em fit" in shown.stderr


ERRORS = {
    # id: (arguments, exit status, words the one line must contain)
    "missing-file": (["fit", "nowhere.csv", "-k", "2"], 1, "nowhere.csv: no such file"),
    "unreadable-csv": (["fit", "binary.csv", "-k", "2"], 1, "binary.csv"),
    "ragged-csv": (["fit", "ragged.csv", "-k", "1"], 1, "line 3"),
    "non-numeric": (["fit", "words.csv", "-k", "1"], 1, "column 'waiting': 'fast' is not a number"),
    "inf": (["fit", "missing.csv", "-k", "1"], 1, "infinity"),
    "unknown-column": (["fit", "faithful.csv", "-k", "2", "--columns", "speed"], 1, "no column 'speed'"),
    "unknown-option": (["fit", "faithful.csv", "-k", "2", "--colour"], 2, "No such option"),
    "bad-choice": (["fit", "faithful.csv", "-k", "2", "--covariance", "round"], 2, "--covariance"),
    "prior-with-vb": (["fit", "faithful.csv", "-k", "2", "--method", "vb", "--prior"], 2, "--prior"),
    "bad-model-file": (["info", "not-a-model.mixfit"], 1, "not a mixfit model file"),
    "wrong-columns": (["predict", "em.mixfit", "weighted.csv", "--columns", "w"], 1, "fitted on 2"),
}


# Each mistake runs in process (fast); a sample of them also through the installed script.
THROUGH_THE_SCRIPT = ["missing-file", "inf", "unknown-option", "bad-model-file"]


def assert_one_line(exit_code, stdout, stderr, status, words):
    assert exit_code == status, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mixfit: error: "), stderr
    assert words in lines[0]


@pytest.fixture(scope="module")
def error_runs(work):
    d, _, _ = work
    started = {name: start(ERRORS[name][0], d) for name in THROUGH_THE_SCRIPT}  # side by side
    return {name: finish(process) for name, process in started.items()}


@pytest.mark.parametrize("case", THROUGH_THE_SCRIPT)
def test_a_mistake_is_one_line_and_an_exit_status(error_runs, case):
    _, status, words = ERRORS[case]
    result = error_runs[case]
    assert_one_line(result.returncode, result.stdout, result.stderr, status, words)


@pytest.mark.parametrize("case", list(ERRORS))
def test_every_mistake_is_one_line_and_an_exit_status(work, monkeypatch, case):
    d, _, _ = work
    args, status, words = ERRORS[case]
    monkeypatch.chdir(d)
    result = click_testing.CliRunner().invoke(cli, args)
    assert_one_line(result.exit_code, result.stdout, result.stderr, status, words)


def test_debug_shows_the_traceback(work):
    d, _, _ = work
    result = mixfit_cmd("fit", "nowhere.csv", "-k", "2", "--debug", cwd=d)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and result.stderr.strip().endswith("nowhere.csv: no such file")


def test_select_prints_the_library_s_table_and_draws_it(tmp_path):
    pytest.importorskip("matplotlib")
    X, _ = load_faithful()
    path = tmp_path / "faithful.npy"
    np.save(path, X)
    result = run("select", str(path), "-k", "1:3", "--covariance", "full,tied", "--json", "--plot",
                 str(tmp_path / "bic.png"))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    ours = mixfit.select_model(X, [1, 2, 3], ("full", "tied"), random_state=0)
    assert payload["best"]["n_components"] == ours.best.n_components
    assert [row["bic"] for row in payload["table"]] == pytest.approx([c.criterion for c in ours.cells])
    assert (tmp_path / "bic.png").stat().st_size > 0
    text = run("select", str(path), "-k", "1,2", "--covariance", "diag", "--mclust-sign")
    assert text.exit_code == 0 and "mclust sign: higher is better" in text.output


def test_select_rejects_a_bad_range_and_a_criterion_of_the_other_method(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, load_faithful()[0])
    for args in (["-k", "a:b"], ["-k", "0:3"], ["--criterion", "elbo"], ["--covariance", "round"]):
        result = run("select", str(path), *args)
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output


# ---- drop-in fidelity (issue 22) ---------------------------------------------------------------


def printed_number(name, output):
    return float(re.search(rf"^\s*{name}\s+(-?[\d.]+)", output, re.MULTILINE).group(1))


def test_a_weighted_fit_prints_the_bic_of_the_repeated_rows(work, faithful, monkeypatch):
    d, _, _ = work
    X, names = faithful
    w = np.arange(X.shape[0]) % 3  # weighted.csv's integer weights, some zero
    repeated = np.repeat(X, w, axis=0)
    np.savetxt(d / "repeated.csv", repeated, delimiter=",", header=",".join(names), comments="", fmt="%.17g")
    monkeypatch.chdir(d)
    weighted = run("fit", "weighted.csv", "-k", "2", "--sample-weight", "w", "-o", "w2.mixfit")
    copies = run("fit", "repeated.csv", "-k", "2", "-o", "r2.mixfit")
    assert weighted.exit_code == 0 and copies.exit_code == 0, weighted.output + copies.output
    # 'kmeans' is a weight-exact start (docs/differences.md), so both fits take the same steps and
    # differ by rounding only; the text has 4 decimals.
    for name in ("log-likelihood", "BIC"):
        assert printed_number(name, weighted.output) == pytest.approx(printed_number(name, copies.output), abs=2e-4)
    as_json = json.loads(run("fit", "weighted.csv", "-k", "2", "--sample-weight", "w", "-o", "w2.mixfit",
                             "--json").output)
    model = mixfit.load(d / "w2.mixfit")
    # The oracle, from the saved model: ln L = sum_n w_n ln p(x_n) and n = sum_n w_n, which is
    # the estimator's own bic/aic on the repeated rows (rounding only: the sums run in another order).
    assert as_json["n_observations"] == w.sum() and as_json["n_samples"] == X.shape[0]
    np.testing.assert_allclose([as_json["bic"], as_json["aic"], as_json["score"]],
                               [model.bic(repeated), model.aic(repeated), model.score(repeated)], rtol=1e-12)


def test_fit_takes_every_start_of_the_library(work, faithful, monkeypatch):
    d, _, _ = work
    X, _ = faithful
    monkeypatch.chdir(d)
    result = run("fit", "faithful.csv", "-k", "2", "--init", "hierarchical", "-o", "h.mixfit", "--json")
    assert result.exit_code == 0, result.output
    ref = mixfit.GaussianMixture(2, init_params="hierarchical", random_state=0).fit(X)
    np.testing.assert_allclose(json.loads(result.output)["means"], ref.means_, rtol=1e-12)  # rounding only
    help_text = run("fit", "--help").output
    for method in mixfit.engine.starts.INIT_METHODS:
        assert method in help_text


@pytest.mark.parametrize("n_init", [1, 3], ids=["one-run", "three-runs"])
def test_the_iteration_bar_ends_full_when_a_fit_converges_early(faithful, n_init):
    pytest.importorskip("tqdm")
    from mixfit.selection.progress import iteration_bar

    X, _ = faithful
    drawn = io.StringIO()
    with iteration_bar(True, 100, n_init, "em fit", file=drawn) as bar:
        gm = mixfit.GaussianMixture(2, n_init=n_init, random_state=0).fit(X)
    assert gm.n_iter_ < 100  # converged early: the case the bar used to leave short
    assert bar.total == 100 * n_init and bar.n == bar.total
    last_drawn = drawn.getvalue().rstrip("\r ").rsplit("\r", 1)[-1]  # before the blank that clears it
    assert "100%|" in last_drawn and f"{bar.total}/{bar.total}" in last_drawn
