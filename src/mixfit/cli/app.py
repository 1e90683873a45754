"""The ``mixfit`` command line, thin over the public API.

    mixfit demo [--example faithful|tutorial] [--out mixfit-demo.png]
    mixfit fit DATA -k K [--method em|vb] [--covariance full|tied|diag|spherical] -o model.mixfit
    mixfit predict MODEL DATA [--proba] [-o out.csv]
    mixfit score MODEL DATA
    mixfit plot MODEL DATA -o fig.png
    mixfit info MODEL
    mixfit select DATA [-k 1:9] [--covariance full,tied,...] [--criterion bic|aic|icl|elbo] [--method em|vb]

DATA is CSV or TSV (a header row is detected; ``--no-header`` says there is none), ``.npy``,
Parquet (with pyarrow installed), or ``-`` for CSV on stdin. Headerless columns are named x1, x2, ...
Output is a table, or JSON with ``--json``. Exit status: 0 done, 1 a data or model problem, 2 a
usage mistake; an error is one line on stderr (``--debug`` adds the traceback).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
import warnings

from .datafile import DataError, read_data
from .report import jsonable

try:
    import click
except ImportError:  # the [cli] extra is not installed
    click = None


# ---- warnings --------------------------------------------------------------------


@contextlib.contextmanager
def _warnings_to_stderr(quiet: bool):
    """Library warnings as one line each on stderr (none with --quiet)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if not quiet:
        for warning in caught:
            click.echo(f"mixfit: warning: {' '.join(str(warning.message).split())}", err=True)


def _emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(jsonable(payload), indent=2) if as_json else text)



# ---- the group and what every command shares -----------------------------------------------------


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if click is not None:

    class _Group(click.Group):
        """Every error as one line on stderr and an exit status: 2 usage, 1 data or model."""

        def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
            args = list(sys.argv[1:] if args is None else args)
            debug = "--debug" in args
            code = 0
            try:
                result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
                code = result if isinstance(result, int) else 0
            except click.UsageError as error:
                where = error.ctx.command_path if error.ctx is not None else "mixfit"
                code = self._fail(debug, f"{where}: {error.format_message()} (see '{where} --help')", 2)
            except click.ClickException as error:
                code = self._fail(debug, error.format_message(), error.exit_code)
            except click.Abort:
                code = self._fail(debug, "aborted", 1)
            except (DataError, ValueError, OSError) as error:  # ModelFileError is a ValueError
                code = self._fail(debug, str(error), 1)
            except Exception as error:  # noqa: BLE001  (a bug: still one line, the traceback with --debug)
                code = self._fail(debug, f"unexpected {type(error).__name__}: {error} "
                                  "(please report it; --debug shows where)", 1)
            if standalone_mode:
                sys.exit(code)
            return code

        @staticmethod
        def _fail(debug: bool, message: str, code: int) -> int:
            if debug:
                traceback.print_exc(file=sys.stderr)
            click.echo(f"mixfit: error: {' '.join(message.split())}", err=True)
            return code

    def _common(json_flag=True):
        def decorate(f):
            f = click.option("--debug", is_flag=True, expose_value=False,
                             help="On an error, show the traceback too.")(f)
            f = click.option("-q", "--quiet", is_flag=True, help="No progress bar, warnings or notes on stderr.")(f)
            if json_flag:
                f = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(f)
            return f
        return decorate

    def _data_options(f):
        f = click.option("--no-header", is_flag=True, help="The first row of a CSV/TSV is data, not names.")(f)
        f = click.option("--columns", metavar="A,B,...", help="Feature columns by name (headerless: x1,x2,...).")(f)
        return f

    def _read(path, no_header, missing=False):
        return read_data(path, header=False if no_header else None, missing=missing)

    def _load(path):
        from ..modelfile.io import read_model_file

        if not os.path.exists(path):
            raise DataError(f"{path}: no such model file")
        return read_model_file(path)

    @click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="mixfit")
    @click.option("--debug", is_flag=True, expose_value=False, help="On an error, show the traceback too.")
    def cli():
        """Fit mixture models by EM and variational Bayes."""


def main(argv=None):
    if click is None:
        sys.stderr.write("mixfit: the command line needs click: pip install 'mixfit[cli]'\n")
        return 1
    return cli.main(args=argv, prog_name="mixfit")
