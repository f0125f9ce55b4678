"""WCAG 2.1 AA, small: a notebook executed here and exported as scripts/run_notebooks.py does, a class
report page (grading/report.py) and docs/*.md, through scripts/check_accessibility.py (axe-core in
headless Chromium). `make accessibility` checks the real notebooks' exports the same way."""
import os
import re
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.core.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import check_accessibility  # scripts/check_accessibility.py
import notebook_html  # scripts/notebook_html.py

CELLS = [
    ("markdown", "# A sample notebook\n\nThe loss $L = -\\frac{1}{n}\\sum_i \\log P_{i y_i}$ and its gradient "
                 "$P - Y$; see [the installation guide](../docs/INSTALL.md). Code such as `cost = $5` stays code.\n\n"
                 "## Figures"),
    ("code", "%matplotlib inline\nimport numpy as np\nimport pandas as pd\nfrom IPython.display import display\n\n"
             "from helpers.notebook import plots\nfrom helpers.train import History"),
    ("code", "curves = {name: History(loss={'train': [2.3, 1.9, 1.7], 'test': [2.3, 2.0, 1.8]},\n"
             "                        acc={'train': [0.1, 0.3, 0.4], 'test': [0.1, 0.28, end]}, lr=[0.1, 0.1, 0.01])\n"
             "          for name, end in (('unaugmented', 0.33), ('augmented', 0.35))}\n"
             "plots.training_curves(curves);\nprint('trained')"),
    ("code", "counts = np.array([[8, 1, 1], [2, 7, 1], [0, 3, 7]])\n"
             "plots.confusion_heatmaps(counts, ['cat', 'dog', 'ship'], title='augmented');\n"
             "plots.per_class_difference(np.array([0.02, -0.03, 0.01]), ['cat', 'dog', 'ship'], 'augmented minus unaugmented');"),
    ("markdown", "### The numbers\n\n$$\\frac{\\partial L}{\\partial S} = \\frac{1}{n}(P - Y).$$"),
    ("code", "display(pd.DataFrame({'test accuracy': [0.33, 0.35]}, index=['unaugmented', 'augmented']))"),
]


@pytest.fixture(scope="module")
def executed():
    """The sample notebook, executed in a Jupyter kernel (helpers importable from this checkout)."""
    cells = [nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
             for kind, text in CELLS]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                        "language": "python"}})
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = path
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    finally:
        os.environ.pop("PYTHONPATH") if old is None else os.environ.__setitem__("PYTHONPATH", old)
    return nb


def test_every_figure_output_and_its_html_image_carry_a_text_alternative(executed):
    images = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert len(images) == 3  # the curves, the confusion matrix, the bars: each once
    alts = [out.metadata["image/png"]["alt"] for out in images]
    assert all(out.data["text/plain"] == alt for out, alt in zip(images, alts))
    assert "“augmented” ends highest, 2.0 points above “unaugmented”" in alts[0]
    assert "most frequent mistake: ship taken for dog (3 times)" in alts[1]
    page = notebook_html.export_html(executed)
    tags = [tag for tag in re.findall(r"<img[^>]*>", page) if 'src="data:image/png' in tag]
    assert [re.search(r'alt="([^"]*)"', tag).group(1) for tag in tags] == alts  # in order, nothing lost
    assert check_accessibility.PLACEHOLDER_ALT not in page
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", page)  # works offline
    assert page.count("<math ") == 3 and "cost = $5" in page  # math as MathML; code left alone


def test_the_pages_pass_wcag_21_aa(executed, tmp_path):
    for missing in (check_accessibility.browser(), check_accessibility.axe_script()):
        if isinstance(missing, str):
            pytest.skip(missing)
    export = tmp_path / "sample.html"
    export.write_text(notebook_html.export_html(executed), encoding="utf-8")
    (tmp_path / "docs").mkdir()
    pages = [export, check_accessibility.sample_report(tmp_path / "report"),
             *[check_accessibility.markdown_page(doc, tmp_path / "docs") for doc in sorted((REPO_ROOT / "docs").glob("*.md"))]]
    problems = {page: found for page, found in check_accessibility.check(pages).items() if found}
    assert not problems, "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())


def test_the_check_finds_what_it_is_for(tmp_path):
    """A page with the faults the check exists for fails it: no lang, low contrast, a placeholder alt, a CDN script."""
    for missing in (check_accessibility.browser(), check_accessibility.axe_script()):
        if isinstance(missing, str):
            pytest.skip(missing)
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><title>bad</title><script src='https://cdn.example/x.js'></script></head>"
                   "<body><h1>bad</h1><h3>skipped a level</h3><p style='color:#bbb'>faint</p>"
                   f"<img src='x.png' alt='{check_accessibility.PLACEHOLDER_ALT}'><img src='y.png'></body></html>")
    found = " ".join(check_accessibility.check([bad])[str(bad)])
    for expected in ("html-has-lang", "color-contrast", "placeholder", "another site", "skips from h1 to h3",
                     "without a text alternative"):
        assert expected in found
