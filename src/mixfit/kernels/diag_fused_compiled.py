"""The numba-compiled loops of ``diag_fused`` and of the diag / spherical E product (imported on
first use, never by ``import mixfit``; diag_fused.py and row_features.py ask for them only where
numba is installed). Cached on disk; release the GIL, so an ArraySource's threads run chunks in
parallel."""

from __future__ import annotations

import math
import platform

import numba
import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

from .centred_compiled import centre_row_into

# The E product's components per group: one LLVM vector of this many float64 lanes per row
# (two zmm registers with AVX-512, four ymm with AVX2), the group's coefficients (L, 16) in L1;
# in float32 twice as many lanes in the same registers (FLOAT32_PRODUCT_LANES).
PRODUCT_LANES = 16
FLOAT32_PRODUCT_LANES = 32


def _rows_per_block():
    """Rows of the E product's vector block, as many independent chains of fused multiply-adds
    (so that the FMA units do not wait on one chain's latency): 8 where the code is compiled for
    this host and it has AVX-512 (32 vector registers: 16 accumulators of 8 lanes), else 4 (8
    ymm accumulators of 4 lanes among 16 registers). At (7281 x 65) @ (65 x 16), one thread on
    an AVX-512 host: 8 rows 130 us, 4 rows 145 us."""
    if numba.config.CPU_NAME:  # compiled for another CPU than this one
        return 4
    return 8 if llvm.get_host_cpu_features().get("avx512f", False) else 4


_PRODUCT_ROWS = _rows_per_block()


def _native_fma():
    """Whether LLVM's ``llvm.fma`` on float64 vectors is an instruction here: code compiled for
    this host (no ``NUMBA_CPU_NAME``) with FMA, which x86-64 reports as a feature and AArch64
    has in its base set. Elsewhere LLVM calls the C library's ``fma`` lane by lane: the same
    numbers, many times slower than BLAS, so the E product stays BLAS's
    (``row_features.compiled_product``)."""
    if numba.config.CPU_NAME:
        return False
    if platform.machine().lower() in ("aarch64", "arm64"):
        return True
    return bool(llvm.get_host_cpu_features().get("fma", False))


NATIVE_FMA = _native_fma()


def _float64_c(*arrays):
    """Whether every array type is a C-contiguous float64 array (the blocks index them so)."""
    return _float_c(numba.types.float64, *arrays)


def _float_c(dtype, *arrays):
    """Whether every array type is a C-contiguous array of ``dtype``."""
    return all(isinstance(a, numba.types.Array) and a.layout == "C" and a.dtype == dtype for a in arrays)


class _Lanes:
    """The LLVM pieces of the E product's blocks: vectors of PRODUCT_LANES float64 lanes (or
    FLOAT32_PRODUCT_LANES float32 lanes), their fused multiply-add, a broadcast, a row of a
    group's coefficients, the accumulators."""

    def __init__(self, builder, weights, float32=False):
        self.builder = builder
        self.i32, self.i64 = ir.IntType(32), ir.IntType(64)
        self.lanes = FLOAT32_PRODUCT_LANES if float32 else PRODUCT_LANES
        self.vector = ir.VectorType(ir.FloatType() if float32 else ir.DoubleType(), self.lanes)
        self.fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(self.vector, [self.vector] * 3),
                                                  f"llvm.fma.v{self.lanes}f{32 if float32 else 64}")
        self.weights = weights
        self._undef = ir.Constant(self.vector, ir.Undefined)
        self._first_lane = ir.Constant(ir.VectorType(self.i32, self.lanes), [0] * self.lanes)

    def index(self, value):
        return ir.Constant(self.i64, value)

    def accumulators(self, rows):
        """``rows`` vectors of zeros in stack slots (promoted to registers by LLVM)."""
        return [cgutils.alloca_once_value(self.builder, ir.Constant(self.vector, [0.0] * self.lanes))
                for _ in range(rows)]

    def coefficients(self, j):
        """weights[j, :] (one vector)."""
        at = self.builder.gep(self.weights.data, [self.builder.mul(j, self.index(self.lanes))])
        return self.builder.load(self.builder.bitcast(at, self.vector.as_pointer()), align=8)

    def add_term(self, acc, x, w_j):
        """acc = fma(x broadcast, w_j, acc), lane by lane."""
        b = self.builder
        x = b.shuffle_vector(b.insert_element(self._undef, x, ir.Constant(self.i32, 0)), self._undef,
                             self._first_lane)
        b.store(b.call(self.fma, [x, w_j, b.load(acc)]), acc)

    def store(self, acc, out, row, first):
        """out[first + c, row + r] = acc[r][c] for c with first + c < K (out (K, n))."""
        b = self.builder
        K, n = cgutils.unpack_tuple(b, out.shape)
        sums = [b.load(a) for a in acc]
        for c in range(self.lanes):
            k = b.add(first, self.index(c))
            with b.if_then(b.icmp_signed("<", k, K), likely=True):
                at = b.add(b.mul(k, n), row)  # out[k, row]
                for r, value in enumerate(sums):
                    b.store(b.extract_element(value, ir.Constant(self.i32, c)),
                            b.gep(out.data, [b.add(at, self.index(r))]))


def _vector_block(rows):
    """An intrinsic block(features, weights, out, i, k0): out[k0 + c, i + r] = sum over j in
    order of features[i + r, j] * weights[j, c] for r < ``rows`` and c < PRODUCT_LANES with
    k0 + c < K, each term one fused multiply-add into an accumulator of PRODUCT_LANES float64
    lanes that starts at 0, each row's sums written straight from the registers (C-contiguous
    float64 arrays: features (n, L), weights (L, PRODUCT_LANES), out (K, n)); for float32
    arrays the same in FLOAT32_PRODUCT_LANES float32 lanes, each fused multiply-add rounded to
    float32 (as a float32 BLAS accumulates)."""

    @intrinsic
    def block(typingctx, features, weights, out, i, k0):
        float32 = _float_c(numba.types.float32, features, weights, out)
        if not (float32 or _float64_c(features, weights, out)):
            return None

        def codegen(context, builder, signature, args):
            f, w, o = (context.make_array(ty)(context, builder, a) for ty, a in zip(signature.args[:3], args[:3]))
            row, first = args[3], args[4]
            lanes = _Lanes(builder, w, float32)
            width = cgutils.unpack_tuple(builder, f.shape)[1]  # L
            acc = lanes.accumulators(rows)
            with cgutils.for_range(builder, width) as loop:
                j = loop.index
                w_j = lanes.coefficients(j)
                for r in range(rows):
                    at = builder.add(builder.mul(builder.add(row, lanes.index(r)), width), j)
                    lanes.add_term(acc[r], builder.load(builder.gep(f.data, [at])), w_j)  # features[i + r, j]
            lanes.store(acc, o, row, first)
            return context.get_dummy_value()

        return numba.types.void(features, weights, out, i, k0), codegen

    return block


def _centred_block(rows):
    """An intrinsic block(X, centre, weights, out, features, i): ``_vector_block``'s sums for
    the first group (k0 = 0) with the features [(x - g)^2, x - g, 1] of rows i .. i + rows - 1
    formed from X (n, D) and centre g (D,) in the registers, as ``centred_features_into``
    forms them (v = x - g, then v * v), and written to features (n, 2D + 1) for the moments;
    returns the number of NaN entries of those rows of X. The terms are taken in the features'
    order: every square, then every x - g, then the constant (a fused multiply-add by 1: acc +
    w, rounded once)."""

    @intrinsic
    def block(typingctx, X, centre, weights, out, features, i):
        if not _float64_c(X, centre, weights, out, features):
            return None

        def codegen(context, builder, signature, args):
            x_, g_, w, o, f = (context.make_array(ty)(context, builder, a)
                               for ty, a in zip(signature.args[:5], args[:5]))
            row = args[5]
            lanes = _Lanes(builder, w)
            D = cgutils.unpack_tuple(builder, x_.shape)[1]
            width = cgutils.unpack_tuple(builder, f.shape)[1]  # 2D + 1
            acc = lanes.accumulators(rows)
            missing = cgutils.alloca_once_value(builder, lanes.index(0))
            for part in ("squares", "centred"):
                with cgutils.for_range(builder, D) as loop:
                    d = loop.index
                    j = d if part == "squares" else builder.add(d, D)
                    w_j = lanes.coefficients(j)
                    g = builder.load(builder.gep(g_.data, [d]))
                    for r in range(rows):
                        at = builder.add(row, lanes.index(r))
                        x = builder.load(builder.gep(x_.data, [builder.add(builder.mul(at, D), d)]))
                        v = builder.fsub(x, g)
                        if part == "squares":
                            nan = builder.zext(builder.fcmp_unordered("uno", x, x), lanes.i64)
                            builder.store(builder.add(builder.load(missing), nan), missing)
                            v = builder.fmul(v, v)
                        builder.store(v, builder.gep(f.data, [builder.add(builder.mul(at, width), j)]))
                        lanes.add_term(acc[r], v, w_j)
            one = ir.Constant(ir.DoubleType(), 1.0)
            last = builder.sub(width, lanes.index(1))
            w_j = lanes.coefficients(last)
            for r in range(rows):
                at = builder.add(row, lanes.index(r))
                builder.store(one, builder.gep(f.data, [builder.add(builder.mul(at, width), last)]))
                lanes.add_term(acc[r], one, w_j)
            lanes.store(acc, o, row, lanes.index(0))
            return builder.load(missing)

        return numba.types.int64(X, centre, weights, out, features, i), codegen

    return block


_block_of_rows = _vector_block(_PRODUCT_ROWS)
_block_of_one = _vector_block(1)
_centred_block_of_rows = _centred_block(_PRODUCT_ROWS)
_centred_block_of_one = _centred_block(1)


@numba.njit(cache=True, nogil=True)
def log_kernel_into(features, grouped, out):
    """out (K, n) = the transpose of features (n, L) @ coefficients (L, K), for float64
    C-contiguous arrays, the coefficients given in groups of PRODUCT_LANES components, grouped
    (G, L, PRODUCT_LANES) (the last group's unused columns anything); or float32 arrays, in
    groups of FLOAT32_PRODUCT_LANES, each sum in float32. Each entry is the dot
    product of a row with a component's coefficients, its terms taken in order j = 0 .. L - 1,
    each by one fused multiply-add into a sum that starts at 0: OpenBLAS's order for this
    product (its kernels accumulate over the inner dimension in order, in registers, where that
    dimension fits one panel), the same bits (tests/test_log_kernel_product.py). A block of
    _PRODUCT_ROWS rows at a time, all groups, so that the rows' features are read from memory
    once; the group's coefficients stay in L1."""
    n, lanes = features.shape[0], grouped.shape[2]
    whole = n - n % _PRODUCT_ROWS
    for i in range(0, whole, _PRODUCT_ROWS):
        for g in range(grouped.shape[0]):
            _block_of_rows(features, grouped[g], out, i, g * lanes)
    for i in range(whole, n):  # the rows left over, one at a time
        for g in range(grouped.shape[0]):
            _block_of_one(features, grouped[g], out, i, g * lanes)


@numba.njit(cache=True, nogil=True)
def centred_log_kernel_into(X, centre, features, grouped, out):
    """``centred_features_into(X, centre, features)`` and ``log_kernel_into(features, grouped,
    out)`` in one pass over the rows: the first group's sums from the features formed in the
    registers (written to ``features`` as they are formed), the other groups' from the features
    just written (in L1); the same numbers as the two calls, and X's number of NaN entries (a
    chunk with any is the caller's missing-value path, its sums not used). At (7281, 32, 16),
    one thread: 198-201 us against 248-257 us for the two calls (the features' writes overlap
    the product's fused multiply-adds)."""
    n = X.shape[0]
    missing = 0
    whole = n - n % _PRODUCT_ROWS
    for i in range(0, whole, _PRODUCT_ROWS):
        missing += _centred_block_of_rows(X, centre, grouped[0], out, features, i)
        for g in range(1, grouped.shape[0]):
            _block_of_rows(features, grouped[g], out, i, g * PRODUCT_LANES)
    for i in range(whole, n):  # the rows left over, one at a time
        missing += _centred_block_of_one(X, centre, grouped[0], out, features, i)
        for g in range(1, grouped.shape[0]):
            _block_of_one(features, grouped[g], out, i, g * PRODUCT_LANES)
    return missing


@numba.njit(cache=True, nogil=True)
def features_into(rows, out):
    """out[n] = [rows[n]^2, rows[n], 1] for the centred rows (n, D) into out (n, 2D + 1)."""
    n, D = rows.shape
    for i in range(n):
        for d in range(D):
            v = rows[i, d]
            out[i, d] = v * v
            out[i, D + d] = v
        out[i, 2 * D] = 1


@numba.njit(cache=True, nogil=True)
def centred_features_into(X, centre, out):
    """out[n] = [(X[n] - centre)^2, X[n] - centre, 1] into out (n, 2D + 1), and the number of
    NaN entries of X, in one read of X: each x - g rounded to out's dtype (as ``centred_into``
    writes it), then squared (as ``features_into`` squares it)."""
    n, D = X.shape
    missing = 0
    for i in range(n):
        missing += centre_row_into(X, i, centre, out, D)
        for d in range(D):
            v = out[i, D + d]
            out[i, d] = v * v
        out[i, 2 * D] = 1
    return missing


# Rows after which ``sparse_sums_into`` gives up where the pairs so far pass at more than 5/4 of
# the budget's rate: a dense chunk costs that many rows of the loop (at (7281, 32, 16), every
# pair passing: ~17 us against the product's 430 us), not the budget's worth of pairs. Over 128
# rows of K = 16 (2048 pairs) a chunk of rows in random order whose pairs pass at 12 % shows
# 15.6 % about 5 standard deviations out.
_SETTLE_ROWS = 128


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def sparse_sums_into(at, features, mass, ratio, budget, out):
    """out (K, L) = sum over the pairs (n, k) with at[k, n] > ratio * mass[k] of at[k, n] *
    features[n, :L], where at (K, n) is the transpose of the weighted responsibilities and mass
    their column sums; False (out untouched) where more than ``budget`` pairs pass or a mass is
    NaN. The rows' passing pairs are found first, in one pass along each component's column
    without a branch (it vectorises): how many pass in each row, and the last component that
    does. The rows are then added in order, a row with one pair (the common case of a well
    separated mixture) going straight to its component, without a compare per component or a
    branch on which component it is (one mispredicted branch a row and K scalar compares were
    most of this loop's time); a row with more pairs tests them in component order. The loop
    stops early where the rows so far pass at more than 5/4 of the budget's rate, after the same
    rows as when the pairs were counted as they were added, and each sum takes its terms in row
    order: the same decisions and the same sums, bit for bit. A dense chunk is told first from
    its first _SETTLE_ROWS + 1 rows, by the test the loop makes at that row, before the pass over
    all of them (at (7281, 32, 16), every pair passing: 17 us, against 46 us after that pass)."""
    K, n = at.shape
    L = out.shape[1]
    for k in range(K):
        if math.isnan(mass[k]):
            return False
    thresholds = mass * ratio
    if n > _SETTLE_ROWS:  # a dense chunk: the first early stop's test, from its rows alone
        settled = 0
        for k in range(K):
            threshold = thresholds[k]
            for i in range(_SETTLE_ROWS + 1):
                settled += at[k, i] > threshold
        if settled > budget or 4 * settled * n > 5 * budget * (_SETTLE_ROWS + 1):
            return False  # where the loop below would stop (at that row or before)
    count = np.zeros(n, dtype=np.int32)  # the row's passing pairs
    last = np.zeros(n, dtype=np.int32)  # the last component that passes (a NaN weight never does)
    for k in range(K):
        threshold = thresholds[k]
        for i in range(n):
            passes = at[k, i] > threshold
            count[i] += passes
            last[i] = k if passes else last[i]
    acc = np.zeros((K, L))
    total = 0
    for i in range(n):  # row by row: each row's features read once, in order
        pairs = count[i]
        if pairs == 1:
            k = last[i]
            r = at[k, i]
            for j in range(L):
                acc[k, j] += r * features[i, j]
        elif pairs > 1:
            for k in range(K):
                r = at[k, i]
                if r > thresholds[k]:
                    for j in range(L):
                        acc[k, j] += r * features[i, j]
        total += pairs
        if total > budget or (i >= _SETTLE_ROWS and 4 * total * n > 5 * budget * (i + 1)):
            return False  # many pairs carry weight: the product
    out[:] = acc
    return True


@numba.njit(cache=True, nogil=True)
def refer_into(sums, mass, delta, first, scatter, mass_delta2):
    """The diag referral of ``row_features.RowFeatures._refer`` in one pass over (K, D): from
    sums (K, 2D) = [S, s1] about g, first = s1 - N delta, scatter = S - 2 delta s1 + N delta^2
    and mass_delta2 = N delta^2, each operation numpy's, in numpy's order (the same numbers)."""
    K, D = delta.shape
    for k in range(K):
        m = mass[k]
        for d in range(D):
            dl = delta[k, d]
            s1 = sums[k, D + d]
            first[k, d] = s1 - dl * m
            md2 = dl * dl * m
            scatter[k, d] = (dl * s1 * -2.0 + sums[k, d]) + md2
            mass_delta2[k, d] = md2
