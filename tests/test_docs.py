"""The documentation and the code cite the same equations.

STYLE rule 7: every formula line in src/ cites its PRML equation, like ``# (9.24)``, and the
derivations in docs/ carry the same numbers as anchors. The docs mark each equation with a MyST
target ``(eq-9-24)=`` (the HTML id ``eq-9-24``, ``eq-b-21`` for Appendix B) directly above a
math block that shows ``\\tag{9.24}``; an equation the code computes (an update) is a
``{math}`` directive with ``:class: update``. What PRML does not number gets a variant of a PRML
anchor (``eq-9-25-tied``, tag ``9.25 tied``) or mixfit's own series (``eq-m-2`` for the MAP
prior, ``eq-dp-3`` for stick breaking; cited in code as ``(M.2)``, ``(DP.3)``). These tests parse the markdown and the Python
sources as text, so they need neither Sphinx nor an import of mixfit.

(a) every equation number cited in a comment or string of src/ has an anchor in docs/;
(b) every update equation in docs/ is cited somewhere in src/;
plus the bookkeeping that keeps the anchors honest: each anchor sits on a math block with the
same tag, no anchor is defined twice, and every ``#eq-`` link points at an anchor.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "mixfit"
DOCS = ROOT / "docs"

# An equation number: PRML chapter 1-14 or appendix B, or mixfit's own series for what PRML does
# not number (M: the MAP prior, DP: stick breaking, T: the Student-t mixture), a dot, 1-3 digits; not part of a longer
# dotted number (9.2.1 is a section) nor of a decimal (10.5e-3).
_NUMBER = r"(?<![\w.])((?:1[0-4]|[1-9])|B|M|DP|T)\.(\d{1,3})(?![\w]|\.\d)"
_EQUATION = re.compile(_NUMBER)
# "A-B" (or "(A)-(B)") with no spaces is a range of consecutive equations; "(A) - (B)" with
# spaces is a difference of two equations and cites only its ends.
_RANGE = re.compile(_NUMBER + r"\)?[-\u2013]\(?" + _NUMBER)
# Section and figure numbers share the form: "PRML 9.2", "PRML 10.2" (one-digit minor part
# right after "PRML") and anything after "Figure"/"Section"/"section"/"Chapter".
_NOT_AN_EQUATION = re.compile(
    r"(?:PRML\s+(?:1[0-4]|[1-9])\.\d(?![\d.]))|(?:(?:Figure|Fig\.|Section|section|Chapter|§)\s*[\w.]+)"
)

# eq-9-24 <-> \tag{9.24}; eq-b-21 <-> B.21; eq-9-25-tied <-> \tag{9.25 tied} (a variant of an
# equation, derived on the page); eq-m-2, eq-dp-3 <-> M.2, DP.3 (mixfit's own numbers).
_ANCHOR = re.compile(r"^\((eq-([0-9]+|[bB]|[mM]|[dD][pP]|[tT])-([0-9]+)(?:-([a-z]+))?)\)=\s*$")
_TAG = re.compile(r"\\tag\{([^}]*)\}")
_LINK = re.compile(r"\]\([^)\s]*#(eq-[^)\s]+)\)|\{(?:ref|numref)\}`[^`<]*<(eq-[^>]+)>`")


def _key(chapter: str, number: str) -> str:
    return f"{chapter.upper()}.{int(number)}"


def _comment_and_string_text(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and string literal of a Python file (docstrings included)."""
    # Python >= 3.12 splits f-strings into pieces; their text is FSTRING_MIDDLE.
    kinds = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type in kinds]


def equations_in_text(text: str) -> set[str]:
    """The PRML equation numbers a piece of prose cites, ranges expanded."""
    text = _NOT_AN_EQUATION.sub(" ", text)
    found = {_key(*m.groups()) for m in _EQUATION.finditer(text)}
    for m in _RANGE.finditer(text):
        chapter, first, chapter_2, last = m.groups()
        if chapter.upper() == chapter_2.upper() and int(first) < int(last) <= int(first) + 20:
            found.update(_key(chapter, str(i)) for i in range(int(first), int(last) + 1))
    return found


def cited_in_src() -> dict[str, list[str]]:
    """Equation number -> the 'file:line' places in src/ that cite it."""
    cited: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for line, text in _comment_and_string_text(path):
            for eq in equations_in_text(text):
                cited.setdefault(eq, []).append(f"{path.relative_to(ROOT)}:{line}")
    return cited


def _math_block_after(lines: list[str], i: int) -> tuple[str, list[str]] | None:
    """The math block starting at line i (after blank lines): (its text, its option lines)."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        return None
    head = lines[i].strip()
    if head.startswith("$$"):
        body = [head[2:]]
        if head.endswith("$$") and len(head) > 4:
            return head[2:-2], []
        for line in lines[i + 1:]:
            if line.strip().endswith("$$"):
                body.append(line.strip()[:-2])
                return "\n".join(body), []
            body.append(line)
        return None
    fence = re.match(r"^(`{3,}|:{3,})\{math\}\s*$", head)
    if fence:
        options, body = [], []
        for line in lines[i + 1:]:
            if line.strip() == fence.group(1):
                return "\n".join(body), options
            if not body and re.match(r"^:\w+:", line.strip()):
                options.append(line.strip())
            else:
                body.append(line)
    return None


def doc_equations() -> list[dict]:
    """Every anchored equation of docs/: anchor, number, tag, whether it is an update, place."""
    out = []
    for path in sorted(DOCS.rglob("*.md")):
        if "_build" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = _ANCHOR.match(line.strip())
            if not m:
                continue
            block = _math_block_after(lines, i + 1)
            tags = _TAG.findall(block[0]) if block else []
            number = _key(m.group(2), m.group(3))
            out.append({
                "anchor": m.group(1).lower(),
                "number": number,
                "tag": number if m.group(4) is None else f"{number} {m.group(4)}",
                "tags": tags,
                "update": bool(block) and any(o.startswith(":class:") and "update" in o for o in block[1]),
                "where": f"{path.relative_to(ROOT)}:{i + 1}",
            })
    return out


def doc_links() -> list[tuple[str, str]]:
    links = []
    for path in sorted(DOCS.rglob("*.md")):
        if "_build" in path.parts:
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for m in _LINK.finditer(line):
                links.append(((m.group(1) or m.group(2)).lower(), f"{path.relative_to(ROOT)}:{i}"))
    return links


@pytest.fixture(scope="module")
def equations():
    found = doc_equations()
    assert found, "no anchored equations found under docs/"
    return found


def test_every_equation_cited_in_src_has_an_anchor_in_the_docs(equations):
    anchored = {eq["number"] for eq in equations if eq["where"].startswith("docs/math/")}
    missing = {eq: places for eq, places in cited_in_src().items() if eq not in anchored}
    assert not missing, "cited in src/ but not anchored in docs/math/: " + "; ".join(
        f"({eq}) at {', '.join(places)}" for eq, places in sorted(missing.items()))


def test_every_update_in_the_docs_is_cited_in_src(equations):
    cited = cited_in_src()
    uncited = [f"({eq['number']}) at {eq['where']}" for eq in equations if eq["update"] and eq["number"] not in cited]
    assert not uncited, "marked as an update in docs/ but cited nowhere in src/: " + "; ".join(uncited)


def test_each_anchor_sits_on_an_equation_with_the_same_tag(equations):
    wrong = [f"{eq['anchor']} at {eq['where']} tags {eq['tags']}" for eq in equations
             if eq["tags"] != [eq["tag"]]]
    assert not wrong, "anchors not directly above a math block tagged with their number: " + "; ".join(wrong)


def test_no_anchor_is_defined_twice(equations):
    seen: dict[str, str] = {}
    twice = []
    for eq in equations:
        if eq["anchor"] in seen:
            twice.append(f"{eq['anchor']} at {seen[eq['anchor']]} and {eq['where']}")
        seen[eq["anchor"]] = eq["where"]
    assert not twice, "; ".join(twice)


def test_every_equation_link_in_the_docs_has_a_target(equations):
    anchors = {eq["anchor"] for eq in equations}
    dangling = [f"#{anchor} at {where}" for anchor, where in doc_links() if anchor not in anchors]
    assert not dangling, "links to equation anchors that do not exist: " + "; ".join(dangling)


def test_src_links_into_the_docs_point_at_anchors(equations):
    """A comment like ``see docs/math/vb.md#eq-10-63`` must name an existing anchor."""
    anchors = {eq["anchor"] for eq in equations}
    dangling = []
    for path in sorted(SRC.rglob("*.py")):
        for line, text in _comment_and_string_text(path):
            for m in re.finditer(r"docs/[\w/.-]+\.md#(eq-[\w-]+)", text):
                if m.group(1).lower() not in anchors:
                    dangling.append(f"{m.group(0)} at {path.relative_to(ROOT)}:{line}")
    assert not dangling, "; ".join(dangling)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# (9.24), shifted form", {"9.24"}),
        ("(PRML 9.2.1) and PRML 10.2 and Figure 9.8", set()),
        ("(PRML 9.25 and its analogues)", {"9.25"}),
        ("PRML 10.51-10.53 are the EM quantities", {"10.51", "10.52", "10.53"}),
        ("(10.58)-(10.63)", {"10.58", "10.59", "10.60", "10.61", "10.62", "10.63"}),
        ("# (10.76) - (10.73)", {"10.76", "10.73"}),
        ("(B.68 with D = 1) and (B.21)", {"B.68", "B.21"}),
        ("1e-3 and 0.01 and 10 ulps", set()),
        ("# (M.2 tied), see (DP.3)", {"M.2", "DP.3"}),
    ],
    ids=["comment", "sections-and-figures", "prml-prefixed-equation", "range", "parenthesised-range",
         "difference", "appendix-b", "plain-numbers", "own-numbers"],
)
def test_citation_parser(text, expected):
    assert equations_in_text(text) == expected
