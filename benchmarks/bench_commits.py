"""mixfit at two commits, side by side in one run: seconds per EM iteration of each.

Usage::

    python benchmarks/bench_commits.py                        # the restructure's bar (see below)
    python benchmarks/bench_commits.py --base bd9f140 --cases 1e6,8,8 --cov full --rounds 3

A change that should not alter speed (a restructure, a refactor) is measured against the commit
before it. The base commit is checked out into a temporary ``git worktree``; each (case,
covariance, dtype) then runs ``bench_em.py``'s worker (``--libraries mixfit``: per-iteration time
between consecutive passes over the data, from the same given parameters, no initialisation) with
``PYTHONPATH`` set to the base tree's ``src`` and to this tree's ``src`` in turn, alternating
``--rounds`` times (base, head, base, head, ...) so that the machine's drift falls on both
sides. Each side's figure is the median over all its iterations of all its rounds; ``head/base``
> 1 means this tree is slower.

The default cases are issue 16's bar: (1e6, 32, 16) full and diag, (1e6, 8, 8) full, float64
and float32, head within 10 % of the commit before the restructure (``bd9f140``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_em

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BASE = "bd9f140"  # the last commit before the layered packages (issue 16)
DEFAULT_RUNS = [((1_000_000, 32, 16), "full"), ((1_000_000, 32, 16), "diag"), ((1_000_000, 8, 8), "full")]


def _worker(src: str, spec: dict) -> list[float]:
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = src
    try:
        return bench_em.run_worker(spec)["per_iter"]
    finally:
        if env_before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env_before


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default=DEFAULT_BASE, help="the commit to compare against")
    p.add_argument("--cases", nargs="+", type=bench_em.parse_case, help="N,D,K triples (default: the bar's)")
    p.add_argument("--cov", nargs="+", choices=bench_em.FULL_COVS)
    p.add_argument("--dtype", nargs="+", choices=bench_em.FULL_DTYPES, default=["float64", "float32"])
    p.add_argument("--rounds", type=int, default=2, help="alternations of base and head per row")
    p.add_argument("--repeats", type=int, default=2, help="fits per worker")
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    args = p.parse_args(argv)
    runs = ([(case, cov) for case in args.cases for cov in (args.cov or ["full"])] if args.cases
            else [(case, cov) for case, cov in DEFAULT_RUNS if not args.cov or cov in args.cov])

    head = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"], capture_output=True, text=True,
                          check=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="mixfit-base-")
    base_tree = os.path.join(tmp, "tree")
    subprocess.run(["git", "-C", HERE, "worktree", "add", "--detach", "-q", base_tree, args.base], check=True)
    try:
        print(f"# head {head} ({os.path.join(HERE, 'src')}) vs base {args.base} ({base_tree}/src); "
              f"{args.rounds} alternating rounds per row; s/it = median over iterations", flush=True)
        header = f"{'case (N, D, K)':<18} {'cov':<6} {'dtype':<8} {'base s/it':>10} {'head s/it':>10} {'head/base':>9}"
        print(header)
        print("-" * len(header), flush=True)
        worst = 0.0
        for (n, d, k), cov in runs:
            for dtype in args.dtype:
                path = bench_em.ensure_data(args.data_dir, n, d, k, dtype)
                m, reps = bench_em.plan(n, d, k, cov, args.repeats, "mixfit", "hooks")
                spec = {"library": "mixfit", "path": path, "k": k, "cov": cov, "m": m, "repeats": reps,
                        "method": "hooks"}
                times = {"base": [], "head": []}
                for _ in range(args.rounds):
                    times["base"] += _worker(os.path.join(base_tree, "src"), spec)
                    times["head"] += _worker(os.path.join(HERE, "src"), spec)
                base, new = statistics.median(times["base"]), statistics.median(times["head"])
                worst = max(worst, new / base)
                print(f"{bench_em.fmt_case(n, d, k):<18} {cov:<6} {dtype:<8} {base:>10.4g} {new:>10.4g} "
                      f"{new / base:>9.3f}", flush=True)
        print(f"# largest head/base: {worst:.3f} (bar: <= 1.10)")
    finally:
        subprocess.run(["git", "-C", HERE, "worktree", "remove", "--force", base_tree], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
