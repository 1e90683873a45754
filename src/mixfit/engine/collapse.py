"""What the EM loop does when maximum likelihood runs into its singularity.

When a component sits on a single point (or on points that share a value, or a subspace), its
covariance goes singular and the likelihood to infinity (PRML 9.2.1). The M-step notices it one
of two ways: the Cholesky factor of a covariance fails, or (for the repairing policies) the
component's mass N_k falls below ``_MIN_MASS_ROWS`` rows' worth of weight. Then the policy:

raise   (default, as scikit-learn) a CollapsedComponentError naming the component, its mass,
        how many distinct rows it holds, and the fixes;
reseed  restart the component at the row worst explained by the others, among the rows it did
        not hold, with the covariance of the heaviest other component, at most ``_MAX_RESEEDS``
        times per run, then raise;
drop    remove the component, renormalise the weights and go on with K - 1.

Every reseed or drop is kept as an event (component, iteration, action, reason) in the policy's
``events``, for the estimator to record and announce. The M-step of the initial partition goes
through the policy too (iteration 0). The policy is a driver: it may read chunks, it owns no
formula beyond "which row is worst explained".

What a policy asks of the model: ``maximize``, ``accumulate``, ``log_prob_components`` of rows,
``select_stats`` / ``select_params`` (the others of a component) and ``insert_component``; of the
statistics: ``mass`` (K,) and ``weight_sum`` (and ``shift`` / ``first`` before the first M-step);
of the params: ``weights`` (the donor of a reseed is the heaviest). A hidden Markov model's states
meet it through the adapter in ``collapse_hmm.py``; ``Terms`` names the parts in the messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import CollapsedComponentError
from ..kernels.linalg import logsumexp_rows
from ..protocols import Predictor, Repairable
from .starts import nearest_centre

ON_COLLAPSE = ("raise", "reseed", "drop")
# A component holding less than a thousandth of a row's weight explains no data point: its
# mean and covariance are set by the mass floor and reg_covar, not by data, and no later E-step
# can revive it. Measured in mean row weights so that sample weights do not move the threshold.
_MIN_MASS_ROWS = 1e-3
# Reseeding can cycle when the data cannot support K components; after this many reseeds in one
# run the policy gives up and raises.
_MAX_RESEEDS = 10
# Enough distinct rows to tell "one point" from "a subspace" from "plenty" in a message.
_DISTINCT_ROWS_CAP = 64


@dataclass(frozen=True)
class Terms:
    """How the messages name the parts: a mixture's components, their mass and the data rows, or
    an HMM's states, their expected visits and the frames."""

    component: str = "component"
    mass: str = "mass"
    row: str = "row"


MIXTURE_TERMS = Terms()


@dataclass(frozen=True)
class CollapseEvent:
    component: int
    iteration: int
    action: str
    reason: str

    def as_dict(self) -> dict:
        return {"component": self.component, "iteration": self.iteration, "action": self.action,
                "reason": self.reason}


def _owners(model, X, stats, params) -> np.ndarray:
    """The component that holds each row of ``X``: its most probable one under ``params``, or,
    before the first M-step (params None), the nearest of the partition's means."""
    if params is None:
        means = stats.shift + stats.first / np.maximum(stats.mass, np.finfo(np.float64).tiny)[:, None]
        return nearest_centre(X, means)
    return model.log_prob_components(X, params).argmax(axis=1)


def _distinct_rows(model, source, stats, params, component) -> tuple[int, bool]:
    """Distinct rows held by ``component`` (see ``_owners``; count, capped)."""
    seen = set()
    for X, _ in source.chunks():
        owner = _owners(model, X, stats, params)
        seen.update(map(bytes, np.ascontiguousarray(X[owner == component])))
        if len(seen) > _DISTINCT_ROWS_CAP:
            return _DISTINCT_ROWS_CAP, True
    return len(seen), False


def explain_collapse(model, source, stats, params, error: CollapsedComponentError, iteration: int,
                     terms: Terms = MIXTURE_TERMS) -> str:
    k = error.component
    when = "at initialisation" if iteration == 0 else f"at EM iteration {iteration}"
    if k is None:
        what = "the shared covariance"
    else:
        count, capped = _distinct_rows(model, source, stats, params, k)
        rows = f"{'more than ' if capped else ''}{count} distinct {terms.row}{'s' if count != 1 else ''}"
        what = f"{terms.component} {k} ({terms.mass} {stats.mass[k]:.4g}, holding {rows})"
    return (f"{error} Here {what} collapsed {when}. Fixes: increase reg_covar; use the conjugate "
            "prior (prior='default'), which keeps every covariance positive definite; or choose "
            "on_collapse='reseed' or 'drop'.")


def _light_component(stats, n_samples) -> int | None:
    row_weight = stats.weight_sum / n_samples
    light = np.flatnonzero(stats.mass < _MIN_MASS_ROWS * row_weight)
    return int(light[0]) if light.size else None


class RaisePolicy:
    """Raise, with the diagnosis and the fixes in the message."""

    name = "raise"
    requires: tuple = ()  # the protocols a model must meet beyond Model (mixfit.protocols)

    def __init__(self, terms: Terms = MIXTURE_TERMS):
        self.events = []
        self.terms = terms

    def step(self, model, source, stats, params, iteration):
        try:
            return model.maximize(stats, params)
        except CollapsedComponentError as error:
            raise CollapsedComponentError(
                explain_collapse(model, source, stats, params, error, iteration, self.terms), component=error.component
            ) from None


class _RepairingPolicy:
    """Abstract: find a collapsed component, repair it, and retry the M-step until it holds."""

    requires: tuple = (Repairable,)

    def __init__(self, terms: Terms = MIXTURE_TERMS):
        self.events = []
        self.terms = terms

    def step(self, model, source, stats, params, iteration):
        while True:
            k = _light_component(stats, source.n_samples)
            if k is not None:
                reason = f"{self.terms.mass} {stats.mass[k]:.3g} below {_MIN_MASS_ROWS} of a {self.terms.row}"
            else:
                try:
                    return model.maximize(stats, params)
                except CollapsedComponentError as error:
                    if error.component is None or stats.mass.shape[0] == 1:
                        raise CollapsedComponentError(
                            explain_collapse(model, source, stats, params, error, iteration, self.terms),
                            component=error.component,
                        ) from None
                    k, reason = error.component, "covariance not positive definite"
            stats, params = self.repair(model, source, stats, params, k, iteration, reason)
            self.events.append(CollapseEvent(k, iteration, self.name, reason))

    def _others(self, model, stats, params, k):
        """Statistics and params of every component but k (params None before the first M-step)."""
        keep = np.delete(np.arange(stats.mass.shape[0]), k)
        others = model.select_stats(stats, keep)
        return others, None if params is None else model.select_params(params, keep)


class DropPolicy(_RepairingPolicy):
    """Remove the component; the next M-step runs on the others' statistics."""

    name = "drop"

    def repair(self, model, source, stats, params, k, iteration, reason):
        return self._others(model, stats, params, k)


class ReseedPolicy(_RepairingPolicy):
    """Restart the component at the row the other components explain worst."""

    name = "reseed"
    requires = (Repairable, Predictor)

    def repair(self, model, source, stats, params, k, iteration, reason):
        if len(self.events) >= _MAX_RESEEDS:
            part = self.terms.component
            raise CollapsedComponentError(
                f"{part} {k} collapsed again at iteration {iteration} ({reason}) after "
                f"{_MAX_RESEEDS} reseeds; the data may not support this many {part}s. Fixes: "
                f"fewer {part}s, a larger reg_covar, prior='default' or on_collapse='drop'",
                component=k)
        others_stats, others = self._others(model, stats, params, k)
        if others is None:  # before the first M-step: the others' parameters from their statistics
            others = self.step(model, source, others_stats, None, iteration)
        row = self._worst_explained_row(model, source, others, stats, params, k)
        params = model.insert_component(others, k, row, donor=int(np.argmax(others.weights)))
        # Re-take this iteration's statistics under the repaired params, so that the M-step sees
        # a consistent E-step (one extra pass, on the iteration of a repair only).
        return source.map_reduce(lambda X, w: model.accumulate(X, params, w)), params

    @staticmethod
    def _worst_explained_row(model, source, others, stats, params, k):
        """The row the other components explain worst, among the rows component k did not hold.

        Why not among all rows: a component collapses because the rows it holds span less than
        the space (one repeated point, or a subspace: PRML 9.2.1), and those rows are, by
        construction, badly explained by the others. Restarting k on one of them starts it where
        it already collapsed: the next E-step gives it the same rows and the M-step the same
        singular scatter (five copies of one row reseeded ten times, then raised). So the rows k
        held (those whose most probable component was k, the rows the message counts) are left
        out; they stay in the data, and the other components share them in the next E-step. A
        component that collapsed by losing its mass held no row and excludes nothing. Only if k
        held every row does the search fall back to all of them (the next collapse then counts
        towards ``_MAX_RESEEDS``).
        """
        best = {True: (np.inf, None), False: (np.inf, None)}  # keyed by "k did not hold the row"
        for X, w in source.chunks():
            # ln sum_j pi_j N(x | mu_j, Sigma_j) over the other components: how well x is explained
            log_p = logsumexp_rows(model.log_prob_components(X, others))
            if w is not None:
                log_p = np.where(w > 0, log_p, np.inf)
            elsewhere = _owners(model, X, stats, params) != k
            for outside in (True, False):
                candidates = np.where(elsewhere if outside else True, log_p, np.inf)
                i = int(np.argmin(candidates))
                if candidates[i] < best[outside][0]:
                    best[outside] = candidates[i], np.array(X[i])
        return best[True][1] if best[True][1] is not None else best[False][1]


def make_policy(name: str, terms: Terms = MIXTURE_TERMS):
    """A fresh policy object for one run ('raise', 'reseed' or 'drop'); ``terms`` names the parts
    in its messages and events."""
    return {"raise": RaisePolicy, "reseed": ReseedPolicy, "drop": DropPolicy}[name](terms)
