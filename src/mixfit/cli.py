"""The ``mixfit`` command line, thin over the public API."""

from __future__ import annotations

import sys

import numpy as np

try:
    import click
except ImportError:  # the [cli] extra is not installed
    click = None


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in rows)


def _fmt(values) -> str:
    return np.array2string(np.asarray(values), precision=4, suppress_small=True, separator=", ",
                           max_line_width=100).replace("\n", "\n" + " " * 14)


def demo_report(n_components: int = 2, random_state: int = 0) -> str:
    """Fit the embedded Old Faithful data by EM and describe the fit as text."""
    from .datasets import load_faithful
    from .estimators import GaussianMixture

    X, names = load_faithful()
    gm = GaussianMixture(n_components, random_state=random_state).fit(X)
    lines = [
        f"Old Faithful ({X.shape[0]} eruptions; columns {', '.join(names)}): "
        f"GaussianMixture(n_components={n_components}, covariance_type='full') by EM",
        "",
    ]
    order = np.argsort(gm.means_[:, 0])
    for rank, k in enumerate(order):
        lines.append(f"component {rank}")
        lines.append(_table([
            ("weight", f"{gm.weights_[k]:.4f}"),
            ("mean", _fmt(gm.means_[k])),
            ("covariance", _fmt(gm.covariances_[k])),
        ]))
    lines += [
        "",
        _table([
            ("log-likelihood", f"{gm.score(X) * X.shape[0]:.4f}  ({gm.score(X):.6f} per sample)"),
            ("BIC", f"{gm.bic(X):.4f}  (-2 ln L + p ln n; lower is better)"),
            ("iterations", f"{gm.n_iter_}  (converged: {gm.converged_})"),
        ]),
    ]
    return "\n".join(lines)


if click is not None:

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="mixfit")
    def cli():
        """Fit mixture models by EM and variational Bayes."""

    @cli.command()
    @click.option("-k", "--n-components", default=2, show_default=True, type=click.IntRange(1, 272))
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(0, None))
    def demo(n_components, seed):
        """Fit the embedded Old Faithful data and print the fitted parameters."""
        click.echo(demo_report(n_components, seed))


def main(argv=None):
    if click is None:
        sys.stderr.write("mixfit: the command line needs click: pip install 'mixfit[cli]'\n")
        return 1
    return cli.main(args=argv, prog_name="mixfit")


if __name__ == "__main__":
    sys.exit(main())
