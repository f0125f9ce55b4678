import inspect
import textwrap

from helpers import show
from helpers.nn import Classifier, linear_backward, relu_backward


def test_source_shows_the_live_code_with_where_it_lives():
    code = show.source(linear_backward, Classifier.backward)
    assert code.data.startswith("# helpers/nn/layers.py, line ")
    assert inspect.getsource(linear_backward).rstrip() in code.data
    assert textwrap.dedent(inspect.getsource(Classifier.backward)).rstrip() in code.data  # methods dedented
    assert "# helpers/nn/model.py, line " in code.data and ": Classifier.backward\n" in code.data
    assert "relu_backward" in show.source(relu_backward)._repr_html_()  # highlighted HTML in Jupyter
