"""VariationalCategoricalHMM: variational Bayes for a hidden Markov model with categorical
emissions, on the shared variational HMM of hmm_vb.py (names as hmmlearn's ``hmmlearn.vhmm``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..models.hmm_emissions import CategoricalEmission
from ..models.hmm_vb import CategoricalVBEmission
from ._hmm_base import check_stochastic
from .hmm import CategoricalHMM, _highest_symbol
from .hmm_vb import _VariationalHMMBase, check_concentration
from .validation import INTEGER_AT_LEAST_1, LOOP_HYPERPARAMETERS, check_hyperparameters, check_option


class VariationalCategoricalHMM(_VariationalHMMBase):
    """Hidden Markov model with categorical emissions (symbols 0..M-1), fitted by variational Bayes.

    q(pi), each q(A_j) and each state's emission row q(B_k) are Dirichlet. X is a column
    (n_samples, 1) of integer symbols, as ``CategoricalHMM``.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : as ``VariationalGaussianHMM`` (default 1 / n_components)
    emissionprob_prior : float > 0 or array (n_components, n_symbols) >= 0, default=None (1 / n_symbols)
        Dirichlet concentration of each p(B_k); a 0 forbids that symbol in that state.
    n_symbols : int or None
        M (hmmlearn's ``n_features``); None takes max(X) + 1 at fit.
    init_params : {'random'}, default='random'
        The emission rows' point start is drawn from a flat Dirichlet unless
        ``emissionprob_init`` is given.
    startprob_init, transmat_init, emissionprob_init : array-like, optional
        Point parameters the first q(theta) is computed from (zeros stay forbidden).
    algorithm, tol, max_iter, n_init, random_state, warm_start, verbose, verbose_interval,
    chunk_size : as ``VariationalGaussianHMM``

    Attributes
    ----------
    startprob_posterior_, transmat_posterior_, emissionprob_posterior_ : Dirichlet concentrations
    startprob_, transmat_, emissionprob_ : their posterior means (what decoding uses, as hmmlearn)
    startprob_prior_, transmat_prior_, emissionprob_prior_, n_symbols_
    lower_bound_, lower_bounds_ : the full ELBO per (weighted) frame; it equals hmmlearn's
        ``VariationalCategoricalHMM`` bound (divided by the number of frames) from the same q.
    converged_, n_iter_, n_features_in_
    """

    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, *, startprob_prior=None, transmat_prior=None, emissionprob_prior=None,
                 n_symbols=None, algorithm="viterbi", tol=1e-4, max_iter=100, n_init=1, init_params="random",
                 startprob_init=None, transmat_init=None, emissionprob_init=None, random_state=None,
                 warm_start=False, verbose=0, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.n_symbols = n_symbols
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.emissionprob_init = emissionprob_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    _check_frames = CategoricalHMM._check_frames  # integer symbols; a memmap or array-like read in chunks

    def _emission_setup(self, X, frame_weight, record):
        check_option(self.init_params, "init_params", ("random",))
        if self.n_symbols is not None:
            check_hyperparameters(self, {"n_symbols": INTEGER_AT_LEAST_1})
        highest = _highest_symbol(X, self._chunk_frames())
        n_symbols = highest + 1 if self.n_symbols is None else self.n_symbols
        if highest >= n_symbols:
            raise ValueError(f"X holds symbol {highest}; expected symbols < n_symbols = {n_symbols}")
        K = self.n_components
        given = check_stochastic(self.emissionprob_init, "emissionprob_init", (K, n_symbols))
        prior = check_concentration(self.emissionprob_prior, "emissionprob_prior", (K, n_symbols), 1.0 / n_symbols,
                                    None if given is None else given > 0)
        record.n_symbols_ = n_symbols
        emission = CategoricalVBEmission(prior)
        support = prior > 0

        def start(rng):
            if given is not None:
                return given
            rows = rng.dirichlet(np.ones(n_symbols), size=K) * support  # a flat draw on each row's support
            return rows / rows.sum(axis=1, keepdims=True)

        return emission, CategoricalEmission(n_symbols), start

    def _emission_posterior(self):
        return self.emissionprob_posterior_

    def _set_emission_posterior(self, q, mean, emission, record) -> None:
        self.n_symbols_ = record.n_symbols_
        self.emissionprob_posterior_ = q
        self.emissionprob_prior_ = emission.rows.prior
        self.emissionprob_ = mean

    def _emission_model(self, fixed=frozenset()):
        return CategoricalEmission(self.n_symbols_)

    def _emission_params(self):
        return self.emissionprob_
