"""Numerics with no model in them: log-sum-exp rows, Cholesky-or-raise, scratch buffers, the packed quadratic form, compiled loops."""
