"""MIXFIT_NUMBA=0 keeps numba out of the process (kernels/numba_switch.py), and its fits agree
with the compiled ones; a value other than the documented ones is refused by name."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

_SCRIPT = """
import json, sys
import numpy as np
from mixfit import GaussianMixture
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(size=(3000, 6)) + 4 * k for k in range(3)])
out = {}
for cov in ("full", "diag", "spherical", "tied"):
    model = GaussianMixture(3, covariance_type=cov, max_iter=20, tol=0, random_state=0).fit(X)
    out[cov] = [model.lower_bound_, model.means_.tolist()]
out["numba"] = "numba" in sys.modules
print(json.dumps(out))
"""


def _run(value):
    env = dict(os.environ, MIXFIT_NUMBA=value)
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_switched_off_keeps_numba_out_and_agrees_with_the_compiled_loops():
    off, on = _run("0"), _run("1")
    assert off["numba"] is False  # no kernel imported it, at sizes past every compiled threshold
    assert on["numba"] is True  # the same fits load it where it is used (else this test shows nothing)
    for cov in ("full", "diag", "spherical", "tied"):
        # 20 iterations from the same start: the compiled and numpy loops differ in summation order
        # only (each kernel's own tests bound that by a few eps per sum), so the fits agree to far
        # below any meaningful difference; 1e-9 relative leaves room for 20 iterations' growth.
        np.testing.assert_allclose(off[cov][0], on[cov][0], rtol=1e-9)
        np.testing.assert_allclose(off[cov][1], on[cov][1], rtol=1e-9, atol=1e-9)


def test_unknown_value_is_refused_by_name():
    env = dict(os.environ, MIXFIT_NUMBA="maybe")
    done = subprocess.run([sys.executable, "-c", "import mixfit"], env=env, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode != 0
    assert "MIXFIT_NUMBA" in done.stderr and "'maybe'" in done.stderr
