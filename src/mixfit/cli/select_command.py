"""``mixfit select``: fit every K x covariance type and rank the cells."""

from __future__ import annotations

import os
import sys
from functools import partial

from ..families.registry import COVARIANCE_TYPES
from ..families.registry import covariance_types as checked_types
from .app import _common, _data_options, _emit, _has_matplotlib, _read, _warnings_to_stderr, cli, click
from .datafile import select_columns, split_names

if click is not None:

    def _k_range(text: str) -> list[int]:
        """'1:9' (inclusive), '3' or '1,2,5' -> the numbers of components."""
        try:
            if ":" in text:
                low, high = (int(part) for part in text.split(":"))
                ks = list(range(low, high + 1))
            else:
                ks = [int(part) for part in text.split(",")]
        except ValueError:
            raise click.BadParameter(f"{text!r}; expected LOW:HIGH, K or K1,K2,...", param_hint="-k") from None
        if not ks or min(ks) < 1:
            raise click.BadParameter(f"{text!r}; expected numbers of components >= 1", param_hint="-k")
        return ks

    def _covariance_types(ctx, param, text: str) -> list[str]:
        """--covariance: comma-separated names checked before any data is read (a usage mistake)."""
        names = split_names(text)
        try:
            return checked_types(names)
        except ValueError as error:
            raise click.BadParameter(f"{text!r}: {error}") from None

    @cli.command()
    @click.argument("data")
    @click.option("-k", "--n-components", "k_text", default="1:9", show_default=True, metavar="LOW:HIGH",
                  help="Numbers of components: a range LOW:HIGH (inclusive) or a list K1,K2,...")
    @click.option("--covariance", "--families", "covariance_types", default=",".join(COVARIANCE_TYPES),
                  show_default=True, metavar="TYPES", callback=_covariance_types,
                  help="Comma-separated covariance types, or 'all' for mclust's fourteen families.")
    @click.option("--criterion", type=click.Choice(["bic", "aic", "icl", "elbo"]), default=None,
                  help="[default: bic for em, elbo for vb]")
    @click.option("--method", type=click.Choice(["em", "vb"]), default="em", show_default=True)
    @click.option("--model", "component_model", type=click.Choice(["gaussian", "t", "both"]), default="gaussian",
                  show_default=True, help="Gaussian components, Student-t (EM), or both in one table.")
    @click.option("--mclust-sign", is_flag=True, help="Report 2 ln L - penalty (higher is better), as mclust.")
    @click.option("--n-init", default=10, show_default=True, type=click.IntRange(0, None),
                  help="Random starts per cell besides the hierarchical start.")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(0, None))
    @click.option("--jobs", "n_jobs", default=1, show_default=True, type=int, help="Cells fitted in parallel.")
    @click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw the criterion curves here.")
    @click.option("--progress/--no-progress", default=None,
                  help="Show a progress bar [default: when stderr is a terminal].")
    @_data_options
    @_common()
    def select(data, k_text, covariance_types, criterion, method, component_model, mclust_sign, n_init, seed, n_jobs,
               plot_path, progress, no_header, columns, as_json, quiet):
        """Fit every K x covariance type (x Gaussian / t) to DATA and rank them by BIC, AIC, ICL or ELBO."""
        from ..selection import compare_models, select_model

        if component_model != "gaussian" and method != "em":
            raise click.UsageError(f"--model {component_model} is fitted by EM: use it with --method em")
        if criterion is not None and (criterion == "elbo") != (method == "vb"):
            raise click.UsageError(f"--criterion {criterion} does not apply to --method {method}")
        if plot_path is not None and not _has_matplotlib():
            raise click.ClickException("--plot needs matplotlib: pip install 'mixfit[plot]'")
        X, names = select_columns(_read(data, no_header), split_names(columns))
        show = (not quiet and sys.stderr.isatty()) if progress is None else progress
        with _warnings_to_stderr(quiet):
            # --model: Gaussian cells (select_model by --method), t cells, or both in one table
            sweep = {"both": compare_models, "t": partial(select_model, method="t")}.get(
                component_model, partial(select_model, method=method))
            result = sweep(X, _k_range(k_text), covariance_types,
                           criterion=criterion or ("elbo" if method == "vb" else "bic"),
                           convention="mclust" if mclust_sign else "sklearn", n_init=n_init, random_state=seed,
                           n_jobs=n_jobs, progress=show, **({"max_iter": 500} if method == "vb" else {}))
        if plot_path is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            ax = result.plot()
            ax.figure.savefig(plot_path, dpi=110)
            plt.close(ax.figure)
        payload = {"data": data, "columns": names, **result.to_dict(), "figure": plot_path}
        text = f"{X.shape[0]} rows of {', '.join(names)}\n\n{result}"
        if plot_path is not None:
            text += f"\n\nfigure written to {os.path.abspath(plot_path)}"
        _emit(as_json, payload, text)
