"""Fit a float32 array larger than memory from disk: peak anonymous memory, time per pass, and
read throughput against the disk's sequential read rate, measured in the same run.

    python benchmarks/bench_out_of_core.py                 # 4 GB, D=8, K=4, 3 EM passes
    python benchmarks/bench_out_of_core.py --gb 32 --dir /work/tmp_bench

The data (a K-component mixture, float32, row-major .npy-free raw file) are written in 64 MB
blocks. The disk rate is a dd-style cold sequential read of that same file (16 MB reads) after
its pages are dropped from the page cache (``posix_fadvise(DONTNEED)``, and
``/proc/sys/vm/drop_caches`` when writable); the pages are dropped again before the fit, so the
fit's first pass starts cold too. A file larger than RAM cannot stay cached between passes.
Memory is RssAnon from /proc/self/status sampled every 20 ms (file-backed pages of the memmap,
the page cache, do not count), reported as the peak during the fit minus nothing: the whole
process, Python and libraries included.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time

import numpy as np

from mixfit import GaussianMixture, engine

_BLOCK_BYTES = 64 * 2**20
_READ_BYTES = 16 * 2**20


def rss_anon_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakSampler(threading.Thread):
    def __init__(self, interval=0.02):
        super().__init__(daemon=True)
        self.interval, self.peak, self._stop_event = interval, 0, threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_anon_bytes())
            time.sleep(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, rss_anon_bytes())


def drop_cache(path) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        return "fadvise(DONTNEED) + drop_caches"
    except OSError:
        return "fadvise(DONTNEED)"


def write_data(path, n_rows, n_features, n_components, seed=0):
    """A K-component mixture, written in 64 MB blocks. The noise and labels of one block are
    drawn once and each block reuses them rotated by a block-dependent offset, so that writing
    runs at disk speed rather than at the speed of the normal generator."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=6.0, size=(n_components, n_features)).astype(np.float32)
    scales = rng.uniform(0.5, 1.5, size=(n_components, n_features)).astype(np.float32)
    rows_per_block = max(1, _BLOCK_BYTES // (4 * n_features))
    noise = rng.standard_normal((rows_per_block, n_features), dtype=np.float32)
    labels = rng.integers(n_components, size=rows_per_block)
    with open(path, "wb") as f:
        for i, start in enumerate(range(0, n_rows, rows_per_block)):
            n = min(rows_per_block, n_rows - start)
            shift = (i * 7919) % rows_per_block
            z, k = np.roll(noise, shift, axis=0)[:n], np.roll(labels, 3 * shift + i)[:n]
            f.write((means[k] + scales[k] * z).tobytes())


def sequential_read_rate(path) -> float:
    """Bytes per second of a cold, dd-style sequential read of the file."""
    size = os.path.getsize(path)
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(_READ_BYTES)
        while f.readinto(buf):
            pass
    return size / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=4.0, help="size of the array on disk, GB (1e9 bytes)")
    parser.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--components", type=int, default=4)
    parser.add_argument("--covariance", default="full")
    parser.add_argument("--iters", type=int, default=3, help="EM passes (tol=0)")
    parser.add_argument("--init", default="k-means++")
    parser.add_argument("--keep", action="store_true", help="keep the data file")
    args = parser.parse_args()

    D, K = args.features, args.components
    n_rows = int(args.gb * 1e9) // (4 * D)
    nbytes = n_rows * 4 * D
    path = os.path.join(args.dir, f"mixfit_ooc_{n_rows}x{D}.f32")
    free = shutil.disk_usage(args.dir).free + (os.path.getsize(path) if os.path.exists(path) else 0)
    if nbytes > free - 2 * 2**30:
        raise SystemExit(f"{nbytes / 1e9:.1f} GB do not fit in {args.dir} ({free / 1e9:.1f} GB free, "
                         "2 GiB kept free)")
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print(f"data: {n_rows:,} x {D} float32 = {nbytes / 1e9:.2f} GB at {path}; RAM {mem_total / 2**30:.1f} GiB; "
          f"K={K} {args.covariance}, init {args.init!r}, {args.iters} EM passes")
    if not (os.path.exists(path) and os.path.getsize(path) == nbytes):
        started = time.perf_counter()
        write_data(path, n_rows, D, K)
        print(f"written in {time.perf_counter() - started:.1f} s")

    how = drop_cache(path)
    disk_rate = sequential_read_rate(path)
    print(f"disk: cold sequential read of the file ({how}, {_READ_BYTES >> 20} MB reads): {disk_rate / 1e9:.2f} GB/s")

    drop_cache(path)
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, D))
    marks = []
    gm = GaussianMixture(K, covariance_type=args.covariance, init_params=args.init, tol=0, max_iter=args.iters,
                         random_state=0)
    baseline = rss_anon_bytes()
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    with engine.progress(lambda n_iter, lower_bound: marks.append(time.perf_counter())):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(X)
    total = time.perf_counter() - started
    sampler.stop()
    passes = np.diff([started, *marks])
    before_em = passes[0]  # validation scan + init passes + the first EM pass
    em = passes[1:]
    per_pass = float(np.median(em)) if em.size else float(before_em)
    print(f"fit: {total:.1f} s in all; before the 2nd EM pass (scan, init, 1st pass) {before_em:.1f} s; "
          f"EM passes {', '.join(f'{t:.1f}' for t in em)} s")
    print(f"per EM pass (median): {per_pass:.2f} s = {nbytes / per_pass / 1e9:.2f} GB/s read, "
          f"{nbytes / per_pass / disk_rate:.0%} of the disk's sequential rate; "
          f"{n_rows / per_pass / 1e6:.1f} M rows/s")
    print(f"peak RssAnon during the fit: {sampler.peak / 2**20:.0f} MiB (before: {baseline / 2**20:.0f} MiB); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"lower bound per sample {gm.lower_bound_:.4f}; weights {np.round(np.sort(gm.weights_), 3)}")
    if not args.keep:
        os.remove(path)


if __name__ == "__main__":
    main()
