"""Small linear-algebra kernels shared by the covariance strategies.

Everything here works on Cholesky factors: a covariance is never inverted. The convention is
scikit-learn's: the precision factor P is upper triangular with precision = P P^T, so that the
whitened residual is y = (x - mu) P and log det(precision)^(1/2) = sum(log diag P).
"""

import weakref

import numpy as np

from ..exceptions import SKLEARN_COLLAPSE_MESSAGE, CollapsedComponentError
from .numba_loading import compiled_loop
from .numba_switch import NUMBA as COMPILED

# numpy reduces along a short contiguous axis slowly (an (n, 16) array's row maxima cost several
# times its exponentials); for the K columns of a chunk, K whole-column operations or one
# matrix-vector product are the fast way. Above this many columns numpy's own reduction wins.
_COLUMN_LOOP_MAX = 32


def row_max(a: np.ndarray) -> np.ndarray:
    """max_k a_nk of an (n, K) array, (n,) (NaN propagates, as ``a.max(axis=1)``)."""
    if a.shape[1] > _COLUMN_LOOP_MAX:
        return a.max(axis=1)
    peak = a[:, 0].copy()
    for k in range(1, a.shape[1]):
        np.maximum(peak, a[:, k], out=peak)
    return peak


def row_sum(a: np.ndarray) -> np.ndarray:
    """sum_k a_nk of an (n, K) array, (n,), as one matrix-vector product."""
    return a @ np.ones(a.shape[1], dtype=a.dtype)


# float32 products are taken over at most this many rows and added in float64 (the moments of
# ``expanded``, ``row_features`` and ``sparse_moments``, and float32 column sums): measured in
# expanded.py's comment on the packed form.
FLOAT32_PRODUCT_ROWS = 1024


# A read-only vector of float64 ones, replaced whole by a longer one where a longer one is asked
# for (threads read the old or the new, never a mix): ``np.ones`` of a chunk's length cost ~3 us
# of every chunk's column sums.
_ONES = {"float64": np.ones(0)}


def _ones(n: int) -> np.ndarray:
    """n float64 ones (a view of the shared read-only vector)."""
    ones = _ONES["float64"]
    if ones.shape[0] < n:
        ones = np.ones(n)
        ones.flags.writeable = False
        _ONES["float64"] = ones
    return ones[:n]


def column_sum(a: np.ndarray) -> np.ndarray:
    """sum_n a_nk of an (n, K) array in float64, (K,): a matrix-vector product for float64
    (BLAS accumulates in the data's dtype); for float32, matrix-vector products over at most
    FLOAT32_PRODUCT_ROWS rows added in float64 (the sums of non-negative responsibilities round
    by about sqrt(1024) u32 = 2e-6 relative; numpy's float64 reduction of a column-major (n, K)
    float32 array cost 8x these products, at (1324, 2048) 1300 us, as much as its exponentials);
    numpy's float64 reduction for anything else."""
    if a.dtype == np.float64:
        return _ones(a.shape[0]) @ a
    if a.dtype != np.float32 or a.ndim != 2:
        return a.sum(axis=0, dtype=np.float64)
    ones = np.ones(min(a.shape[0], FLOAT32_PRODUCT_ROWS), dtype=np.float32)
    total = np.asarray(ones @ a[:FLOAT32_PRODUCT_ROWS], dtype=np.float64)
    for start in range(FLOAT32_PRODUCT_ROWS, a.shape[0], FLOAT32_PRODUCT_ROWS):
        block = a[start:start + FLOAT32_PRODUCT_ROWS]
        total += ones[:block.shape[0]] @ block
    return total


# numpy's exponential leaves its vector path for results near or below the smallest normal number
# (float64, measured on AVX-512: about 1 ns per element down to e^-707.5 but 17 ns from e^-707.9 on,
# and up to 75 ns at e^-708.5; float32 below e^-87.3, 12x slower), and so does every later
# operation on subnormal numbers (a float32 row sum of them: 15x); and it is exactly the common
# case of a component far from a row. Exponents are raised to this floor first; what that adds,
# below 1e-304 (float64, e^-700) or 1.8e-35 (float32, e^-80) of the row's largest term, changes
# no sum. Each floor leaves room for the division by the row's total (at most K): the
# responsibilities stay normal numbers for K < 4400 (float64) or K < 1500 (float32). (A float64
# floor of -708, inside the slow range, made the exponentials 5x the cost of the rest of an
# iteration's (n, K) passes at K = 512.)
_EXP_FLOOR = {np.dtype(np.float64): -700.0, np.dtype(np.float32): -80.0}


def _floor_exponents(a: np.ndarray) -> None:
    floor = _EXP_FLOOR.get(a.dtype)
    if floor is not None:
        np.maximum(a, floor, out=a)


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """ln sum_k exp(a_nk) for each row of an (n, K) array, stable for any magnitude."""
    raw_peak = row_max(a)  # (n,)
    # A row of -inf (every component impossible) keeps -inf rather than NaN.
    peak = np.where(np.isfinite(raw_peak), raw_peak, 0)
    shifted = a - peak[:, None]
    _floor_exponents(shifted)
    out = peak + np.log(row_sum(np.exp(shifted, out=shifted)))
    return np.where(np.isfinite(raw_peak), out, raw_peak)


# The compiled passes of ``normalize_log_rows`` (normalize_compiled.py) from this many entries on,
# wherever numba is used (numba_switch.py): below it numpy's few calls cost microseconds. Measured
# at (7281, 16) float64, column-major, one thread: 215 us against numpy's 275 us, the exponential
# ~90 us of each. For K <= _COLUMN_LOOP_MAX, ``_normalized`` with ``_sum_in_order`` gives the compiled passes'
# numbers bit for bit with numpy's column loops, and runs where numba may not be imported
# (a stream's step that has not loaded it: numba_loading.py); which of the two runs changes the
# time only. Otherwise the first large normalisation imports numba (~0.2 s, ~100 MB of resident
# memory) where nothing else has loaded it (a tied or Bernoulli fit).
_COMPILED_MIN_ENTRIES = 2**15


def normalize_log_rows(log_rho: np.ndarray):
    """Responsibilities and ln sum_k exp(a_nk) of an (n, K) array of log weights, exponentiating
    once: returns (r, log_norm) where r overwrites ``log_rho``."""
    floor = _EXP_FLOOR.get(log_rho.dtype)
    if (COMPILED and floor is not None and log_rho.ndim == 2 and log_rho.size >= _COMPILED_MIN_ENTRIES
            and log_rho.flags.f_contiguous):
        if log_rho.shape[1] <= _COLUMN_LOOP_MAX and not compiled_loop():
            return _normalized(log_rho, _sum_in_order)  # the compiled passes' numbers, bit for bit
        from .normalize_compiled import scale_columns, shift_columns  # optional: numba

        columns = log_rho.T  # (K, n), C-contiguous: the loops run along each component's column
        peak, shift, log_norm = np.empty((3, log_rho.shape[0]), dtype=log_rho.dtype)
        shift_columns(columns, floor, peak, shift)
        np.exp(log_rho, out=log_rho)
        scale_columns(columns, log_norm)  # the row sums, into log_norm
        np.log(log_norm, out=log_norm)
        log_norm += shift
        finite = np.isfinite(peak)
        if not finite.all():  # a row no component can explain keeps ln p = -inf (or NaN)
            log_norm[~finite] = peak[~finite]
        return log_rho, log_norm
    return _normalized(log_rho, row_sum)


def _normalized(log_rho: np.ndarray, total_of):
    """``normalize_log_rows`` by numpy's whole-column operations, each row's sum of the
    exponentials by ``total_of`` (``row_sum``'s product, or ``_sum_in_order``)."""
    raw_peak = row_max(log_rho)  # (n,) NaN propagates, as the compiled maximum
    finite = np.isfinite(raw_peak)
    peak = np.where(finite, raw_peak, 0)
    log_rho -= peak[:, None]
    _floor_exponents(log_rho)  # a NaN stays NaN
    resp = np.exp(log_rho, out=log_rho)
    total = total_of(resp)  # (n,)
    resp /= total[:, None]
    log_norm = peak + np.log(total)
    if not finite.all():  # a row no component can explain keeps ln p = -inf (or NaN)
        log_norm[~finite] = raw_peak[~finite]
    return resp, log_norm


def _sum_in_order(a: np.ndarray) -> np.ndarray:
    """sum_k a_nk over k in order from 0, as normalize_compiled.py's loop adds (0 + a_n0 first),
    so that ``_normalized`` gives the compiled passes' numbers bit for bit with numpy's column
    operations (where a stream's step may not import numba: numba_loading.py)."""
    total = a[:, 0] + 0
    for k in range(1, a.shape[1]):
        total += a[:, k]
    return total


def rows_summing_to_one(p: np.ndarray, dtype) -> np.ndarray:
    """Rows of non-negative weights (n, K) scaled to sum to 1, returned in ``dtype``: the
    probabilities a user sees (``predict_proba``), whose rows should sum to 1 to the last ulps.

    Worked in float64 and divided by the row sum twice. One division leaves a row off by the
    rounding of its sum, up to (K - 1) units of roundoff u; the second divides by a sum that is
    already 1 to within that, so a float64 row is off by about K u / 2 (K / 4 ulps of 1). A float32
    row is rounded once from the float64 values: each entry by at most half its own ulp, the row by
    at most half an ulp of 1. (Normalising as exp(a - logsumexp(a)) instead leaves each entry off by
    the rounding of ln p itself, ulp(|ln p|): 30 float32 ulps for the ln p ~ -70 of data at 1e15.)
    A row of zeros (no component can explain it) stays NaN, as before.
    """
    p = np.array(p, dtype=np.float64)  # (n, K), a copy
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(2):
            p /= row_sum(p)[:, None]
    return p.astype(dtype, copy=False)


def probabilities_from_log(log_p: np.ndarray) -> np.ndarray:
    """exp(a_nk) / sum_j exp(a_nj) for an (n, K) array of log weights, rows summing to 1 within
    a few ulps (``rows_summing_to_one``), in the dtype of ``log_p``."""
    shifted = np.array(log_p, dtype=np.float64)  # (n, K)
    shifted -= row_max(shifted)[:, None]  # the largest term is e^0 = 1: nothing overflows
    _floor_exponents(shifted)
    return rows_summing_to_one(np.exp(shifted, out=shifted), log_p.dtype)


def precision_chol_from_covariance(cov: np.ndarray, names: str = "component") -> np.ndarray:
    """Upper-triangular P with P P^T = cov^{-1}, for one (D, D) matrix or a stack (K, D, D).

    Raises CollapsedComponentError naming the first matrix that is not positive definite.
    """
    stack = cov if cov.ndim == 3 else cov[None]
    try:
        lower = np.linalg.cholesky(stack)  # (K, D, D), cov_k = L_k L_k^T
    except np.linalg.LinAlgError:
        bad = _first_not_positive_definite(stack)
        which = f"covariance of {names} {bad}" if cov.ndim == 3 else "shared covariance"
        raise CollapsedComponentError(
            f"{SKLEARN_COLLAPSE_MESSAGE} (The {which} is not positive definite: it has collapsed "
            "onto a point or a subspace.)",
            component=bad if cov.ndim == 3 else None,
        ) from None
    if not np.all(np.isfinite(lower)):
        bad = int(np.argmax(~np.isfinite(lower).all(axis=(1, 2))))
        raise CollapsedComponentError(
            f"{SKLEARN_COLLAPSE_MESSAGE} (The covariance of {names} {bad} is not finite.)", component=bad
        )
    # cov^{-1} = L^{-T} L^{-1}, so P = L^{-T}: one solve against the factor, never an inverse
    # of cov. (numpy's batched solve: scipy's per-matrix triangular solves cost a BLAS thread
    # hand-off each, which dominates for the small K x D x D stacks of an M-step.)
    prec_chol = np.triu(np.swapaxes(_solve_identity(lower), -1, -2))
    return prec_chol if cov.ndim == 3 else prec_chol[0]


def covariance_from_precision_chol(prec_chol: np.ndarray) -> np.ndarray:
    """cov = (P P^T)^{-1} = P^{-T} P^{-1} for one upper factor (D, D) or a stack (K, D, D)."""
    inv_factor = _solve_identity(prec_chol)  # P^{-1}
    return np.swapaxes(inv_factor, -1, -2) @ inv_factor


# The inverse of the last stack of factors asked for: every chunk of a pass maps its whitened
# moments back with the same factors, and K (D x D) solves per chunk (three batched LU solves)
# were a third of a whitened iteration at (2e4, 32, 128). A memo of a pure function, as
# ``expanded.remembered_plan``'s: keyed by the factors' identity, held weakly, replaced whole.
_REMEMBERED_INVERSE: dict = {}


def remembered_factor_inverse(factor: np.ndarray) -> np.ndarray:
    """factor^{-1} (float64) for a stack of triangular factors (K, D, D), remembered for the last
    stack asked for."""
    last = _REMEMBERED_INVERSE.get("last")
    if last is not None and last[0]() is factor:
        return last[1]
    inverse = _solve_identity(np.asarray(factor, dtype=np.float64))
    _REMEMBERED_INVERSE["last"] = (weakref.ref(factor), inverse)
    return inverse


def _solve_identity(factor: np.ndarray) -> np.ndarray:
    """factor^{-1} for a triangular factor (or a stack), as the solution of factor Z = I."""
    eye = np.broadcast_to(np.eye(factor.shape[-1], dtype=factor.dtype), factor.shape)
    return np.linalg.solve(factor, eye)


def _first_not_positive_definite(stack: np.ndarray) -> int:
    for k, matrix in enumerate(stack):
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            return k
        if not np.all(np.isfinite(matrix)):
            return k
    return 0


def real_dtype(dtype) -> np.dtype:
    """The dtype of centres and responsibilities computed from rows of ``dtype``: the rows' own if
    it is a float dtype, else float64 (binary data may come as bool or integers)."""
    return np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
