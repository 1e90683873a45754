"""The registry is the one list of covariance families: the docs table, the CLI choice, the
selection defaults and the parameter counts all read it."""

import re
from pathlib import Path

import pytest

from mixfit import GaussianMixtureIC
from mixfit.families import registry
from mixfit.selection import select_model

DOCS = Path(__file__).resolve().parent.parent / "docs" / "families.md"


def _docs_rows():
    """The first table's body: the rows after its header's |---| line, up to its end."""
    lines = DOCS.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|---")) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    body = lines[start:end]
    assert all(re.match(r"\| `\w+` \|", line) for line in body)
    return [line.split("|")[1:-1] for line in body]


def test_docs_table_lists_exactly_the_registry():
    """Each registry family has one row, in registry order, with its mclust names, strategy and
    priors (VB, MAP); no row names a family the registry lacks."""
    rows = [[cell.strip() for cell in row] for row in _docs_rows()]
    assert [row[0] for row in rows] == [f"`{f.name}`" for f in registry.FAMILIES]
    for row, family in zip(rows, registry.FAMILIES):
        assert row[1] == ", ".join(family.aliases)
        assert row[2] == f"`{family.strategy.__name__}`"
        assert row[3] == f"`{family.precision_prior.__name__}`"
        assert row[4] == f"`{(family.map_prior or family.precision_prior).__name__}`"


def test_consumers_read_the_registry():
    """The order users see (full, tied, diag, spherical) and every list that shows it."""
    import inspect

    click = pytest.importorskip("click")  # the [cli] extra
    from mixfit.cli.commands import cli

    assert registry.COVARIANCE_TYPES == ("full", "tied", "diag", "spherical")
    assert GaussianMixtureIC().covariance_types == registry.COVARIANCE_TYPES
    assert inspect.signature(select_model).parameters["covariance_types"].default == registry.COVARIANCE_TYPES
    choice = next(p for p in cli.commands["fit"].params if p.name == "covariance_type").type
    # the fit command offers scikit-learn's four, then mclust's fourteen names, both from the registry
    assert isinstance(choice, click.Choice)
    assert tuple(choice.choices) == registry.COVARIANCE_TYPES + registry.MCLUST_MODEL_NAMES


@pytest.mark.parametrize(("name", "count"), [("full", 3 * 4 * 5 // 2), ("tied", 4 * 5 // 2), ("diag", 3 * 4),
                                             ("spherical", 3)])
def test_parameter_counts_by_hand(name, count):
    """K = 3, D = 4: the covariances' free parameters counted by hand; the mixture adds K - 1
    weights and K D means."""
    assert registry.family(name).n_covariance_parameters(3, 4) == count
    assert registry.n_parameters(3, 4, name) == 2 + 12 + count


def test_unknown_family_message_and_aliases_accepted():
    """One message for an unknown name, listing every accepted name; mclust's names for
    scikit-learn's four give the same family; all fourteen mclust names are accepted."""
    with pytest.raises(ValueError, match=r"covariance_type='VVX' is not one of \['full', 'VVV', 'tied', 'EEE', "):
        registry.make_covariance("VVX")
    with pytest.raises(ValueError, match="expected distinct covariance types"):
        registry.covariance_types(["full", "full"])
    assert registry.covariance_types("diag") == ["diag"]
    for alias, name in [("VVV", "full"), ("EEE", "tied"), ("VVI", "diag"), ("VII", "spherical")]:
        assert registry.family(alias) is registry.family(name)
        assert type(registry.make_covariance(alias)) is type(registry.make_covariance(name))
    assert set(registry.MCLUST_MODEL_NAMES) <= set(registry.ACCEPTED_NAMES)
    assert len({registry.family(name).name for name in registry.MCLUST_MODEL_NAMES}) == 14


def test_precision_prior_matches_the_family():
    """The four have their conjugate prior; the ten constrained families refuse MAP and VB with
    a ValueError naming the family."""
    for family in registry.FAMILIES:
        covariance = registry.make_covariance(family.name)
        if family.aliases:
            assert type(registry.make_precision_prior(covariance)) is family.precision_prior
        else:
            with pytest.raises(ValueError, match=f"covariance_type='{family.name}' has no conjugate precision prior"):
                registry.make_precision_prior(covariance)
