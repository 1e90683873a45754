"""The commands that fit, predict, score, plot and describe a model: ``mixfit demo|fit|predict|score|plot|info``."""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np

from ..engine.starts import INIT_METHODS
from ..families.registry import COVARIANCE_TYPES, MCLUST_MODEL_NAMES
from ..selection.progress import iteration_bar
from .app import _common, _data_options, _emit, _has_matplotlib, _load, _read, _warnings_to_stderr, cli, click
from .datafile import features_for, select_columns, split_names
from .report import (
    demo_figure,
    demo_report,
    describe,
    fit_measures,
    is_variational,
    jsonable,
    model_text,
    table,
)


def _same(a, b) -> bool:
    try:
        return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b
    except (TypeError, ValueError):
        return False


if click is not None:

    @cli.command()
    @click.option("--example", type=click.Choice(["faithful", "tutorial"]), default="faithful", show_default=True,
                  help="Old Faithful (embedded), or the tutorial's 3-component example with known parameters.")
    @click.option("-k", "--n-components", default=None, type=click.IntRange(1, 272),
                  help="Components of the EM fit [default: 2 for faithful, 3 for tutorial].")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(0, None))
    @click.option("--out", default="mixfit-demo.png", show_default=True, type=click.Path(dir_okay=False),
                  help="Where to write the figure.")
    @click.option("--no-figure", is_flag=True, help="Print the tables only.")
    @_common()
    def demo(example, n_components, seed, out, no_figure, as_json, quiet):
        """Fit an embedded example by EM and VB, print the fits and draw them."""
        text, result = demo_report(n_components, seed, example)
        figure = None
        note = None
        if no_figure:
            pass
        elif not _has_matplotlib():
            note = "figure skipped: matplotlib is not installed (pip install 'mixfit[cli]')"
        else:
            demo_figure(result, out, "Old Faithful" if example == "faithful" else "The tutorial's example")
            figure = out
            note = f"figure written to {os.path.abspath(out)}"
        if as_json:
            _emit(True, {"example": example, "figure": figure,
                         "fits": {label: describe(m) for label, m in result["fits"].items()}}, "")
        else:
            click.echo(text)
        if note and not (quiet and figure):
            click.echo(f"\n{note}" if not as_json else note, err=as_json)

    @cli.command()
    @click.argument("data")
    @click.option("-k", "--n-components", required=True, type=click.IntRange(1, None),
                  help="Number of components (for VB: the most it may use).")
    @click.option("--method", type=click.Choice(["em", "vb"]), default="em", show_default=True)
    @click.option("--model", "component_model", type=click.Choice(["gaussian", "t"]), default="gaussian",
                  show_default=True, help="Gaussian components, or multivariate Student-t (robust to outliers; EM).")
    @click.option("--covariance", "covariance_type", type=click.Choice(COVARIANCE_TYPES + MCLUST_MODEL_NAMES),
                  default="full", show_default=True)
    @click.option("--prior", is_flag=True, help="EM with the default conjugate prior (MAP).")
    @click.option("--sample-weight", metavar="COLUMN", help="A column of non-negative row weights.")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(0, None))
    @click.option("--n-init", default=1, show_default=True, type=click.IntRange(1, None))
    @click.option("--max-iter", default=None, type=click.IntRange(0, None),
                  help="[default: 100 for EM, 500 for VB]")
    @click.option("--tol", default=1e-3, show_default=True, type=click.FloatRange(0, None))
    @click.option("--init", "init_params", type=click.Choice(INIT_METHODS), default="kmeans", show_default=True,
                  help="The start of each run (GaussianMixture's init_params).")
    @click.option("-o", "--output", default="model.mixfit", show_default=True, type=click.Path(dir_okay=False),
                  help="The model file to write.")
    @click.option("--progress/--no-progress", default=None,
                  help="Show a progress bar [default: when stderr is a terminal].")
    @click.option("--online", is_flag=True, help="Read DATA in batches, one partial_fit step each (constant memory).")
    @click.option("--batch-size", default=10000, show_default=True, type=click.IntRange(1, None),
                  help="Rows per batch with --online.")
    @_data_options
    @_common()
    def fit(data, n_components, method, component_model, covariance_type, prior, sample_weight, seed, n_init,
            max_iter, tol, init_params, output, progress, online, batch_size, no_header, columns, as_json, quiet):
        """Fit a Gaussian (or Student-t) mixture to DATA and save it as a model file."""
        from ..estimators import BayesianGaussianMixture, GaussianMixture, StudentMixture

        options = {"n_components": n_components, "covariance_type": covariance_type, "tol": tol, "n_init": n_init,
                   "init_params": init_params, "random_state": seed}
        if component_model == "t":
            if online:
                raise click.UsageError("--online fits a Gaussian mixture (partial_fit); --model t has no online "
                                       "update yet: drop one of them")
            if method != "em":
                raise click.UsageError("--model t is fitted by EM (maximum likelihood, or MAP with --prior): use "
                                       "it with --method em")
            options["max_iter"] = 100 if max_iter is None else max_iter
            model = StudentMixture(**options, **({"prior": "default"} if prior else {}))
        elif method == "em":
            options["max_iter"] = 100 if max_iter is None else max_iter
            if prior:
                if "prior" not in GaussianMixture().get_params():
                    raise click.UsageError("--prior needs GaussianMixture(prior=...), which this version of mixfit "
                                           "does not have yet")
                options["prior"] = "default"
            model = GaussianMixture(**options)
        else:
            if prior:
                raise click.UsageError("--prior applies to --method em; variational Bayes always has a prior")
            options["max_iter"] = 500 if max_iter is None else max_iter
            model = BayesianGaussianMixture(**options)
        if online:
            return _fit_online(model, data, batch_size, no_header, columns, sample_weight, progress, output,
                               as_json, quiet)
        table = _read(data, no_header, missing=True)  # empty cells / NA: missing values (GaussianMixture)
        X, names = select_columns(table, split_names(columns), exclude=(sample_weight,))
        weights = None if sample_weight is None else select_columns(table, [sample_weight])[0][:, 0]
        show = (not quiet and sys.stderr.isatty()) if progress is None else progress
        with _warnings_to_stderr(quiet), iteration_bar(show, options["max_iter"], n_init, f"{method} fit"):
            model.fit(X, sample_weight=weights)
        model.save(output, metadata={"columns": names, "sample_weight": sample_weight, "data": data})
        # ln L, score, BIC and AIC weighted, n = sum of weights: the fit's and select_model's convention
        payload = {"model": output, "columns": names, "n_samples": int(X.shape[0]), **describe(model),
                   **fit_measures(model, X, weights)}
        title = (f"{type(model).__name__}(n_components={n_components}, covariance_type='{covariance_type}') "
                 f"on {X.shape[0]} rows of {', '.join(names)}")
        text = "\n".join([title, "", model_text(model, X, weights), "", f"model written to {output}"])
        _emit(as_json, payload, text)

    def _fit_online(model, data, batch_size, no_header, columns, sample_weight, progress, output, as_json, quiet):
        from .online_command import fit_online

        show = (not quiet and sys.stderr.isatty()) if progress is None else progress
        with _warnings_to_stderr(quiet):
            names, n_rows = fit_online(model, data, batch_size, False if no_header else None, columns,
                                       sample_weight, show, click)
        model.save(output, metadata={"columns": names, "sample_weight": sample_weight, "data": data})
        payload = {"model": output, "columns": names, "n_samples": n_rows, "online": True,
                   "n_steps": int(model.n_steps_), "batch_size": batch_size, **describe(model)}
        title = (f"{type(model).__name__}(n_components={model.n_components}, covariance_type="
                 f"'{model.covariance_type}') online on {n_rows} rows of {', '.join(names)}, "
                 f"{model.n_steps_} steps of {batch_size} rows")
        _emit(as_json, payload, "\n".join([title, "", model_text(model), "", f"model written to {output}"]))

    @cli.command()
    @click.argument("model_file", metavar="MODEL")
    @click.argument("data")
    @click.option("--proba", is_flag=True, help="Write p(k | x) per component instead of the label.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
    @_data_options
    @_common()
    def predict(model_file, data, proba, output, no_header, columns, as_json, quiet):
        """Label each row of DATA with its most probable component (CSV, or JSON with --json)."""
        saved = _load(model_file)
        model = saved.estimator
        X, _ = features_for(model, _read(data, no_header, missing=True), split_names(columns),
                            saved.metadata.get("columns"))
        labels = model.predict(X)
        if as_json:
            payload = {"labels": labels} if not proba else {"labels": labels, "proba": model.predict_proba(X)}
            text = json.dumps(jsonable(payload))
        else:
            buffer = io.StringIO()
            if proba:
                K = len(model.weights_)
                np.savetxt(buffer, model.predict_proba(X), fmt="%.10g", delimiter=",",
                           header=",".join(f"p{k}" for k in range(K)), comments="")
            else:
                np.savetxt(buffer, labels, fmt="%d", header="component", comments="")
            text = buffer.getvalue().rstrip("\n")
        if output is None:
            click.echo(text)
        else:
            with open(output, "w") as stream:
                stream.write(text + "\n")
            if not quiet:
                click.echo(f"{X.shape[0]} rows written to {output}", err=True)

    @cli.command()
    @click.argument("model_file", metavar="MODEL")
    @click.argument("data")
    @_data_options
    @_common()
    def score(model_file, data, no_header, columns, as_json, quiet):
        """The mean log density of DATA under MODEL (and BIC/AIC for an EM fit)."""
        saved = _load(model_file)
        model = saved.estimator
        X, _ = features_for(model, _read(data, no_header, missing=True), split_names(columns),
                            saved.metadata.get("columns"))
        mean = model.score(X)
        payload = {"n_samples": int(X.shape[0]), "score": mean, "total": mean * X.shape[0]}
        rows = [("rows", str(X.shape[0])), ("mean ln p(x)", f"{mean:.6f}"), ("total ln p(x)", f"{mean * X.shape[0]:.4f}")]
        if not is_variational(model):
            payload.update(bic=model.bic(X), aic=model.aic(X))
            rows += [("BIC", f"{payload['bic']:.4f}"), ("AIC", f"{payload['aic']:.4f}")]
        _emit(as_json, payload, table(rows))

    @cli.command()
    @click.argument("model_file", metavar="MODEL")
    @click.argument("data")
    @click.option("-o", "--output", default="mixfit-plot.png", show_default=True, type=click.Path(dir_okay=False))
    @click.option("--features", metavar="A,B", help="The two features to draw [default: the two, or the first "
                  "two principal axes when there are more].")
    @_data_options
    @_common(json_flag=False)
    def plot(model_file, data, output, features, no_header, columns, quiet):
        """Draw MODEL over DATA: ellipses, uncertainty, convergence (the VB density, a t fit's outliers)."""
        if not _has_matplotlib():
            raise click.ClickException("mixfit plot needs matplotlib: pip install 'mixfit[plot]'")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..estimators import StudentMixture
        from ..plot import plot_fit

        saved = _load(model_file)
        model = saved.estimator
        X, names = features_for(model, _read(data, no_header), split_names(columns), saved.metadata.get("columns"))
        chosen = split_names(features)
        if chosen is not None:
            if len(chosen) != 2 or not all(n in names for n in chosen):
                raise click.BadParameter(f"expected two of {', '.join(names)}", param_hint="--features")
            chosen = [names.index(n) for n in chosen]
        variational = is_variational(model)
        with _warnings_to_stderr(quiet):
            fig = plot_fit(model, X, features=chosen, uncertainty=True, outliers=isinstance(model, StudentMixture),
                           density=variational and X.shape[1] == 2, min_weight=0.01 if variational else 0.0,
                           title=f"{type(model).__name__} ({os.path.basename(model_file)})")
            if X.shape[1] == 2 or chosen is not None:
                labels = names if chosen is None else [names[i] for i in chosen]
                for ax in fig.axes[:2]:
                    ax.set_xlabel(labels[0])
                    ax.set_ylabel(labels[1])
            fig.savefig(output, dpi=110)
        plt.close(fig)
        if not quiet:
            click.echo(f"figure written to {os.path.abspath(output)}")

    @cli.command()
    @click.argument("model_file", metavar="MODEL")
    @_common()
    def info(model_file, as_json, quiet):
        """What a model file holds: the estimator, its parameters and its fit."""
        saved = _load(model_file)
        model = saved.estimator
        payload = {"file": model_file, "schema_version": saved.schema_version, "mixfit_version": saved.mixfit_version,
                   "metadata": saved.metadata, **describe(model)}
        params = model.get_params(deep=False)
        defaults = type(model)().get_params(deep=False)
        changed = {k: v for k, v in params.items() if not _same(v, defaults.get(k))}
        columns = saved.metadata.get("columns") or saved.feature_names
        head = [("file", model_file), ("estimator", type(model).__name__),
                ("written by", f"mixfit {saved.mixfit_version} (schema version {saved.schema_version})"),
                ("parameters", ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "(defaults)"),
                ("features", f"{model.n_features_in_}" + (f" ({', '.join(map(str, columns))})" if columns else ""))]
        _emit(as_json, payload, "\n".join([table(head), "", model_text(model)]))
