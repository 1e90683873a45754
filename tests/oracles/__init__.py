"""Literal per-point implementations of the equations (loops over n and k), written from the
book rather than from mixfit, to test mixfit against."""
