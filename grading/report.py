"""The class report beside the gradebook: one static HTML page (report.html) and its figures as files.

:func:`finish` is what grade-all runs after grading: the similarity of the class
(:mod:`grading.similarity`, incremental), the exports (:mod:`grading.export`) and this page.
The page shows the score histogram; each graded function's pass rate, its most common failure
reasons (the visible tests' own messages) and its hidden tests as counts only; the similar pairs
with their matching functions side by side and the heat map; the isolation level and limits the
grades were made under. The figures are PNG files (matplotlib, Agg) with their numbers as CSV in
``report/``; the page has no scripts and loads nothing from the network.
"""
from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np

from grading import export, similarity
from grading.grader import by_function, totals

PAGE = "report.html"
FIGURES = "report"
TOP_REASONS = 3


def reason(message: str) -> str:
    """A failure message as a reason to count: its first line, numbers replaced by ``#``, at most 120 characters."""
    first = (message.strip().splitlines() or [""])[0]
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", first)[:120]


def function_stats(records: list[dict]) -> dict[str, dict]:
    """Per graded function, over the graded records: students, full passes, pass rate, mean points, visible tests
    passed and run, hidden tests passed and run, and the most common visible failure reasons (per student)."""
    stats: dict[str, dict] = {}
    for record in (r for r in records if r["status"] == "graded"):
        for name, row in by_function(record["results"]).items():
            entry = stats.setdefault(name, {"students": 0, "passed": 0, "points": 0.0, "possible": row["possible"],
                                            "visible": 0, "visible_passed": 0, "hidden": 0, "hidden_passed": 0,
                                            "reasons": Counter()})
            entry["students"] += 1
            entry["passed"] += row["passed"] == row["tests"]
            entry["points"] += row["points"]
            entry["visible"] += row["tests"] - row["hidden"]
            entry["visible_passed"] += row["passed"] - row["hidden_passed"]
            entry["hidden"] += row["hidden"]
            entry["hidden_passed"] += row["hidden_passed"]
            visible = {reason(t["message"]) for t in record["results"].values()
                       if t["function"] == name and not t["passed"] and not t["hidden"]}
            entry["reasons"].update(visible)
    for entry in stats.values():
        entry["pass_rate"] = entry["passed"] / entry["students"]
        entry["mean_points"] = entry["points"] / entry["students"]
        entry["top_reasons"] = entry.pop("reasons").most_common(TOP_REASONS)
    return dict(sorted(stats.items()))


def score_rows(records: list[dict]) -> list[tuple[str, float, float]]:
    """``(student, points, possible)`` of every graded record, by student."""
    return [(r["student"], *totals(r["results"])) for r in sorted(records, key=lambda r: r["student"])
            if r["status"] == "graded"]


def _save(fig, file: Path) -> None:
    fig.savefig(file, dpi=100, bbox_inches="tight")


def figures(folder: Path, scores: list[tuple], stats: dict, sim: dict) -> dict[str, str]:
    """Write the figures (PNG) and their numbers (CSV) into ``folder``; ``{figure: file name}``."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    possible = max([p for _, _, p in scores] + [1])
    ax.hist([s for _, s, _ in scores], bins=np.linspace(0, possible, min(int(possible), 20) + 1), color="#4477aa")
    ax.set(xlabel="points", ylabel="students", title=f"Scores of {len(scores)} graded submissions")
    _save(fig, folder / "scores.png")
    fig = Figure(figsize=(6, 0.25 * len(stats) + 1))
    ax = fig.subplots()
    ax.barh(list(stats), [s["pass_rate"] for s in stats.values()], color="#228833")
    ax.set(xlim=(0, 1), xlabel="share of students passing all its tests", title="Pass rate per graded function")
    ax.invert_yaxis()
    _save(fig, folder / "functions.png")
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    image = ax.imshow(sim["scores"] if len(sim["students"]) else np.zeros((1, 1)), vmin=0, vmax=1, cmap="viridis")
    ax.set(title="Similarity of graded functions (share of k-grams)", xlabel="student", ylabel="student")
    if len(sim["students"]) <= 60:
        ax.set_xticks(range(len(sim["students"])), sim["students"], rotation=90, fontsize=6)
        ax.set_yticks(range(len(sim["students"])), sim["students"], fontsize=6)
    fig.colorbar(image, ax=ax)
    _save(fig, folder / "similarity.png")
    _figure_data(folder, scores, stats, sim)
    return {"scores": "scores.png", "functions": "functions.png", "similarity": "similarity.png"}


def _write_csv(file: Path, header: list[str], rows) -> None:
    with open(file, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _figure_data(folder: Path, scores: list[tuple], stats: dict, sim: dict) -> None:
    _write_csv(folder / "scores.csv", ["student", "points", "possible"], [(s, f"{e:g}", f"{p:g}") for s, e, p in scores])
    _write_csv(folder / "functions.csv", ["function", "students", "passed_all", "pass_rate", "mean_points", "possible",
                                          "visible_passed", "visible", "hidden_passed", "hidden", "top_reasons"],
               [(name, s["students"], s["passed"], f"{s['pass_rate']:.4f}", f"{s['mean_points']:.4g}", f"{s['possible']:g}",
                 s["visible_passed"], s["visible"], s["hidden_passed"], s["hidden"],
                 " | ".join(f"{count}x {text}" for text, count in s["top_reasons"])) for name, s in stats.items()])
    _write_csv(folder / "similar_pairs.csv", ["student_a", "student_b", "function_share", "shared_kgrams", "file_share"],
               [(p["a"], p["b"], f"{p['score']:.4f}", p["shared"], f"{p['file_score']:.4f}") for p in sim["pairs"]])
    _write_csv(folder / "similarity_matrix.csv", ["student", *sim["students"]],
               [(name, *[f"{v:.3f}" for v in row]) for name, row in zip(sim["students"], sim["scores"])])


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}"
         "pre{font-size:11px;margin:0;white-space:pre-wrap}.num{text-align:right}")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _function_section(stats: dict) -> str:
    rows = [[f"<code>{html.escape(name)}</code>", f"{s['passed']}/{s['students']}", f"{s['pass_rate']:.0%}",
             f"{s['mean_points']:.2f}/{s['possible']:g}", f"{s['visible_passed']}/{s['visible']}",
             f"{s['hidden_passed']}/{s['hidden']}" if s["hidden"] else "-",
             "<br>".join(f"{count}&times; {html.escape(text)}" for text, count in s["top_reasons"])]
            for name, s in stats.items()]
    return _table(["function", "students passing all", "pass rate", "mean points", "visible tests passed",
                   "hidden tests passed (counts only)", "most common failure reasons (visible tests)"], rows)


def _similarity_section(sim: dict) -> str:
    if not sim["pairs"]:
        return "<p>No pair of submissions is similar beyond the threshold.</p>"
    parts = [_table(["student", "student", "share of function k-grams", "k-grams shared", "whole files (copydetect)"],
                    [[html.escape(p["a"]), html.escape(p["b"]), f"{p['score']:.0%}", str(p["shared"]),
                      f"{p['file_score']:.0%}"] for p in sim["pairs"]])]
    for p in sim["pairs"]:
        parts.append(f"<h3>{html.escape(p['a'])} &harr; {html.escape(p['b'])}: {p['score']:.0%}</h3>")
        parts.append(_table(["function", html.escape(p["a"]), html.escape(p["b"])],
                            [[f"<code>{html.escape(x['function'])}</code><br>{x['share']:.0%} of k-grams",
                              f"<pre>{html.escape(x['a'])}</pre>", f"<pre>{html.escape(x['b'])}</pre>"]
                             for x in p["passages"]]))
    return "".join(parts)


def scores_alt(scores: list[tuple]) -> str:
    """The score histogram's text alternative, from the scores it counts."""
    if not scores:
        return "Histogram of scores: no submission was graded."
    points = [s for _, s, _ in scores]
    return (f"Histogram of the scores of {len(scores)} graded submissions, out of {max(p for _, _, p in scores):g} points: "
            f"lowest {min(points):g}, median {float(np.median(points)):g}, highest {max(points):g}.")


def functions_alt(stats: dict) -> str:
    """The pass-rate chart's text alternative: the functions passed most and least often."""
    if not stats:
        return "Bar chart of the pass rate per graded function: no function was graded."
    rates = {name: s["pass_rate"] for name, s in stats.items()}
    best, worst = max(rates, key=rates.get), min(rates, key=rates.get)
    return (f"Bar chart of the share of students passing all tests of each of {len(rates)} graded functions: highest "
            f"{best} ({rates[best]:.0%}), lowest {worst} ({rates[worst]:.0%}); the table below has every value.")


def similarity_alt(sim: dict) -> str:
    """The similarity heat map's text alternative: its size and the most similar pair."""
    text = f"Heat map of the similarity of the graded functions between each pair of {len(sim['students'])} students"
    if sim["pairs"]:
        top = max(sim["pairs"], key=lambda p: p["score"])
        return text + f"; {len(sim['pairs'])} pairs above the threshold, the most similar {top['a']} and {top['b']} ({top['score']:.0%})."
    return text + "; no pair above the threshold."


def page(records: list[dict], stats: dict, scores: list[tuple], sim: dict, files: dict, limits: str,
         exports: list[dict]) -> str:
    """The report page's HTML."""
    graded = [r for r in records if r["status"] == "graded"]
    isolation = Counter(r.get("isolation", "") for r in graded)
    refused = [r for r in records if r["status"] != "graded"]
    mean = float(np.mean([s for _, s, _ in scores])) if scores else 0.0
    off_roster = [row for row in exports if row["note"] == export.NOT_ON_ROSTER]
    return "".join([
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report</title><style>{STYLE}</style></head>"
        "<body><main><h1>Class report</h1>",
        f"<p id='summary'>{len(records)} archives: {len(graded)} graded, {len(refused)} not graded; "
        f"mean score {mean:.2f} of {max([p for _, _, p in scores] + [0]):g} points.</p>",
        f"<h2>Grading conditions</h2><p id='isolation'>Isolation: {html.escape(', '.join(f'{k} ({v} submissions)' for k, v in isolation.items()) or '-')}."
        f"</p><p id='limits'>Limits: {html.escape(limits)}.</p>",
        f"<h2>Scores</h2><img src='{FIGURES}/{files['scores']}' alt='{html.escape(scores_alt(scores), quote=True)}'>",
        f"<h2>Graded functions</h2><img src='{FIGURES}/{files['functions']}' alt='{html.escape(functions_alt(stats), quote=True)}'>",
        _function_section(stats),
        f"<h2>Similar submissions</h2><p>Threshold: {similarity.THRESHOLD:.0%} of the function k-grams and at least "
        f"{similarity.MIN_SHARED} k-grams shared; the release's code is left out.</p>",
        _similarity_section(sim), f"<img src='{FIGURES}/{files['similarity']}' alt='{html.escape(similarity_alt(sim), quote=True)}'>",
        "<h2>Not graded</h2>" + _table(["archive", "status", "reason"], [[html.escape(r["archive"]), r["status"],
                                         html.escape(r["reason"])] for r in refused] +
                                       [[html.escape(row["archive"]), "refused", export.NOT_ON_ROSTER] for row in off_roster]),
        "</main></body></html>\n"])


def finish(archives: Path, out: Path, records: list[dict], limits: str, roster: Path | None = None) -> dict:
    """After grading: similarity (sets each record's ``similar_to``), exports and the report page, in ``out``."""
    sim = similarity.update(records, archives, out)
    table = export.rows(records, export.read_roster(roster) if roster else None)
    (out / export.CANVAS).write_text(export.canvas_csv(table))
    (out / export.BY_ID).write_text(export.plain_csv(table))
    stats, scores = function_stats(records), score_rows(records)
    files = figures(out / FIGURES, scores, stats, sim)
    (out / PAGE).write_text(page(records, stats, scores, sim, files, limits, table), encoding="utf-8")
    return sim


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))
