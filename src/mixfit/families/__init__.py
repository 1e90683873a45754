"""Covariance families (strategies), their conjugate precision priors, and the weight priors; ``registry`` is the one place a family name is read."""
