"""The fitted attributes every estimator writes the same way at the end of a fit."""


def set_loop_attributes(estimator, result, record) -> None:
    """converged_, n_iter_, lower_bound_, lower_bounds_ from an ``engine.FitResult``, and the
    feature bookkeeping (n_features_in_, feature_names_in_) from the validation ``record``; a
    previous fit's feature names are removed when this fit has none."""
    for name in ("n_steps_", "n_seen_", "running_statistics_", "stream_prior_"):  # partial_fit's (online.py)
        vars(estimator).pop(name, None)  # a fit starts a new stream; partial_fit writes them after this
    estimator.converged_ = result.converged
    estimator.n_iter_ = result.n_iter
    estimator.lower_bound_ = result.lower_bound
    estimator.lower_bounds_ = list(result.lower_bounds)
    set_feature_attributes(estimator, record)


def set_feature_attributes(estimator, record) -> None:
    """n_features_in_ and feature_names_in_ from the validation ``record`` (the clone a fit
    validated X on, so that a fit that fails leaves them as they were); a previous fit's feature
    names are removed when this fit has none."""
    estimator.n_features_in_ = record.n_features_in_
    names = getattr(record, "feature_names_in_", None)
    if names is not None:
        estimator.feature_names_in_ = names
    elif "feature_names_in_" in vars(estimator):
        del estimator.feature_names_in_
