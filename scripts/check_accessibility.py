"""WCAG 2.1 AA check of the course's HTML: axe-core in headless Chromium (Selenium), plus the bundle's own rules.

Usage: python scripts/check_accessibility.py [--notebooks DIR] [--no-report] [--no-docs] [HTML ...]

Checks, by default: the HTML exports of the executed notebooks (``--notebooks``, default
``artifacts/<profile>/notebooks``, as ``make run`` writes them), a class report page written by
``grading/report.py`` from a small made-up class, and every ``docs/*.md`` rendered to HTML
(Python-Markdown, as a reader's viewer would); any other HTML files named on the command line too.
Every page must have no axe-core violation of the rules tagged wcag2a, wcag2aa, wcag21a or wcag21aa,
and pass the bundle's own rules, which axe does not make: every image has a text alternative and
none is nbconvert's placeholder, no script is loaded from another site (the pages work offline),
heading levels never skip one. Exit status 1 lists every problem, page by page.

Needs Chromium and its ChromeDriver (``CHROMIUM``, ``CHROMEDRIVER``, else found on PATH),
selenium (the test extra) and axe-core from npm (``npm ci`` in the checkout, pinned in
package.json and package-lock.json; ``AXE_CORE_JS`` names another copy of axe.min.js).
``make accessibility`` runs it after ``npm ci``; tests/test_accessibility.py runs it small.
"""
from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PLACEHOLDER_ALT = "No description has been provided for this image"  # nbconvert's
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1024"]

OWN_RULES = """
const placeholder = arguments[0], problems = [];
for (const img of document.querySelectorAll('img')) {
  const alt = img.getAttribute('alt');
  if (alt === null) problems.push('image without a text alternative: ' + img.outerHTML.slice(0, 80));
  else if (alt.trim() === placeholder) problems.push("image with nbconvert's placeholder text alternative");
}
for (const script of document.querySelectorAll('script[src]')) {
  if (/^(https?:)?\\/\\//i.test(script.getAttribute('src'))) problems.push('script loaded from another site: ' + script.src);
}
let last = 0;
for (const heading of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
  const level = Number(heading.tagName[1]);
  if (level > last + 1) problems.push(`heading level skips from h${last} to h${level}: ` + heading.textContent.trim().slice(0, 60));
  last = level;
}
return problems;
"""

RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(results => done(results.violations.map(v =>
      `${v.id} (${v.impact}): ${v.help} [${v.nodes.length} element(s), e.g. ${v.nodes[0].target.join(' ')}: `
      + `${(v.nodes[0].failureSummary || '').replace(/\\s+/g, ' ').slice(0, 300)}]`)))
  .catch(error => done(['axe-core failed: ' + error]));
"""


def browser() -> tuple[str, str] | str:
    """(chromium, chromedriver) paths, or why they cannot be used."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium or not driver:
        return "Chromium and ChromeDriver are needed (e.g. apt install chromium chromium-driver; or set CHROMIUM, CHROMEDRIVER)"
    return chromium, driver


def axe_script() -> Path | str:
    """axe.min.js, or why it is missing."""
    path = Path(os.environ.get("AXE_CORE_JS") or ROOT / "node_modules" / "axe-core" / "axe.min.js")
    return path if path.is_file() else f"axe-core is missing ({path}): run `npm ci` in {ROOT}"


def start(chromium: str, chromedriver: str, profile: Path):
    """A headless Chromium driven by Selenium, with a fresh profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_script_timeout(120)
    return driver


def check_page(driver, page: Path, axe_source: str) -> list[str]:
    """The problems of one HTML page: axe-core's WCAG 2.1 A/AA violations and the bundle's own rules."""
    driver.get(page.resolve().as_uri())
    driver.execute_script(axe_source)
    return driver.execute_script(OWN_RULES, PLACEHOLDER_ALT) + driver.execute_async_script(RUN_AXE, TAGS)


def markdown_page(source: Path, out: Path) -> Path:
    """``source`` (Markdown) as a standalone HTML page in ``out``, titled by its first heading."""
    import markdown

    text = source.read_text(encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    title = next((line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")), source.stem)
    page = out / f"{source.stem}.html"
    page.write_text(f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
                    f"<body><main>\n{body}\n</main></body></html>\n", encoding="utf-8")
    return page


def sample_report(out: Path) -> Path:
    """A class report page (grading/report.py) for a made-up class of three, one pair of them similar."""
    sys.path.insert(0, str(ROOT))
    from grading import report

    scores = [("ada", 7.0, 10.0), ("ben", 4.0, 10.0), ("cy", 9.0, 10.0)]
    stats = {name: {"students": 3, "passed": passed, "pass_rate": passed / 3, "mean_points": 1.5, "possible": 2,
                    "visible_passed": passed, "visible": 3, "hidden_passed": 1, "hidden": 2,
                    "top_reasons": [("shape (4, 3) expected, got (3, 4)", 2)]} for name, passed in (("relu", 3), ("softmax", 1))}
    sim = {"students": ["ada", "ben", "cy"], "scores": [[1, 0.2, 0.9], [0.2, 1, 0.1], [0.9, 0.1, 1]],
           "pairs": [{"a": "ada", "b": "cy", "score": 0.9, "shared": 40, "file_score": 0.8,
                      "passages": [{"function": "relu", "share": 0.9, "a": "return np.maximum(x, 0)",
                                    "b": "return np.maximum(0, x)"}]}]}
    records = [{"student": s, "archive": f"{s}.zip", "status": "graded", "isolation": "bubblewrap"} for s, _, _ in scores]
    records.append({"student": "dee", "archive": "dee.zip", "status": "refused", "reason": "not a submission archive"})
    files = report.figures(out / report.FIGURES, scores, stats, sim)
    page = out / report.PAGE
    page.write_text(report.page(records, stats, scores, sim, files, "120 s and 4 GiB per submission", []), encoding="utf-8")
    return page


def pages(args, out: Path) -> list[Path]:
    """Every page to check: the named ones, the notebooks' exports, the sample report, the docs."""
    found = list(args.html)
    if args.notebooks and args.notebooks.is_dir():
        found += sorted(args.notebooks.glob("*.html"))
    if not args.no_report:
        found.append(sample_report(out / "report"))
    if not args.no_docs:
        (out / "docs").mkdir()
        found += [markdown_page(doc, out / "docs") for doc in sorted((ROOT / "docs").glob("*.md"))]
    return found


def check(files: list[Path]) -> dict[str, list[str]]:
    """``{page: problems}`` of every page in ``files`` (one Chromium for all of them)."""
    found, axe = browser(), axe_script()
    for missing in (found, axe):
        if isinstance(missing, str):
            raise RuntimeError(missing)
    with tempfile.TemporaryDirectory(prefix="a11y-chromium-") as profile:
        driver = start(*found, Path(profile))
        try:
            source = axe.read_text(encoding="utf-8")
            return {str(page): check_page(driver, page, source) for page in files}
        finally:
            driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="*", type=Path, help="more HTML pages to check")
    parser.add_argument("--notebooks", type=Path, help="folder of HTML exports (default: artifacts/<profile>/notebooks)")
    parser.add_argument("--no-report", action="store_true", help="leave out the sample class report")
    parser.add_argument("--no-docs", action="store_true", help="leave out docs/*.md")
    args = parser.parse_args()
    if args.notebooks is None:
        sys.path.insert(0, str(ROOT))
        from helpers.core import config
        args.notebooks = config.run_dir() / "notebooks"
    with tempfile.TemporaryDirectory(prefix="a11y-pages-") as out:
        files = pages(args, Path(out))
        try:
            results = check(files)
        except RuntimeError as err:
            print(f"accessibility check not run: {err}", file=sys.stderr)
            return 2
    failed = {page: problems for page, problems in results.items() if problems}
    for page, problems in results.items():
        print(f"{'FAIL' if problems else 'ok  '} {page}")
        print("".join(f"     - {problem}\n" for problem in problems), end="")
    print(f"{len(results)} pages checked against axe-core ({', '.join(TAGS)}) and the bundle's rules: "
          f"{len(failed)} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
