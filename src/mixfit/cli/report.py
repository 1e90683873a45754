"""Text and JSON for the command line: tables, fitted models as JSON-able values, and the demo.

Pure functions of fitted estimators; the click layer (cli.py) prints what they return.
"""

from __future__ import annotations

import numpy as np

from ..engine import criteria


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    indent = "\n" + " " * (width + 4)  # a multi-line value (a matrix) stays in its column
    return "\n".join(f"  {name.ljust(width)}  {value.replace(chr(10), indent)}" for name, value in rows)


def fmt(values) -> str:
    return np.array2string(np.asarray(values), precision=4, suppress_small=True, separator=", ",
                           max_line_width=100)


def jsonable(value):
    """numpy values -> JSON values; non-finite floats -> null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def is_variational(model) -> bool:
    from ..estimators import BayesianGaussianMixture

    return isinstance(model, BayesianGaussianMixture)


def fit_measures(model, X, sample_weight=None) -> dict:
    """The weighted log-likelihood, its mean per unit weight, n and (but for VB) BIC and AIC of
    a fit on X: the convention of ``fit(X, sample_weight)`` and ``select_model``, ln L =
    sum_n w_n ln p(x_n) and n = sum_n w_n (``engine.criteria``); integer weights count as repeated
    rows. VB's ln p(x) is the posterior predictive density, so it gets no BIC or AIC."""
    log_p = np.asarray(model.score_samples(X), dtype=np.float64)  # (n_rows,)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    log_likelihood = float(log_p.sum() if w is None else log_p @ w)
    n = criteria.n_observations(log_p.shape[0], w)
    out = {"log_likelihood": log_likelihood, "n_observations": n, "score": log_likelihood / n}
    if not is_variational(model):
        p = model._n_parameters()  # the model's own count, at the fitted K (as selection/tables.py)
        out.update(bic=float(criteria.bic(log_likelihood, p, n)), aic=float(criteria.aic(log_likelihood, p)))
    return out


def describe(model) -> dict:
    """A fitted estimator as JSON-able values: what ``--json`` prints for a model."""
    out = {
        "estimator": type(model).__name__,
        "params": jsonable(model.get_params(deep=False)),
        "n_features": int(model.n_features_in_),
        "feature_names": jsonable(getattr(model, "feature_names_in_", None)),
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "lower_bound": jsonable(model.lower_bound_),
        **jsonable(fitted_arrays(model)),
    }
    if is_variational(model):
        out["active_components"] = jsonable(model.active_components_)
    return out


def _is_hmm(model) -> bool:
    from ..estimators._hmm_base import _HMMBase

    return isinstance(model, _HMMBase)


def _hmm_emission(model) -> str:
    """'bernoulli', 'poisson', 'mixture', 'categorical' or 'gaussian': what the states emit (EM or VB
    alike; a MultinomialHMM's symbol probabilities read as a CategoricalHMM's)."""
    from ..estimators import GMMHMM, BernoulliHMM, PoissonHMM

    if isinstance(model, GMMHMM):
        return "mixture"
    if isinstance(model, BernoulliHMM):
        return "bernoulli"
    if isinstance(model, PoissonHMM):
        return "poisson"
    return "categorical" if hasattr(model, "emissionprob_") else "gaussian"


def fitted_arrays(model) -> dict:
    """The fitted parameters that describe a model, by the names ``--json`` prints."""
    from ..estimators import BernoulliMixture
    from ..selection import GaussianMixtureIC

    if _is_hmm(model):
        arrays = {"startprob": model.startprob_, "transmat": model.transmat_}
        emission = _hmm_emission(model)
        if emission == "categorical":
            return {**arrays, "emissionprob": model.emissionprob_}
        if emission == "bernoulli":  # means: success probabilities
            return {**arrays, "means": model.means_}
        if emission == "poisson":
            return {**arrays, "lambdas": model.lambdas_}
        if emission == "mixture":
            return {**arrays, "weights": model.weights_, "means": model.means_, "covariances": model.covars_}
        return {**arrays, "means": model.means_, "covariances": model.covariances_}
    if isinstance(model, BernoulliMixture):
        return {"weights": model.weights_, "means": model.means_}  # success probabilities
    arrays = {"weights": model.weights_, "means": model.means_, "covariances": model.covariances_}
    if isinstance(model, GaussianMixtureIC):
        return {"n_components": model.n_components_, "covariance_type": model.covariance_type_, **arrays}
    return arrays


def hmm_text(model) -> str:
    """One small table per hidden state, the transition matrix and the fit summary."""
    from ..plot import full_covariances

    per_state = {"start prob.": model.startprob_}
    emission = _hmm_emission(model)
    if emission == "gaussian":
        per_state.update(mean=model.means_, covariance=full_covariances(model))
    elif emission == "bernoulli":
        per_state["P(x_i = 1)"] = model.means_
    elif emission == "poisson":
        per_state["rate"] = model.lambdas_
    elif emission == "mixture":
        per_state.update(weights=model.weights_, means=model.means_)
    else:
        per_state["emission prob."] = model.emissionprob_
    lines = []
    for k in range(model.startprob_.shape[0]):
        lines += [f"state {k}", table([(name, fmt(values[k])) for name, values in per_state.items()])]
    summary = [("transmat", fmt(model.transmat_)), ("lower bound", f"{model.lower_bound_:.6f}"),
               ("iterations", f"{model.n_iter_}  (converged: {model.converged_})")]
    return "\n".join([*lines, "", table(summary)])


def components_text(model, order=None, truth=None, weight_label="weight") -> list[str]:
    """One small table per component (in ``order``), with the true values beside when given."""
    from ..plot import full_covariances

    covariances = full_covariances(model)
    order = range(len(model.weights_)) if order is None else order
    lines = []
    for rank, k in enumerate(order):
        lines.append(f"component {rank}")
        dof = vars(model).get("degrees_of_freedom_") if type(model).__name__ == "StudentMixture" else None
        rows = [(weight_label, f"{model.weights_[k]:.4f}"), ("mean", fmt(model.means_[k])),
                ("covariance" if dof is None else "scale", fmt(covariances[k]))]
        if dof is not None:  # a t component: its scale matrix and degrees of freedom
            rows.append(("dof", f"{dof[k]:.4g}"))
        if truth is not None:
            rows += [(f"true {weight_label}", f"{truth.weights[rank]:.4f}"), ("true mean", fmt(truth.means[rank])),
                     ("true covar.", fmt(truth.covariances[rank]))]
        lines.append(table(rows))
    return lines


def model_text(model, X=None, sample_weight=None) -> str:
    """The components and the fit summary, as the demo and ``fit`` print them; with X, the
    (weighted) log-likelihood and BIC of ``fit_measures``."""
    from ..estimators import BernoulliMixture
    from ..selection import GaussianMixtureIC

    if _is_hmm(model):
        return hmm_text(model)
    if isinstance(model, BernoulliMixture):
        lines = []
        for k in range(len(model.weights_)):
            lines += [f"component {k}", table([("weight", f"{model.weights_[k]:.4f}"),
                                                ("P(x_i = 1)", fmt(model.means_[k]))])]
        summary = [("lower bound", f"{model.lower_bound_:.6f} per sample ({model.method})"),
                   ("iterations", f"{model.n_iter_}  (converged: {model.converged_})")]
        return "\n".join([*lines, "", table(summary)])
    if isinstance(model, GaussianMixtureIC):
        selected = (f"K = {model.n_components_}, covariance_type = {model.covariance_type_!r} "
                    f"(by {model.criterion.upper()})")
        return "\n".join([table([("selected", selected)]), "",
                          model_text(model.best_estimator_, X, sample_weight)])
    variational = is_variational(model)
    shown = np.flatnonzero(model.active_components_) if variational else np.arange(len(model.weights_))
    order = shown[np.argsort(model.means_[shown, 0], kind="stable")]
    lines = components_text(model, order, weight_label="E[weight]" if variational else "weight")
    summary = []
    if variational:
        summary.append(("active", f"{len(shown)} of {len(model.weights_)} components have E[weight] > 0.01"))
        summary.append(("ELBO", f"{model.lower_bound_:.6f} per sample"))
    measures = None if X is None else fit_measures(model, X, sample_weight)
    per = "per sample" if sample_weight is None else "per unit weight"
    if measures is not None and not variational:
        n = "" if sample_weight is None else f"; n = sum of weights = {measures['n_observations']:.6g}"
        summary.append(("log-likelihood", f"{measures['log_likelihood']:.4f}  ({measures['score']:.6f} {per})"))
        summary.append(("BIC", f"{measures['bic']:.4f}  (-2 ln L + p ln n; lower is better{n})"))
    elif measures is not None:
        summary.append(("ln p(x) mean", f"{measures['score']:.6f}  (posterior predictive, {per})"))
    summary.append(("iterations", f"{model.n_iter_}  (converged: {model.converged_})"))
    return "\n".join([*lines, "", table(summary)])


# ---- the demo ---------------------------------------------------------------------------------


def tutorial_starts():
    """The tutorial's starting point for EM and prior for VB (shared/data/README.md)."""
    em = {"weights_init": np.array([0.4, 0.3, 0.3]),
          "means_init": np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]),
          # the precision of the tutorial's starting covariance [[1, 0.5], [0.5, 1]], in closed form
          "precisions_init": np.tile(np.array([[4.0, -2.0], [-2.0, 4.0]]) / 3, (3, 1, 1))}
    vb = {"weight_concentration_prior_type": "dirichlet_distribution", "weight_concentration_prior": 1.5,
          "mean_precision_prior": 1.5, "degrees_of_freedom_prior": 2.0, "mean_prior": np.array([1.0, 1.0]),
          "covariance_prior": np.eye(2)}  # W_0 = I, so W_0^{-1} = I
    return em, vb


def match_truth(model, truth) -> list[int]:
    """The fitted component matched to each true one (the permutation nearest in the means)."""
    import itertools

    K = len(truth.weights)
    candidates = list(itertools.permutations(range(len(model.weights_)), K))
    cost = [sum(np.sum((model.means_[p[k]] - truth.means[k]) ** 2) for k in range(K)) for p in candidates]
    return list(candidates[int(np.argmin(cost))])


def demo_report(n_components: int = 2, random_state: int = 0, example: str = "faithful") -> tuple[str, dict]:
    """Fit the example by EM (and VB when available); the text, and the fits for the figure."""
    from .. import datasets
    from ..estimators import GaussianMixture

    try:
        from ..estimators import BayesianGaussianMixture
    except ImportError:  # not in this version
        BayesianGaussianMixture = None
    fits = {}
    if example == "faithful":
        X, names = datasets.load_faithful()
        K = n_components or 2
        gm = GaussianMixture(K, random_state=random_state).fit(X)
        title = (f"Old Faithful ({X.shape[0]} eruptions; columns {', '.join(names)}): "
                 f"GaussianMixture(n_components={K}, covariance_type='full') by EM")
        lines = [title, "", model_text(gm, X)]
        fits["EM"] = gm
        if BayesianGaussianMixture is not None:
            # tol bounds the change of the total bound (scikit-learn's rule): at 1e-5 the spare
            # sticks have time to empty, which is what the demo is there to show.
            vb = BayesianGaussianMixture(n_components=6, random_state=random_state, max_iter=500, tol=1e-5).fit(X)
            title = ("BayesianGaussianMixture(n_components=6, weight_concentration_prior_type="
                     "'dirichlet_process', tol=1e-5) by variational Bayes: components the data do not need "
                     "fade away")
            lines += ["", title, "", model_text(vb, X)]
            fits["VB"] = vb
        return "\n".join(lines), {"X": X, "names": names, "fits": fits}
    X, _, truth = datasets.make_tutorial(random_state=random_state)
    K = n_components or 3
    em_start, vb_prior = tutorial_starts()
    gm = GaussianMixture(K, random_state=random_state, **(em_start if K == 3 else {})).fit(X)
    lines = [f"The tutorial's example ({X.shape[0]} points from 3 known components): "
             f"GaussianMixture(n_components={K}) by EM" + (" from the tutorial's start" if K == 3 else "")]
    fits["EM"] = gm
    models = [("EM", gm, "weight")]
    if BayesianGaussianMixture is not None:
        vb = BayesianGaussianMixture(n_components=K, random_state=random_state, max_iter=500, **vb_prior).fit(X)
        fits["VB"] = vb
        models.append(("VB", vb, "E[weight]"))
    for label, model, weight_label in models:
        lines += ["", f"{label}: estimates beside the true parameters" if K == 3 else f"{label}:"]
        if K == 3:
            lines += components_text(model, match_truth(model, truth), truth, weight_label)
        else:
            lines += components_text(model, weight_label=weight_label)
        lines += ["", table([("lower bound", f"{model.lower_bound_:.6f} per sample"),
                              ("iterations", f"{model.n_iter_}  (converged: {model.converged_})")])]
    return "\n".join(lines), {"X": X, "names": ["x1", "x2"], "fits": fits}


def demo_figure(result: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plot import plot_fit

    fits = result["fits"]
    fig, axes = plt.subplots(len(fits), 2, figsize=(11, 4.6 * len(fits)), layout="constrained", squeeze=False)
    for row, (label, model) in zip(axes, fits.items()):
        variational = is_variational(model)
        plot_fit(model, result["X"], axes=row, density=variational, min_weight=0.01 if variational else 0.0,
                 title=f"{label}: {type(model).__name__}")
        for ax in row[:1]:
            ax.set_xlabel(result["names"][0])
            ax.set_ylabel(result["names"][1])
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)

