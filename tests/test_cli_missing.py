"""The command line with missing values (issue 18 item 6): ``mixfit fit`` reads empty / NA cells as
missing, ``mixfit impute`` fills them; the library's results are the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

click_testing = pytest.importorskip("click.testing")

import mixfit
from mixfit.cli import cli


def run(*args):
    return click_testing.CliRunner().invoke(cli, list(args))


def _table(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 150),
                   rng.multivariate_normal([5, 5], [[1, -0.6], [-0.6, 1]], 150)])
    holed = X.copy()
    holed[::7, 0] = np.nan
    rows = np.arange(3, X.shape[0], 11)
    holed[rows[~np.isnan(holed[rows, 0])], 1] = np.nan  # never both cells of a row
    lines = ["a,b"]
    for n, (a, b) in enumerate(holed):
        marker = ["", "NA", "nan"][n % 3]
        lines.append(f"{marker if np.isnan(a) else repr(float(a))},{marker if np.isnan(b) else repr(float(b))}")
    path = tmp_path / "holed.csv"
    path.write_text("\n".join(lines) + "\n")
    return holed, path


def test_fit_reads_missing_cells_and_impute_fills_them(tmp_path):
    holed, path = _table(tmp_path)
    model = tmp_path / "m.mixfit"
    result = run("fit", str(path), "-k", "2", "--seed", "0", "-o", str(model), "--json")
    assert result.exit_code == 0, result.output
    ours = mixfit.GaussianMixture(2, random_state=0).fit(holed)
    loaded = mixfit.load(model)
    np.testing.assert_allclose(loaded.means_, ours.means_, rtol=1e-12)  # the library's fit of the NaN table
    out = tmp_path / "filled.csv"
    result = run("impute", str(model), str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    filled = np.loadtxt(out, delimiter=",", skiprows=1)
    expected = mixfit.GaussianMixtureImputer.from_mixture(ours).transform(holed)
    np.testing.assert_allclose(filled, expected, rtol=1e-9)  # %.10g in the CSV
    assert not np.isnan(filled).any()
    payload = json.loads(run("impute", str(model), str(path), "--json").output)
    assert payload["n_filled"] == int(np.isnan(holed).sum())


def test_impute_from_an_imputer_model_file_and_sampling_is_seeded(tmp_path):
    holed, path = _table(tmp_path)
    model = tmp_path / "imp.mixfit"
    mixfit.GaussianMixtureImputer(2, random_state=0).fit(holed).save(model)
    a = run("impute", str(model), str(path), "--sample", "--seed", "3")
    b = run("impute", str(model), str(path), "--sample", "--seed", "3")
    mean = run("impute", str(model), str(path))
    assert a.exit_code == 0 and a.output == b.output and a.output != mean.output


def test_user_mistakes_are_one_line_errors(tmp_path):
    _, path = _table(tmp_path)
    vb = tmp_path / "vb.mixfit"
    result = run("fit", str(path), "-k", "2", "--method", "vb", "-o", str(vb))  # VB takes missing cells too
    assert result.exit_code == 0 and np.isfinite(mixfit.load(vb).score_samples(_table(tmp_path)[0])).all()
    inf = tmp_path / "inf.csv"
    inf.write_text("a,b\n1,inf\n2,3\n")
    result = run("fit", str(inf), "-k", "1", "-o", str(tmp_path / "x.mixfit"))
    assert result.exit_code != 0 and "Traceback" not in result.output
    complete = tmp_path / "c.csv"
    complete.write_text("a,b\n" + "\n".join(f"{i},{i % 5}" for i in range(40)) + "\n")
    bern = tmp_path / "b.mixfit"
    mixfit.BernoulliMixture(2, random_state=0).fit((np.arange(80).reshape(40, 2) % 3 > 0).astype(float)).save(bern)
    result = run("impute", str(bern), str(complete))
    assert result.exit_code != 0 and "GaussianMixture" in result.output and "Traceback" not in result.output
