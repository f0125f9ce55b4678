"""helpers.core.progress and the headless runner's progress report (scripts/run_notebooks.py)."""
import importlib.util
import io
import os

import nbformat
import pytest
import tqdm.auto
from tqdm import std

from helpers.core import config, progress

spec = importlib.util.spec_from_file_location("run_notebooks", config.REPO_ROOT / "scripts" / "run_notebooks.py")
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)


def test_text_progress_bars_go_to_stdout_and_end_on_their_final_state(monkeypatch, capsys):
    monkeypatch.setenv("BUNDLE_PROGRESS", "text")
    bar = progress.tqdm(range(50), desc="work")
    assert type(bar) is std.tqdm  # not a widget, even inside a Jupyter kernel
    for _ in bar:
        pass
    out = capsys.readouterr().out
    assert out.rstrip("\n").split("\r")[-1].startswith("work: 100%|") and "50/50" in out


def test_without_the_variable_tqdm_auto_chooses(monkeypatch):
    monkeypatch.delenv("BUNDLE_PROGRESS", raising=False)
    with progress.tqdm(total=1, disable=True) as bar:
        assert isinstance(bar, tqdm.auto.tqdm)


@pytest.mark.parametrize("text, line", [
    ("features:   0%|\rfeatures:  40%|####\rfeatures:  80%|########", "features:  80%|########"),
    ("train: (1000, 512)\ntest: (500, 512)\n\n", "test: (500, 512)"),
    ("\r   \r", ""),
])
def test_the_latest_line_is_what_a_terminal_shows_last(text, line):
    assert runner.latest_line(text) == line


def notebook(*sources, markdown="# title"):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown),
                                           *(nbformat.v4.new_code_cell(source) for source in sources)])


def test_the_status_counts_code_cells_and_shows_time_and_the_latest_line():
    now = iter([0.0, 5.0, 65.0, 3725.0]).__next__
    status = runner.Status("01_features", notebook("import time", "", "extract()").cells, now=now)
    assert status.total == 2  # the markdown and the empty cell do not count
    status.cell_start(3)  # the third cell of the file, the second code cell
    status.output("features (bf16):  10%|#\rfeatures (bf16):  20%|##")
    assert str(status) == "  01_features: cell 2/2, 1:05 (this cell 1:00) | features (bf16):  20%|##"
    status.output("\n")  # a blank line keeps the last one seen
    assert str(status) == "  01_features: cell 2/2, 1:02:05 (this cell 1:02:00) | features (bf16):  20%|##"


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream, expected", [(io.StringIO(), "  demo: cell 0/1, 0:00 (this cell 0:00)\n"),
                                              (Terminal(), "\r  demo: cell 0/1, 0:00 (this cell 0:00)" + " " * 40)])
def test_the_reporter_redraws_on_a_terminal_and_appends_lines_elsewhere(stream, expected, monkeypatch):
    monkeypatch.setattr(runner.shutil, "get_terminal_size", lambda: os.terminal_size((80, 24)))
    runner.Reporter(runner.Status("demo", notebook("1").cells, now=lambda: 0.0), stream).show()
    assert stream.getvalue() == expected  # a terminal line is padded to the width (79), so it overwrites the last


def test_a_run_reports_progress_and_saves_progress_bars_in_their_final_state(tmp_path, monkeypatch):
    monkeypatch.setenv("BUNDLE_PROGRESS", "text")  # as main() sets it
    monkeypatch.setattr(runner, "STATUS_EVERY_S", 0.05)
    source = tmp_path / "demo.ipynb"
    nbformat.write(notebook("from helpers.core.progress import tqdm\nimport time\n"
                            "for _ in tqdm(range(40), desc='work', mininterval=0): time.sleep(0.01)",
                            "print('done')"), source)
    terminal = io.StringIO()
    runner.run(source, tmp_path / "out", stream=terminal)
    executed = nbformat.read(tmp_path / "out" / "demo.ipynb", as_version=4)
    (bar,) = executed.cells[1].outputs
    assert "\r" not in bar["text"] and bar["text"].startswith("work: 100%|") and "40/40" in bar["text"]
    assert "work: 100%|" in (tmp_path / "out" / "demo.html").read_text()
    assert "demo: cell " in terminal.getvalue()


def test_an_early_stopped_training_ends_its_bar_finished_with_the_epochs_it_ran(monkeypatch, capsys):
    from test_nn import overfitting_run
    monkeypatch.setenv("BUNDLE_PROGRESS", "text")
    _, history, _ = overfitting_run(patience=3, progress=True)
    ran = len(history.loss["validation"])
    assert ran < 60  # it did stop early
    out = capsys.readouterr().out
    final = out.split("stopped after")[0].rstrip("\n").split("\r")[-1]
    assert final.startswith("epochs: 100%|") and f"{ran}/{ran} " in final and "stopped early" in final
    assert f"stopped after {ran} epochs: no lower validation loss for 3 epochs " \
           f"(lowest at epoch {history.best_epoch + 1})" in out


class Handle:
    """What IPython's display(..., display_id=True) returns: records the updates."""

    def __init__(self):
        self.updates = []

    def update(self, obj, raw=False):
        self.updates.append((obj, raw))


@pytest.mark.parametrize("leave", [True, False])
def test_a_widget_bar_leaves_its_final_line_as_text_so_a_saved_notebook_shows_it(monkeypatch, leave):
    import IPython.display
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: shown.append(obj) or Handle())
    bar = progress.NotebookBar(total=30, desc="epochs", leave=leave)
    assert shown == [bar.container]  # the live widget, shown once
    handle = bar._handle
    bar.update(19)
    progress.end_early(bar, "stopped early")
    assert bar.container.children[1].max == 19
    bar.close()
    assert bar.container.children[1].bar_style == ("success" if leave else "")  # finished, not 'danger'
    [(obj, raw)] = handle.updates
    assert raw and list(obj) == ["text/plain"]
    line = obj["text/plain"]
    assert (line.startswith("epochs: 100%|") and "19/19" in line and "stopped early" in line) if leave else line == ""


def test_a_widget_bar_broken_off_stays_marked_failed(monkeypatch):
    import IPython.display
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: Handle())
    bar = progress.NotebookBar(total=30, desc="work")
    bar.update(5)
    bar.close()
    assert bar.container.children[1].bar_style == "danger"
