"""The map of the house in docs/DEVELOPING.md, held against the imports of helpers/.

Every module of ``helpers`` belongs to one layer of the map's table; it may import its own layer and
the layers the table names, nothing else; the module imports form no circle; no function in
``helpers/`` is longer than 40 lines.
"""
import ast
import re

from helpers.core.config import REPO_ROOT

PACKAGE = REPO_ROOT / "helpers"
MAP = REPO_ROOT / "docs" / "DEVELOPING.md"
MAX_FUNCTION_LINES = 40


def layer_table() -> dict[str, tuple[list[str], set[str]]]:
    """{layer: (its packages and modules, the layers it may import)} from the map's table."""
    text = MAP.read_text()
    section = text[text.index("## The `helpers` package"):]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # the header row
    table = {}
    for row in rows:
        layer, modules, _, allowed = (cell.strip() for cell in row.strip("|").split("|"))
        names = [name for name in re.findall(r"`(helpers(?:\.\w+)+)`", modules)]
        table[layer] = (names, set() if allowed == "nothing" else {word.strip() for word in allowed.split(",")})
    return table


def module_name(file) -> str:
    parts = file.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(file): ast.parse(file.read_text())
            for file in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in file.parts}


def imported(name: str, tree: ast.Module) -> set[str]:
    """The helpers modules ``name`` imports, anywhere in the file (functions included)."""
    package = name if name in PACKAGE_NAMES else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package the module is in
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in ALL else base for alias in node.names}
    return {module for module in found if module.startswith("helpers.")}


ALL = modules()
PACKAGE_NAMES = {module_name(file) for file in PACKAGE.rglob("__init__.py")}


def layer_of(module: str, table) -> str | None:
    for layer, (names, _) in table.items():
        if any(module == name or module.startswith(name + ".") for name in names):
            return layer
    return None


def test_the_map_places_every_module():
    table = layer_table()
    assert {"core", "library", "notebook", "handin"} <= set(table)
    unplaced = [name for name in ALL if name != "helpers" and layer_of(name, table) is None]
    assert not unplaced, f"modules the map in docs/DEVELOPING.md does not place: {unplaced}"


def test_every_import_runs_down_the_map():
    table = layer_table()
    wrong = []
    for name, tree in ALL.items():
        own = layer_of(name, table)
        for target in imported(name, tree):
            theirs = layer_of(target, table)
            if theirs != own and theirs not in table[own][1]:
                wrong.append(f"{name} ({own}) imports {target} ({theirs})")
    assert not wrong, "imports the map in docs/DEVELOPING.md does not allow:\n" + "\n".join(wrong)


def test_the_students_library_imports_no_notebook_support_nor_hand_in():
    assert not {"notebook", "handin", "store", "studies"} & layer_table()["library"][1]


def test_no_import_circle():
    graph = {name: imported(name, tree) & set(ALL) for name, tree in ALL.items()}
    state, circle = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circle.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circle, f"import circles: {circle}"


def test_the_check_sees_a_wrong_import():
    """The checks above are not vacuous: a planted upward import and a planted circle are caught."""
    table = layer_table()
    planted = ast.parse("from helpers.notebook.plots import training_curves\n")
    assert imported("helpers.train", planted) == {"helpers.notebook.plots"}
    assert layer_of("helpers.notebook.plots", table) not in table["library"][1]
    relative = ast.parse("from .model import Classifier\n")
    assert imported("helpers.nn.cnn", relative) == {"helpers.nn.model"}


def test_no_function_in_helpers_is_longer_than_40_lines():
    long = [f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
            for name, tree in ALL.items() for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(long)
