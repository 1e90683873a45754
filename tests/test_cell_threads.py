"""The threads of a sweep's compiled cells (selection/cell_threads.py): calls taken costliest
first, ended in any order, the table, warnings and errors still in sweep order; and the whole
faithful table on two threads equal to the serial one to the bit."""

import threading
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from mixfit import select_model
from mixfit.datasets import load_faithful
from mixfit.families.registry import MCLUST_MODEL_NAMES
from mixfit.selection import tables
from mixfit.selection.cell_threads import cell_cost, threaded_cells


def _pending(task):
    return SimpleNamespace(arguments=task)


def test_calls_end_out_of_order_and_come_back_in_sweep_order():
    # task i sleeps (1 - i / n) x 20 ms on a thread: the first ones end last. Each finish warns
    # with its task; the yielded values and the warnings are in task order, None tasks included.
    tasks = [None if i in (2, 5) else i for i in range(8)]

    def finish(task, pending, output):
        warnings.warn(f"cell {task}", UserWarning, stacklevel=1)
        return task, output

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = list(threaded_cells(lambda task: task, _pending, lambda task: time.sleep(0.02 * (1 - task / 8)) or -task,
                                  finish, tasks, 2, cost=lambda task: float(task)))
    assert out == [None if task is None else (task, -task) for task in tasks]
    assert [str(w.message) for w in caught] == [f"cell {task}" for task in tasks if task is not None]


def test_an_error_comes_at_its_cell_after_the_earlier_cells():
    # task 1's finish raises while task 0 is still running: the sweep yields cell 0 first
    def run(task):
        time.sleep(0.03 if task == 0 else 0.0)
        return task

    def finish(task, pending, output):
        if task == 1:
            raise ArithmeticError("cell 1")
        return output

    sweep = threaded_cells(lambda task: task, _pending, run, finish, [0, 1, 2], 2, cost=lambda task: 0.0)
    assert next(sweep) == 0
    with pytest.raises(ArithmeticError, match="cell 1"):
        next(sweep)
    sweep.close()


def test_the_costliest_queued_call_runs_first():
    # one thread: the starts are queued in one batch before the thread takes any, so every call
    # runs by cost, highest first (the longest-processing-time rule), whatever the task order
    costs = [1.0, 5.0, 2.0, 9.0, 3.0]
    order = []

    def run(task):
        order.append(task)
        return task

    out = list(threaded_cells(lambda task: task, _pending, run, lambda task, pending, output: output,
                              list(range(len(costs))), 1, cost=lambda task: costs[task]))
    assert out == list(range(len(costs)))
    assert order == sorted(range(len(costs)), key=lambda task: -costs[task])


def test_the_cost_model_ranks_large_k_and_inner_loops_first():
    X = np.zeros((272, 2))

    def cost(K, name):
        return cell_cost((X, None, None, K, MCLUST_MODEL_NAMES.index(name)))

    assert cost(9, "VVE") > cost(9, "VVV") > cost(3, "VVV") > cost(2, "VVV") > cost(1, "VVV")
    assert cost(9, "EII") > cost(2, "VVE")


def _iris():
    from sklearn.datasets import load_iris

    return load_iris().data


# R mclust's NA cells: none on faithful; iris VEE at K = 5, 7, 9 and EVV at K = 5, 6 (their
# reasons written as the cells are finished, the K = 1 cells started while the tree is built)
@pytest.mark.parametrize(("load", "na_cells"), [(lambda: load_faithful()[0], []),
                                                (_iris, ["5EVV", "5VEE", "6EVV", "7VEE", "9VEE"])],
                         ids=["faithful", "iris"])
def test_table_on_two_threads_equals_the_serial_table(load, na_cells, monkeypatch):
    # all fourteen families x K = 1..9: every column, NA reason and fitted parameter to the bit
    pytest.importorskip("numba")
    X = load()
    monkeypatch.setattr(tables, "available_cores", lambda: 2)

    def sweep(n_jobs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return select_model(X, range(1, 10), "all", init_params="mclust", hierarchical_start=False,
                                convention="mclust", reg_covar=0.0, n_jobs=n_jobs)

    def table(result):
        return [(c.n_components, c.covariance_type, c.criterion, c.log_likelihood, c.n_iter, c.reason, c.values,
                 None if c.estimator is None else (c.estimator.means_.tobytes(),
                                                   c.estimator.precisions_cholesky_.tobytes(),
                                                   c.estimator.lower_bounds_)) for c in result.cells]

    serial, threaded = sweep(1), sweep(None)
    assert sorted(f"{c.n_components}{c.covariance_type}" for c in serial.cells if c.is_na) == na_cells
    assert table(threaded) == table(serial)


def test_only_a_sweep_of_mclusts_start_builds_the_tree_on_a_thread(monkeypatch):
    # k-means starts on threads (one candidate each: the compiled-cell tasks) never cut mclust's
    # tree, so the sweep must not build it (O(n^2)); mclust's start builds it once
    from mixfit.engine import mclust_hc

    built = []
    real = mclust_hc.compiled_merge_tree
    monkeypatch.setattr(mclust_hc, "compiled_merge_tree", lambda Z: built.append(Z.shape) or real(Z))
    monkeypatch.setattr(tables, "available_cores", lambda: 2)
    X = load_faithful()[0][:60]
    for init, count in (("kmeans", 0), ("mclust", 1)):
        mclust_hc._tree_of.cache_clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            select_model(X, [1, 2], ["EII", "VVV"], init_params=init, hierarchical_start=False, random_state=0)
        assert len(built) == count


def _two_cells_around(warm, order):
    """threaded_cells over tasks 0 and 1 with ``warm``, each check noted in ``order``."""

    def check(task):
        order.append("check")
        return task

    return list(threaded_cells(check, _pending, lambda task: task, lambda task, pending, output: output, [0, 1], 2,
                               warm=warm, cost=lambda task: 0.0))


def test_warms_first_submit_runs_on_the_calling_thread_which_waits_until_warm_reads_it():
    # the calling thread runs warm's first handed call itself, and begins the checks only once
    # warm has read its result (warm then goes on: the checks overlap its next step); a later
    # submit runs on the executor
    order, threads = [], {}

    def warm(submit):
        handed = submit(lambda: threads.setdefault("handed", threading.current_thread()) and 1)
        time.sleep(0.02)  # warm's own half of the work, longer than the handed one
        order.append("warm's half")
        assert handed.result() == 1
        assert submit(lambda: threading.current_thread()).result() is not threading.main_thread()

    out = _two_cells_around(warm, order)
    assert out == [0, 1]
    assert threads["handed"] is threading.main_thread()
    assert order == ["warm's half", "check", "check"]


def test_the_checks_wait_until_warm_hands_off_its_compiled_part():
    # warm's Python (before its first submit) runs alone; the checks then overlap the rest
    order = []

    def warm(submit):
        time.sleep(0.02)
        order.append("warm's Python")
        submit(order.append, "spare thread").result()

    out = _two_cells_around(warm, order)
    assert out == [0, 1]
    assert order.index("warm's Python") < order.index("check")


def test_early_cells_run_and_finish_while_warm_runs_and_come_back_in_sweep_order():
    # warm (the tree) waits until both early cells (tasks 2 and 5: K = 1, no tree) have run on the
    # other thread and ended: they cannot wait for warm. Their finishes warn; every warning and
    # value comes back in task order, the late cells started only once warm has ended.
    early_ran, warm_ended, log = threading.Event(), threading.Event(), []
    early = (2, 5)

    def warm(submit):
        submit(lambda: None).result()  # hands off at once: the checks and the early starts go on
        assert early_ran.wait(5)
        warm_ended.set()

    def start(task):
        log.append(("start", task, warm_ended.is_set()))
        return _pending(task)

    def run(task):
        log.append(("run", task))
        if all(("run", e) in log for e in early):
            early_ran.set()
        return -task

    def finish(task, pending, output):
        warnings.warn(f"cell {task}", UserWarning, stacklevel=1)
        return output

    tasks = list(range(7))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = list(threaded_cells(lambda task: task, start, run, finish, tasks, 2, warm=warm,
                                  cost=lambda task: float(task), early=lambda task: task in early))
    assert out == [-task for task in tasks]
    assert [str(w.message) for w in caught] == [f"cell {task}" for task in tasks]
    started = {task: after for kind, task, *after in log if kind == "start"}
    assert all(started[task] == [task not in early] for task in tasks)  # early before warm's end, the rest after
