"""The exponential of a float64 array in place, as a loop that LLVM vectorises (numba; imported
on first use, never by ``import mixfit``; cached on disk, ``cache=True``).

numba compiles ``np.exp`` of a scalar to a call of the C library's ``exp``, one element at a
time (numba's vector math library, SVML, needs an SVML-patched llvmlite, which a pip install
does not give): some 4 ns an element, where numpy's own SIMD loop takes under 1 ns. The
compiled mclust E-step takes K exponentials per row, about a quarter of its iteration. Here
the same function as branch-free arithmetic, which the loop vectoriser turns into SIMD code:

    exp(x) = 2^n exp(r),  n = round(x / ln 2),  r = x - n ln 2,  |r| <= ln 2 / 2,

with n ln 2 subtracted in two parts (``_LN2_HI`` has trailing zero bits, so n * ``_LN2_HI``
and x - n * ``_LN2_HI`` are exact for |n| < 2^11: Cody and Waite's reduction), exp(r) by its
Taylor polynomial of degree 13 (the remainder |r|^14 / 14! < 5e-18 relative, below a tenth
of an ulp), and 2^n applied as two exact powers of two 2^(n - n // 2) and 2^(n // 2), each
built from its exponent bits, so that a result in the subnormal range is rounded once, by
the last product. x is clamped to [-746, 710] first (NaN kept): below, exp(x) rounds to 0
(exp(-746) < 2^-1075, half the smallest subnormal), -inf included; above, to inf.

Accuracy: within 1 ulp of the correctly rounded exponential over [-745, 0] on a million
points (``tests/test_vector_exp.py`` checks it against numpy.exp and against the long-double
exponential), exp(0) = 1 exactly.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

_LOG2_E = 1.4426950408889634  # 1 / ln 2
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits (its last 21 bits zero)
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
# 3 * 2^51: x + _ROUND - _ROUND rounds x to an integer, for |x| < 2^51
_ROUND = 6755399441055744.0
_LOW, _HIGH = -746.0, 710.0
_BIAS = 1023
_TINY = np.finfo(np.float64).tiny  # the smallest normal
# 1 / k!, k = 0..13
_C2, _C3, _C4, _C5 = 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120
_C6, _C7, _C8, _C9 = 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880
_C10, _C11, _C12, _C13 = 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800


@_jit
def exp_inplace(values, scale):
    """values[i] <- exp(values[i]) for a contiguous float64 array ``values`` (m,); ``scale``:
    scratch of at least 2 m int64 (the two powers of two, as bits). Two passes, each a loop
    without branches, so that both vectorise."""
    m = values.shape[0]
    half = scale[:m]
    rest = scale[m:2 * m]
    for i in range(m):
        x = values[i]
        x = _LOW if x < _LOW else x  # noqa: FURB136 (a select; NaN passes both tests unchanged)
        x = _HIGH if x > _HIGH else x  # noqa: FURB136
        n = (x * _LOG2_E + _ROUND) - _ROUND
        r = (x - n * _LN2_HI) - n * _LN2_LO
        p = _C13
        p = p * r + _C12
        p = p * r + _C11
        p = p * r + _C10
        p = p * r + _C9
        p = p * r + _C8
        p = p * r + _C7
        p = p * r + _C6
        p = p * r + _C5
        p = p * r + _C4
        p = p * r + _C3
        p = p * r + _C2
        p = p * r + 1.0
        p = p * r + 1.0
        values[i] = p
        k = np.int64(0) if np.isnan(n) else np.int64(n)  # NaN: any power, p is NaN
        low = k >> 1  # floor(k / 2)
        half[i] = (low + _BIAS) << 52
        rest[i] = (k - low + _BIAS) << 52
    first = half.view(np.float64)
    second = rest.view(np.float64)
    for i in range(m):
        values[i] = values[i] * first[i] * second[i]


_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # the bits of sqrt(1/2)
_TWO54 = 18014398509481984.0  # 2^54: brings a subnormal into the normal range
# 2 / (2 j + 1), j = 1..10: ln((1 + s) / (1 - s)) = 2 s + s sum_j (2 / (2 j + 1)) z^j, z = s^2
_L1, _L2, _L3, _L4, _L5 = 2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11
_L6, _L7, _L8, _L9, _L10 = 2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21


@_jit
def log_inplace(values, scratch):
    """values[i] <- ln(values[i]) for a contiguous float64 array ``values`` (m,); ``scratch``:
    float64, at least 2 m. Three passes without branches, so that each vectorises.

    x = 2^k m with m in [sqrt(1/2), sqrt(2)) (k and m from the bits: subtracting the bits of
    sqrt(1/2) leaves k in the exponent field; a subnormal is first scaled by 2^54), then with
    f = m - 1 and s = f / (2 + f) (so 2 s = f - s f, |s| < 0.172):
    ln m = f - f^2/2 + s (f^2/2 + R(s^2)), R(z) = sum_{j=1..10} 2 z^j / (2 j + 1) (the series of
    2 atanh s; the next term is below 2^-60 of ln m), and ln x = k ln 2 + ln m with ln 2 in two
    parts (k ``_LN2_HI`` exact). ln 0 = -inf, ln inf = inf, NaN for NaN and x < 0.
    Within 2 ulp of numpy.log and of the long-double logarithm (``tests/test_vector_exp.py``)."""
    m = values.shape[0]
    work = scratch[:m]
    exponent = scratch[m:2 * m]
    for i in range(m):
        x = values[i]
        small = x < _TINY
        work[i] = x * _TWO54 if small else x
        exponent[i] = -54.0 if small else 0.0
    bits = work.view(np.int64)
    for i in range(m):
        b = bits[i]
        k = (b - _SQRT_HALF_BITS) >> 52
        bits[i] = b - (k << 52)
        exponent[i] += k
    for i in range(m):
        x = values[i]
        f = work[i] - 1.0
        s = f / (2.0 + f)
        z = s * s
        r = _L10
        r = r * z + _L9
        r = r * z + _L8
        r = r * z + _L7
        r = r * z + _L6
        r = r * z + _L5
        r = r * z + _L4
        r = r * z + _L3
        r = r * z + _L2
        r = r * z + _L1
        r = r * z
        half_square = 0.5 * f * f
        k = exponent[i]
        result = k * _LN2_HI + (((f - half_square) + s * (half_square + r)) + k * _LN2_LO)
        result = -np.inf if x == 0.0 else result
        result = np.inf if x == np.inf else result
        values[i] = result if x >= 0.0 else np.nan  # NaN and x < 0: not >= 0
