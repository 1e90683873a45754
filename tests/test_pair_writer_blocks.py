"""numpy's pair-product writer as the E-step runs it: one block buffer, its strided view of the
shifted rows made once (kernels/expanded.py ``_block_writer``, ``cyclic_view``) and sliced for
blocks of any width, full or the chunk's last, partial one. The oracle is the literal products
x_i x_j in ``pair_order``; the buffer starts as NaN, so a product that read a workspace row
the writer did not fill (the second copy of the rows stops where i + s stops) would be NaN."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from mixfit.kernels import expanded


@pytest.mark.parametrize("D", [1, 2, 3, 4, 7, 8, 16, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_of_one_buffer_are_the_literal_products(D, dtype):
    rng = np.random.default_rng(D)
    M = D * (D + 1) // 2
    L = M + D
    width = 40
    buffer = np.full((L + D, width), np.nan, dtype=dtype)
    write = expanded._block_writer(False, buffer, D)
    first, second = expanded.pair_order(D)
    for m in (width, 13, 1, width, 7):  # full blocks and partial ones, in any order, one buffer
        rows = rng.normal(size=(m, D)).astype(dtype)
        features = buffer[:, :m]
        write(rows, features)
        # products of two floats are correctly rounded: equal to the last bit
        assert_array_equal(features[:L], np.vstack([(rows[:, first] * rows[:, second]).T, rows.T]))
        assert_array_equal(features[:L], expanded.pair_products(rows))
