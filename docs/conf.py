"""Sphinx configuration for the mixfit documentation.

Build: ``pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")  # the gallery runs its examples headless

project = "mixfit"
author = "mixfit developers"
copyright = "mixfit developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["sg_execution_times.rst", "_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.json"]

# MyST: $...$ and $$...$$ for maths; ``(eq-9-24)=`` targets give every PRML equation its anchor.
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# Equations carry PRML's numbers through \tag{9.24}; Sphinx's own sequential numbers are not used.
math_number_all = False

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_default_options = {}
autodoc_typehints = "none"

intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["mixfit.css"]
html_theme_options = {"description": "Gaussian mixtures by EM and variational Bayes, on one seam"}
