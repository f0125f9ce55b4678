import importlib.util
import inspect
import textwrap

from helpers.notebook import show
from helpers.nn import Classifier, linear_backward, relu_backward


def test_solution_markers_are_not_shown(tmp_path, monkeypatch):
    module = tmp_path / "marked.py"
    module.write_text("def twice(x):\n    ### BEGIN SOLUTION: return 2 * x\n    return 2 * x\n    ### END SOLUTION\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from marked import twice

    code = show.source(twice).data
    assert code.endswith("def twice(x):\n    return 2 * x") and "SOLUTION" not in code


def without_markers(source):
    return "".join(line for line in source.splitlines(keepends=True) if "### BEGIN SOLUTION" not in line
                   and "### END SOLUTION" not in line)


def test_source_shows_the_live_code_with_where_it_lives():
    code = show.source(linear_backward, Classifier.backward)
    assert code.data.startswith("# helpers/nn/layers.py, line ")
    assert without_markers(inspect.getsource(linear_backward)).rstrip() in code.data
    assert textwrap.dedent(without_markers(inspect.getsource(Classifier.backward))).rstrip() in code.data  # dedented
    assert "# helpers/nn/model.py, line " in code.data and ": Classifier.backward\n" in code.data
    assert "relu_backward" in show.source(relu_backward)._repr_html_()  # highlighted HTML in Jupyter


def test_text_markers_are_not_shown_but_the_instructors_text_is(tmp_path):
    module = tmp_path / "passage.py"
    module.write_text('def half(x):\n    """Half of x.\n\n    BEGIN SOLUTION TEXT: find the factor\n'
                      '    The factor is 0.5.\n    END SOLUTION TEXT\n    """\n    return x / 2\n')
    spec = importlib.util.spec_from_file_location("passage", module)
    passage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(passage)

    code = show.source(passage.half).data
    assert "The factor is 0.5." in code and "SOLUTION" not in code
