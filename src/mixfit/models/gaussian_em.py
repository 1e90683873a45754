"""Maximum likelihood for Gaussian mixtures by EM (PRML 9.2.2).

Notation  code          shape            public attribute
pi_k      weights       (K,)             weights_
mu_k      means         (K, D)           means_
P_k       prec_chol     per type         precisions_cholesky_  (Lambda_k = P_k P_k^T)
rho_nk    log_rho       (n, K)           -  ln pi_k + ln N(x_n | mu_k, Sigma_k), in log space
r_nk      resp          (n, K)           -  gamma(z_nk), the responsibilities (9.23)
N_k       stats.mass    (K,)             -  (9.27), with sample weights w_n
g         centre        (D,)             -  sum_k pi_k mu_k, where the E-step centres the chunk

The model is pure: ``accumulate`` is the E-step on one chunk and returns additive statistics,
``maximize`` the M-step from their sum. Nothing here loops over chunks or iterations.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..families.registry import mixture_parameters
from ..kernels.linalg import normalize_log_rows
from ..kernels.scratch import centred, centred_if_complete
from ..protocols import CovarianceFamily, require
from ..stats import GaussianStats, gaussian_statistics
from .missing import dense_factors, observed_log_prob, observed_sums

_LOG_2PI = np.log(2 * np.pi)
# Added to every N_k before dividing, as scikit-learn does, so that an empty component keeps a
# finite mean (its shift) instead of 0/0. It is 10 ulps of 1: invisible for any component that
# holds data, and the collapse policy reports components that fall to it.
_MASS_FLOOR = 10 * np.finfo(np.float64).eps
# The last (model, params) E-step terms (``GaussianEM._terms``), replaced whole.
_REMEMBERED_TERMS: dict = {}


def _has_nan(X) -> bool:
    """Whether any entry of X is NaN: one flat reduction (a chunk of (7281, 32) float64: 34 us,
    where the per-row ``isnan(X).any(axis=1)`` that the missing-value path needs costs 230 us, a
    tenth of the chunk's diag E-step)."""
    return bool(np.isnan(X).any())


def _same_bits(copy: np.ndarray, a: np.ndarray) -> bool:
    """Whether ``a`` holds the bits of ``copy``, the same dtype and shape (terms computed from the
    same bits are the same; a NaN or -0 entry at worst recomputes them). At K = 16, D = 32 the
    three checks of a chunk take ~2 us, against ~9 us for ``np.array_equal``: about 1 % of a
    diag chunk's E-step of 7281 rows."""
    return copy.dtype == a.dtype and copy.shape == a.shape and copy.tobytes() == a.tobytes()


@dataclass(frozen=True, eq=False)
class GaussianParams:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    prec_chol: np.ndarray  # (K, D, D) | (D, D) | (K, D) | (K,)

    def astype(self, dtype) -> GaussianParams:
        return GaussianParams(
            self.weights.astype(dtype, copy=False),
            self.means.astype(dtype, copy=False),
            self.prec_chol.astype(dtype, copy=False),
        )


class GaussianEM:
    """E-step / M-step of a Gaussian mixture; the covariance strategy owns the shape maths."""

    def __init__(self, covariance, reg_covar: float, dtype=np.float64, prior=None, precision=None):
        require(covariance, CovarianceFamily, role="covariance family")
        self.covariance = covariance
        self.reg_covar = reg_covar
        self.dtype = np.dtype(dtype)  # of the data, and so of the params ``maximize`` returns
        # MAP EM: a conjugate.NormalPrecisionPrior and the matching precision-prior strategy
        # (conjugate.make_precision_prior); None for maximum likelihood.
        self.prior = prior
        self.precision = precision

    def log_prob_components(self, X: np.ndarray, params: GaussianParams) -> np.ndarray:
        """ln rho_nk = ln pi_k + ln N(x_n | mu_k, Sigma_k), (n, K): the numerator of (9.23); a row
        with NaN entries: the density of its observed coordinates (models/missing.py)."""
        if not _has_nan(X):
            return self._log_rho(X, params, per_point=True)[0]
        incomplete = np.isnan(X).any(axis=1)
        out = np.empty((X.shape[0], params.weights.shape[0]), dtype=X.dtype)
        if not incomplete.all():
            out[~incomplete] = self._log_rho(X[~incomplete], params, per_point=True)[0]
        means = np.asarray(params.means, dtype=np.float64)
        precision, log_det_half, cov = dense_factors(self.covariance, params.prec_chol, *means.shape)
        out[incomplete] = observed_log_prob(X[incomplete], params.weights, means, precision, log_det_half, cov)
        return out

    def _log_rho(self, X, params: GaussianParams, per_point=False):
        """ln rho (n, K) and the covariance strategy's E-step workspace (or None); ``per_point``:
        the values are returned to the user, not only summed into a fit (see
        ``expanded_forms.PACKED_FIT_LIMIT``)."""
        centre, means_c, constant = self._terms(params, X.shape[1])
        # constant_k - 1/2 (x_n - mu_k)^T Lambda_k (x_n - mu_k), and the strategy's workspace
        return self.covariance.log_kernel(centred(X, centre), means_c, params.prec_chol, centre, constant, per_point)

    def _terms(self, params: GaussianParams, n_features: int):
        """The centre g (D,), the means about it (K, D) and the constants (K,) of ln rho under
        ``params``: the same for every chunk of a pass, so remembered for the last params (held
        weakly, as ``kernels.expanded.remembered_plan``): at K = 2048, D = 60 they cost a tenth
        of a 300-row chunk's E-step, and the same arrays let the family find its remembered
        coefficients by identity."""
        last = _REMEMBERED_TERMS.get("last")
        if (last is not None and last[0]() is self and last[1]() is params and last[2] == n_features
                and _same_bits(last[4], params.means) and _same_bits(last[5], params.weights)
                and _same_bits(last[6], params.prec_chol)):
            return last[3]  # (the same values too: a caller may have written into the arrays)
        centre = params.weights @ params.means  # (D,) g: keeps the stacked products small
        log_det_half = self.covariance.log_det_half(params.prec_chol, n_features)  # (K,) ln|Lambda_k|^(1/2)
        # ln N = -D/2 ln 2pi + 1/2 ln|Lambda_k| - 1/2 (x - mu_k)^T Lambda_k (x - mu_k)   (2.43)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 is an impossible component
            constant = np.log(params.weights) + (log_det_half - 0.5 * n_features * _LOG_2PI)  # (K,)
        terms = (centre, params.means - centre, constant)
        _REMEMBERED_TERMS["last"] = (weakref.ref(self), weakref.ref(params), n_features, terms,
                                     np.array(params.means), np.array(params.weights), np.array(params.prec_chol))
        return terms

    def accumulate(self, X, params: GaussianParams, sample_weight) -> GaussianStats:
        """E-step on one chunk: responsibilities (9.23), then their weighted moments. Rows with
        NaN entries (missing at random) take the observed-data E-step of models/missing.py; a
        chunk without any takes the complete-data path unchanged."""
        centre, means_c, constant = self._terms(params, X.shape[1])
        # constant_k - 1/2 (x_n - mu_k)^T Lambda_k (x_n - mu_k), (n, K), and the strategy's workspace;
        # a family that forms its features from the rows as given centres them in the same pass
        from_rows = getattr(self.covariance, "log_kernel_rows", None)
        if from_rows is not None:
            kernel = from_rows(X, means_c, params.prec_chol, centre, constant)  # None: a row has NaN entries
        else:
            Xc = centred_if_complete(X, centre)  # (n, D) x_n - g; None: a row has NaN entries
            kernel = None if Xc is None else self.covariance.log_kernel(Xc, means_c, params.prec_chol, centre,
                                                                        constant, False)
        if kernel is None:
            return self._accumulate_missing(X, params, sample_weight, np.isnan(X).any(axis=1))
        log_rho, workspace = kernel
        # (9.23) r_nk = rho_nk / sum_j rho_nj, and ln p(x_n) = ln sum_j rho_nj, exponentiating once
        resp, log_norm = normalize_log_rows(log_rho)
        return gaussian_statistics(self.covariance, X, resp, sample_weight, params.means, log_norm, workspace)

    def _accumulate_missing(self, X, params: GaussianParams, sample_weight, incomplete) -> GaussianStats:
        """The chunk's statistics: complete rows by the family's kernel, the others by the
        observed-data E-step, whose completed rows and conditional covariances enter the same
        sums (the expected complete-data statistics), so ``maximize`` is unchanged."""
        total = None
        n_incomplete = int(np.count_nonzero(incomplete))
        if 2 * n_incomplete >= incomplete.size:
            # most rows have holes: the few complete ones are a pattern with nothing missing for the
            # observed-data path (the same numbers up to rounding), which spares their own kernel
            # pass and two row copies (at 20 % MCAR, D = 16: 11 % of the chunk's time)
            rows, kept = slice(None), X
        else:
            complete = ~incomplete
            w = None if sample_weight is None else sample_weight[complete]
            total = self.accumulate(X[complete], params, w)
            rows = np.flatnonzero(incomplete)
            kept = X[rows]
        w = None if sample_weight is None else np.asarray(sample_weight[rows], dtype=np.float64)
        means = np.asarray(params.means, dtype=np.float64)
        precision, log_det_half, cov = dense_factors(self.covariance, params.prec_chol, *means.shape)
        # (9.23) over the observed coordinates; the moments about mu_k, the complete rows' shift c_k
        wresp, log_norm, first, dense = observed_sums(kept, w, params.weights, means, precision,
                                                      log_det_half, cov)
        missing = GaussianStats(
            shift=np.asarray(params.means, dtype=np.float64),
            mass=wresp.sum(axis=0),
            first=first,
            scatter=self.covariance.fold_scatter(dense),
            log_norm=float(log_norm.sum()) if w is None else float(log_norm @ w),
            weight_sum=float(kept.shape[0]) if w is None else float(w.sum()),
        )
        return missing if total is None else total + missing

    def statistics(self, X, resp, sample_weight, shift, log_norm=None) -> GaussianStats:
        return gaussian_statistics(self.covariance, X, resp, sample_weight, shift, log_norm)

    def maximize(self, stats: GaussianStats, params: GaussianParams | None) -> GaussianParams:
        """M-step from summed statistics (needs no previous params); float64 maths, returned in
        the data's dtype."""
        mass = stats.mass + _MASS_FLOOR
        weights = mass / mass.sum()  # (9.26): N_k / N
        cov = self.covariance.from_moments(stats, mass)  # (9.25) about the new means
        if self.prior is None:
            cov = self.covariance.add_ridge(cov, self.reg_covar)  # Sigma_k + reg_covar I
            means = stats.shift + stats.first / mass[:, None]  # (9.24), in the shifted form c_k + d_k
            prec_chol = self.covariance.precision_chol(cov)
        else:
            # MAP: the posterior mode of the family's conjugate prior, ridge included
            # (families/conjugate_map.py; mclust_priors.py for the constrained families)
            means, prec_chol = self.precision.mode(self.prior, stats, mass, cov, self.reg_covar)
        return GaussianParams(weights, means, prec_chol).astype(self.dtype)

    def log_prior(self, params: GaussianParams) -> float:
        """ln p(mu, Sigma) at the params, as the family's prior defines it."""
        return self.precision.log_prior(self.prior, params.means.astype(np.float64),
                                        params.prec_chol.astype(np.float64))

    def select_stats(self, stats: GaussianStats, keep) -> GaussianStats:
        """The statistics of components ``keep`` only (for dropping a collapsed component)."""
        return GaussianStats(stats.shift[keep], stats.mass[keep], stats.first[keep],
                             self.covariance.select(stats.scatter, keep), stats.log_norm, stats.weight_sum)

    def select_params(self, params: GaussianParams, keep) -> GaussianParams:
        """The params of components ``keep`` only, the weights renormalised."""
        weights = params.weights[keep]
        return GaussianParams(weights / weights.sum(), params.means[keep],
                              self.covariance.select(params.prec_chol, keep))

    def insert_component(self, params: GaussianParams, k: int, row, donor: int) -> GaussianParams:
        """A new component at position k: mean ``row``, the covariance of component ``donor``, the
        average weight 1/K; the weights renormalised."""
        n_components = params.weights.shape[0] + 1
        weights = np.insert(params.weights, k, 1.0 / n_components)
        row = np.asarray(row, dtype=np.float64)
        row = np.where(np.isnan(row), params.means[donor], row)  # a missing entry: the donor's mean
        means = np.insert(params.means, k, row, axis=0)
        prec_chol = self.covariance.insert_copy(params.prec_chol, k, donor)
        return GaussianParams(weights / weights.sum(), means, prec_chol)

    def objective(self, stats: GaussianStats, params: GaussianParams) -> float:
        """The weighted log-likelihood (9.28) of the params the statistics were taken under; with
        a prior, the log posterior (up to the evidence): that plus ``log_prior``."""
        if self.prior is None:
            return stats.log_norm
        return stats.log_norm + self.log_prior(params)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters: K - 1 weights, K D means, and the covariance's own."""
        return mixture_parameters(self.covariance, n_components, n_features)
