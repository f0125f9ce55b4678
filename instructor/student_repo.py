"""The release's addresses: students install their own copy, never the instructor's repository.

In a release, each notebook's Colab cell gets the address given at release time
(``make release STUDENT_REPO=...``: a per-student or template repository) in its ``STUDENT_REPO``
line; without one it installs the copy in the student's Google Drive. Open-in-Colab badges and
``pyproject.toml``'s ``Repository`` point at the student repository when it is on GitHub, and are
removed otherwise. :func:`address_leaks` then finds any mention of the instructor's repository left.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from helpers.core.config import REPO_ROOT as REPO
from helpers.notebook.colab import STUDENT_REPO_LINE

BADGE = re.compile(r"\[!\[Open in Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)[ \t]*\n?")


def instructor_repository(repo: Path = REPO) -> str | None:
    """The instructor's address: pyproject.toml's ``[project.urls] Repository`` (None without one)."""
    pyproject = repo / "pyproject.toml"
    if not pyproject.is_file():
        return None
    return tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("urls", {}).get("Repository")


def github_path(url: str) -> str | None:
    """``owner/name`` of a github.com address, else None."""
    found = re.fullmatch(r"(?:https://|git@)github\.com[/:]([\w.-]+/[\w.-]+?)(?:\.git)?/?", url.strip())
    return found.group(1) if found else None


def _retarget(text: str, instructor: str, student: str | None) -> str:
    """``text`` with the instructor's GitHub path replaced by the student's, or its Colab badges removed."""
    if student:
        return text.replace(instructor, student)
    return BADGE.sub("", text)


def _notebook(file: Path, instructor: str, student_repo: str | None) -> None:
    notebook = json.loads(file.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and student_repo:
            text = text.replace(STUDENT_REPO_LINE, f"STUDENT_REPO = {json.dumps(student_repo)}")
        text = _retarget(text, instructor, github_path(student_repo or ""))
        cell["source"] = text.splitlines(keepends=True)
    file.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def retarget(out: Path, student_repo: str | None, repo: Path = REPO) -> None:
    """Point the release in ``out`` at ``student_repo`` (or at the student's Drive when None)."""
    address = instructor_repository(repo)
    if address is None:
        return
    instructor = github_path(address) or address
    if student_repo and (github_path(student_repo) or student_repo.rstrip("/")) == instructor:
        raise ValueError(f"STUDENT_REPO={student_repo} is the instructor's repository (it holds the solutions): "
                         "give the address of the students' own or template repository")
    for file in sorted(out.glob("notebooks/*.ipynb")):
        _notebook(file, instructor, student_repo)
    pyproject = out / "pyproject.toml"
    line = f'Repository = "{address}"\n'
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace(line, f'Repository = "{student_repo}"\n' if student_repo else ""), encoding="utf-8")


def address_leaks(out: Path, repo: Path = REPO) -> list[str]:
    """``file:line`` of every line in ``out`` that names the instructor's repository."""
    address = instructor_repository(repo)
    if address is None:
        return []
    needles = {address.lower(), (github_path(address) or address).lower()}
    found = []
    for file in sorted(p for p in out.rglob("*") if p.is_file()):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{file.relative_to(out).as_posix()}:{n}" for n, line in enumerate(lines, 1)
                  if any(needle in line.lower() for needle in needles)]
    return found
