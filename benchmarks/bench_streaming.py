"""Online EM over a generated stream against the batch fit, in one run (issue 19's bar).

    python benchmarks/bench_streaming.py                    # 1e8 rows, (D, K) = (16, 8), full
    python benchmarks/bench_streaming.py --rows 1e7         # a shorter stream
    python benchmarks/bench_streaming.py --quick            # 2e6 rows, a smoke run
    python benchmarks/bench_streaming.py --without-numba    # as an install without numba
    python benchmarks/bench_streaming.py --without-pandas   # as an install without pandas

The stream: rows of a known K-component full-covariance mixture in D dimensions, made batch by
batch (``--batch`` rows) and never stored; each batch goes to ``GaussianMixture.partial_fit``
with the default step-size schedule (learning_offset=0, learning_decay=0.6). Memory: the
process's peak RSS (the kernel's high-water mark) up to the end of the stream, before anything
larger is allocated, so it bounds the streaming part (Python and the libraries included); and a
line per stage (the imports, the batch buffer, what the first call imports and loads, the first
call, the later steps: the resident set after each and the peak within it), with the arrays of
one step and of one draw as tracemalloc sees them. Accuracy: the held-out log-likelihood per row of the online fit and of a batch fit on
``--batch-rows`` rows of the same mixture, both on the same ``--heldout`` fresh rows.
Throughput: rows per second of the partial_fit calls (the data generation not counted) against
the rows per second of a batch EM pass (5 passes over the batch fit's rows from its fitted
parameters), three ways: interleaved with the stream (a second process, which holds the batch
fit's rows and loads what a batch fit loads, times the passes after each tenth of the stream
while this one waits: each tenth's ratio against a pass timed seconds later, under the same
load, the median of the ten the figure for the bar); against the median of four timings after
the stream (as the machine's load moves between the stream and the passes); and the two
alternated on the same rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings
from copy import deepcopy

import numpy as np


def make_mixture(D: int, K: int, seed: int):
    """Weights, means (K, D) spaced well apart, and the Cholesky factors (K, D, D) of random
    covariances with eigenvalues in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(K, 5.0))
    means = rng.normal(scale=5.0, size=(K, D))
    factors = []
    for _ in range(K):
        q, _ = np.linalg.qr(rng.normal(size=(D, D)))
        factors.append(np.linalg.cholesky(q @ np.diag(rng.uniform(0.5, 2.0, size=D)) @ q.T))
    return weights, means, np.stack(factors)


def draw(mixture, n: int, rng: np.random.Generator) -> np.ndarray:
    """n rows of the mixture, grouped by component (order within a batch does not matter to EM)."""
    weights, means, factors = mixture
    counts = rng.multinomial(n, weights)
    return np.concatenate([means[k] + rng.standard_normal((c, means.shape[1])) @ factors[k].T
                           for k, c in enumerate(counts)])


_CONTROLLER = []


def blas_controller():
    """threadpoolctl's controller, made once: each ``threadpool_limits`` would scan the process's
    loaded libraries again (a read of /proc/self/maps, ~5 ms a batch on the shared machine)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def draw_into(mixture, out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``draw`` into the given (n, D) array, one component's rows at a time: the stream's batch
    buffer, refilled for every batch (one batch resident, as a reader of a file in batches)."""
    weights, means, factors = mixture
    counts = rng.multinomial(out.shape[0], weights)
    start = 0
    # The generator is the stream's source, not mixfit: its products run on one BLAS thread, as a
    # file reader's would use none. (OpenBLAS's threads spin for a while after a multi-threaded
    # product; on 2 cores they took the cores from the partial_fit step that follows: measured,
    # the stream's steps at 0.57 of a batch pass with the generator's BLAS threaded, 0.87 with
    # OPENBLAS_NUM_THREADS=1 for the whole process, 0.84-0.86 back to back without a generator.)
    with blas_controller().limit(limits=1, user_api="blas"):
        for k, c in enumerate(counts):
            np.matmul(rng.standard_normal((c, means.shape[1])), factors[k].T, out=out[start : start + c])
            out[start : start + c] += means[k]
            start += c
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def rss_mb() -> float:
    """The resident set now (VmRSS), to show that it does not grow with the rows streamed."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _NoPandas:
    """A meta-path finder that refuses pandas, as if it were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (--without-pandas)", name=name)


class MemoryLog:
    """The resident set stage by stage: after each stage its VmRSS, and the peak during it (VmHWM,
    reset at the start of each stage through /proc/self/clear_refs where the kernel allows; else
    the process's peak so far, marked '<='). The reset also resets what ``getrusage`` reports, so
    the process's peak is ``peak()``: the highest of the stages' peaks (and of getrusage's)."""

    def __init__(self):
        self.rows = []
        status = self._status()
        self.previous, self.highest = 0.0, max(status["VmHWM"], peak_rss_mb())
        self.resettable = self._reset()

    def peak(self) -> float:
        """The process's peak resident set so far (MB), over every stage."""
        return max(self.highest, self._status()["VmHWM"], peak_rss_mb())

    @staticmethod
    def _status() -> dict:
        with open("/proc/self/status") as status:
            return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status
                    if line.startswith(("VmRSS:", "VmHWM:"))}

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # VmHWM := VmRSS (Linux >= 4.0)
            return True
        except OSError:
            return False

    def stage(self, label: str, note: str = "") -> None:
        now = self._status()
        self.highest = max(self.highest, now["VmHWM"], peak_rss_mb())
        self.rows.append((label, now["VmRSS"], now["VmRSS"] - self.previous, now["VmHWM"], note))
        self.previous = now["VmRSS"]
        self.resettable = self._reset()

    def extra(self, label: str, megabytes: float, note: str = "") -> None:
        """A line measured otherwise (tracemalloc): its size alone."""
        self.rows.append((label, None, megabytes, None, note))

    def print(self) -> None:
        print(f"{'memory, stage by stage (MB)':<62}{'RSS after':>10}{'change':>9}{'peak in it':>12}")
        mark = "" if self.resettable else "<="
        for label, rss, change, peak, note in self.rows:
            left = f"  {label:<60}" + (f"{rss:>10.0f}" if rss is not None else " " * 10)
            right = f"{change:>+9.1f}" + (f"{mark:>6}{peak:>6.0f}" if peak is not None else " " * 12)
            print(left + right + (f"   {note}" if note else ""))


def traced_peak_mb(function) -> float:
    """The peak of numpy's and Python's allocations while ``function()`` runs (tracemalloc: the
    arrays a call makes, not what the allocator or BLAS keeps around them)."""
    import tracemalloc

    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def batch_pass_model(X, K: int, passes: int):
    """The batch fit of ``X`` and a model that runs ``passes`` EM passes from its parameters
    (tol=0, no start): (the batch fit, its fit time, the timed model)."""
    from mixfit import GaussianMixture

    tick = time.perf_counter()
    whole = GaussianMixture(K, covariance_type="full", random_state=0, tol=1e-6, max_iter=500).fit(X)
    fit_time = time.perf_counter() - tick
    timed = GaussianMixture(K, covariance_type="full", tol=0.0, max_iter=passes, weights_init=whole.weights_,
                            means_init=whole.means_, precisions_init=whole.precisions_)
    return whole, fit_time, timed


def pass_rate(timed, X) -> float:
    """Rows per second of ``timed.fit(X)``'s passes."""
    tick = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never converges, on purpose
        timed.fit(X)
    return timed.max_iter * X.shape[0] / (time.perf_counter() - tick)


def reference_process(args) -> None:
    """``--reference-process``: the batch fit's rows and passes in a process of their own, timed
    on request (a line on stdin), so that the stream's process neither holds the rows nor loads
    what the batch fit loads (numba) while it streams; answers each request with rows/s."""
    D, K = args.dims, args.components
    X = draw(make_mixture(D, K, seed=0), int(args.batch_rows), np.random.default_rng(3))
    _, _, timed = batch_pass_model(X, K, passes=5)
    pass_rate(timed, X)  # warm: compiled loops, the pool's threads
    print("ready", flush=True)
    for _ in sys.stdin:
        print(f"{pass_rate(timed, X):.6g}", flush=True)


class InterleavedReference:
    """The batch EM pass timed by ``reference_process`` in a child process, between tenths of
    the stream: this process waits (no step runs) while the child times its passes."""

    def __init__(self, args):
        command = [sys.executable, os.path.abspath(__file__), "--reference-process", "--dims", str(args.dims),
                   "--components", str(args.components), "--batch-rows", str(args.batch_rows)]
        command += ["--without-pandas"] * args.without_pandas
        environment = dict(os.environ, **({"MIXFIT_NUMBA": "0"} if args.without_numba else {}))
        self.child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      env=environment)
        if self.child.stdout.readline().strip() != "ready":
            raise RuntimeError("the reference process did not start")

    def rate(self) -> float:
        self.child.stdin.write("pass\n")
        self.child.stdin.flush()
        return float(self.child.stdout.readline())

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait(timeout=60)


def loaded(names) -> str:
    return ", ".join(name for name in names if name in sys.modules) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=1e8, help="rows in the stream")
    parser.add_argument("--batch", type=int, default=100_000, help="rows per partial_fit call")
    parser.add_argument("--batch-rows", type=float, default=1e6, help="rows of the batch fit")
    parser.add_argument("--heldout", type=float, default=2e5, help="held-out rows")
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2e6 rows, batch fit on 2e5 rows (a smoke run)")
    parser.add_argument("--without-numba", action="store_true",
                        help="MIXFIT_NUMBA=0, as an install without mixfit[fast]: the stream is the "
                             "same (its steps never import numba), the batch EM pass runs numpy's loops")
    parser.add_argument("--without-pandas", action="store_true",
                        help="pandas made unimportable, as an install of mixfit's own dependencies "
                             "(scikit-learn imports pandas where it is installed: ~30 MB of RSS)")
    parser.add_argument("--reference-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_process:
        if args.without_pandas:
            sys.meta_path.insert(0, _NoPandas())
        reference_process(args)
        return
    if args.quick:
        args.rows, args.batch_rows, args.heldout = 2e6, 2e5, 5e4
    if args.without_pandas:
        sys.meta_path.insert(0, _NoPandas())
    memory = MemoryLog()
    memory.stage("python and numpy")
    # mixfit's imports one layer at a time, each imported by the next anyway
    import scipy.linalg  # noqa: F401

    memory.stage("import scipy.linalg")
    import sklearn.base

    memory.stage("import sklearn.base", f"pandas {'loaded' if 'pandas' in sys.modules else 'not loaded'}: "
                 "sklearn.utils.fixes imports it where installed, and scipy.stats")
    if args.without_numba:
        os.environ["MIXFIT_NUMBA"] = "0"  # mixfit's documented switch, read at its import
    import mixfit
    from mixfit import GaussianMixture
    from mixfit.kernels.numba_switch import NUMBA

    memory.stage("import mixfit (the rest)", f"numba {'installed' if NUMBA else 'not used'}")
    D, K, batch = args.dims, args.components, args.batch
    n_batches = int(args.rows) // batch
    mixture = make_mixture(D, K, seed=0)
    rng = np.random.default_rng(1)
    baseline = memory.peak()
    print(f"mixfit {mixfit.__version__}; stream of {n_batches * batch:.3g} rows in batches of {batch}, "
          f"(D, K) = ({D}, {K}), full covariance; peak RSS after the imports {baseline:.0f} MB")

    X = np.empty((batch, D))  # the batch buffer, refilled for every batch
    draw_into(mixture, X, rng)
    memory.stage(f"the batch buffer ({X.nbytes / 2**20:.1f} MB) and its first draw")
    # What the first call imports, imported here first so that its cost gets a line of its own
    # (the same modules, loaded once either way: the stream's peak is unchanged). The k-means start
    # imports sklearn.cluster (engine/starts.py). numba, where installed, is not imported by the
    # steps (kernels/numba_loading.py): their loops are numpy's, with the same numbers.
    import sklearn.cluster  # noqa: F401

    memory.stage("first call's import: sklearn.cluster (the k-means start)")

    # The batch pass timed between tenths of the stream, in a process of its own (started here,
    # before the stream: its batch fit runs while this process waits).
    reference = InterleavedReference(args)
    online = GaussianMixture(K, covariance_type="full", random_state=0)
    fitting = 0.0  # the steps after the first (the steady state)
    tenths, counted = [], (0, 0.0)  # the steps' rows per second in each tenth of the stream
    interleaved = []  # (the tenth's rows/s, the batch pass's rows/s right after it)
    started = time.perf_counter()
    for i in range(n_batches):
        if i > 0:
            draw_into(mixture, X, rng)
        tick = time.perf_counter()
        online.partial_fit(X)
        if i == 0:
            first_call = time.perf_counter() - tick  # the k-means start and one step
            memory.stage("first call: the k-means start and one step", f"{first_call:.2f} s")
        else:
            fitting += time.perf_counter() - tick
        if (i + 1) % max(1, n_batches // 10) == 0:
            note = ""
            if fitting > counted[1]:
                tenths.append((i - counted[0]) * batch / (fitting - counted[1]))
                interleaved.append((tenths[-1], reference.rate()))
                note = (f"  rows/s {tenths[-1]:.3g}, batch pass right after {interleaved[-1][1]:.3g}: "
                        f"ratio {tenths[-1] / interleaved[-1][1]:.2f}")
            counted = (i, fitting)
            print(f"  {i + 1:>8} batches  {time.perf_counter() - started:7.1f} s  "
                  f"batch log-lik/row {online.lower_bound_:.5f}  RSS now {rss_mb():.0f} MB{note}", flush=True)
    memory.stage(f"the later steps ({n_batches - 1}), each after the draw of its batch")
    stream_rss = memory.peak()
    reference.close()
    tenth_ratios = [rate / passing for rate, passing in interleaved]
    interleaved_ratio = float(np.median(tenth_ratios)) if tenth_ratios else float("nan")
    heavy = loaded(("pandas", "numba", "sklearn.cluster", "scipy.stats"))  # numba: never by the stream
    online_rate = (n_batches - 1) * batch / fitting
    overall_rate = n_batches * batch / (fitting + first_call)

    # Inside a step and a draw: the arrays they make (tracemalloc), on a copy of the stream's
    # model after the stream (the peak above is already read).
    step_arrays = traced_peak_mb(lambda: deepcopy(online).partial_fit(X))
    memory.extra("of which one later step's arrays (tracemalloc peak)", step_arrays,
                 "the E-step's per-thread chunk workspace, the statistics; no copy of the batch")
    memory.extra("of which one draw's arrays (tracemalloc peak)",
                 traced_peak_mb(lambda: draw_into(mixture, X, rng)), "the generator's (c, D) normals")

    heldout = draw(mixture, int(args.heldout), np.random.default_rng(2))
    X = draw(mixture, int(args.batch_rows), np.random.default_rng(3))
    # a batch EM pass alone: 5 passes from the fitted params (no start), tol=0 so all 5 run
    passes = 5
    whole, batch_time, timed = batch_pass_model(X, K, passes)
    first_pass_rate = pass_rate(timed, X)

    ll_online, ll_batch = online.score(heldout), whole.score(heldout)

    # Back to back on the same rows (the machine is shared: load moves between the two timings
    # above): partial_fit over X in batches (on a copy of the online fit) against EM passes over
    # X, alternated three times, medians.
    steady, passes_rate = [], []
    for _ in range(3):
        copy = deepcopy(online)
        tick = time.perf_counter()
        for start in range(0, X.shape[0], batch):
            copy.partial_fit(X[start : start + batch])
        steady.append(X.shape[0] / (time.perf_counter() - tick))
        passes_rate.append(pass_rate(timed, X))
    paired = float(np.median(steady)) / float(np.median(passes_rate))
    # The in-stream steps ran minutes before any pass was timed, on a machine whose load moves:
    # their reference is the median of the four timings of a pass (the first, and the three
    # alternated ones), the spread of both sides printed beside it.
    pass_rates = [first_pass_rate, *passes_rate]
    reference_rate = float(np.median(pass_rates))
    print()
    memory.print()
    print()
    print(f"{'bar':<34}{'mixfit online':>16}{'reference':>16}{'bar':>12}")
    print(f"{'peak RSS (MB)':<34}{stream_rss:>16.0f}{baseline:>16.0f}{'< 200':>12}   (reference: after the imports)")
    print(f"{'held-out log-lik per row':<34}{ll_online:>16.6f}{ll_batch:>16.6f}{'|d| <= 1e-3':>12}   "
          f"(reference: batch fit on {X.shape[0]:.3g} rows; d = {ll_online - ll_batch:+.2e})")
    print(f"{'rows/s in-stream, interleaved':<34}{np.median([r for r, _ in interleaved]):>16.3g}"
          f"{np.median([p for _, p in interleaved]):>16.3g}{'>= 0.80':>12}   (reference: batch EM pass timed after "
          f"each tenth; median ratio {interleaved_ratio:.2f})")
    print(f"{'rows/s (back to back, medians)':<34}{np.median(steady):>16.3g}{np.median(passes_rate):>16.3g}"
          f"{'>= 0.80':>12}   (reference: batch EM pass; ratio {paired:.2f})")
    print()
    print(f"rows streamed              {n_batches * batch:.3g} (online steps {online.n_steps_})")
    print(f"peak RSS during the stream {stream_rss:.0f} MB, of which {stream_rss - baseline:.0f} MB above the "
          f"imports' {baseline:.0f} MB   (bar: < 200 MB)")
    print(f"  loaded by then           {heavy}")
    print(f"held-out log-lik per row   online {ll_online:.6f}   batch fit on {X.shape[0]:.3g} rows "
          f"{ll_batch:.6f} ({whole.n_iter_} iterations, {batch_time:.1f} s)")
    print(f"  difference               {ll_online - ll_batch:+.2e}   (bar: |difference| <= 1e-3)")
    print(f"throughput, interleaved    ratio {interleaved_ratio:.2f} (bar: >= 0.80): the median over the "
          f"{len(tenth_ratios)} tenths of the stream of the tenth's rows/s over a batch EM pass's timed right "
          f"after it in a second process; by tenth {' '.join(f'{r:.2f}' for r in tenth_ratios)}")
    print(f"throughput, after          online {online_rate:.3g} rows/s (steps 2 on), batch EM pass "
          f"{reference_rate:.3g} rows/s, ratio {online_rate / reference_rate:.2f}   (bar: >= 0.80)")
    print(f"  spread                   online by tenth of the stream {min(tenths, default=online_rate):.3g}"
          f"-{max(tenths, default=online_rate):.3g} rows/s; batch EM pass, 4 timings of {passes} passes "
          f"{min(pass_rates):.3g}-{max(pass_rates):.3g} rows/s (first alone {first_pass_rate:.3g})")
    print(f"  back to back on {X.shape[0]:.0e} rows online {np.median(steady):.3g} rows/s, batch EM pass "
          f"{np.median(passes_rate):.3g} rows/s, ratio {paired:.2f} (medians of 3, alternated)")
    print(f"  with the first call      {overall_rate:.3g} rows/s (the first call, start and compiling: "
          f"{first_call:.2f} s), ratio {overall_rate / reference_rate:.2f}")


if __name__ == "__main__":
    main()
