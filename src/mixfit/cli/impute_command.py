"""``mixfit impute``: fill the missing cells of DATA from a fitted Gaussian mixture."""

from __future__ import annotations

import io

import numpy as np

from .app import _common, _data_options, _emit, _load, _read, cli, click
from .datafile import DataError, features_for, split_names

if click is not None:

    @cli.command()
    @click.argument("model_file", metavar="MODEL")
    @click.argument("data")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the CSV here instead of stdout.")
    @click.option("--sample", is_flag=True, help="Draw each row's missing cells from their conditional "
                  "distribution instead of taking its mean (one multiple-imputation draw).")
    @click.option("--seed", type=int, default=None, help="Seed of --sample's draws.")
    @_data_options
    @_common()
    def impute(model_file, data, output, sample, seed, no_header, columns, as_json, quiet):
        """Fill the empty / NA cells of DATA's feature columns from MODEL (a GaussianMixture or a
        GaussianMixtureImputer): each with its conditional mean given the row's observed cells."""
        from ..estimators import GaussianMixture, GaussianMixtureImputer

        saved = _load(model_file)
        model = saved.estimator
        if isinstance(model, GaussianMixtureImputer):
            imputer = GaussianMixtureImputer.from_mixture(model.mixture_, sample_posterior=sample, random_state=seed)
        elif isinstance(model, GaussianMixture):
            imputer = GaussianMixtureImputer.from_mixture(model, sample_posterior=sample, random_state=seed)
        else:
            raise DataError(f"{model_file} holds a {type(model).__name__}; mixfit impute needs a GaussianMixture "
                            "or a GaussianMixtureImputer model file")
        X, names = features_for(model, _read(data, no_header, missing=True), split_names(columns),
                                saved.metadata.get("columns"))
        n_missing = int(np.isnan(X).sum())
        filled = imputer.transform(X)
        if as_json:
            _emit(True, {"columns": names, "n_filled": n_missing, "values": filled}, "")
            return
        buffer = io.StringIO()
        np.savetxt(buffer, filled, fmt="%.10g", delimiter=",", header=",".join(names), comments="")
        text = buffer.getvalue().rstrip("\n")
        if output is None:
            click.echo(text)
        else:
            with open(output, "w") as stream:
                stream.write(text + "\n")
            if not quiet:
                click.echo(f"{n_missing} cells filled in {X.shape[0]} rows, written to {output}", err=True)
