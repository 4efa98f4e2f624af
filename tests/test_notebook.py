"""``%load_ext fastfib`` and ``%probe`` / ``%%probe`` in a real IPython kernel: nbclient executes a
notebook through jupyter_client and ipykernel (the ``notebook`` extra; ``make test`` installs it).
What is certain is checked: the magics run, print the verdict, the table and the advice, show the
plot, and the cell magic takes its SETUP from the line and from the cell's lines above ``---``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastfib import gil
from fastfib.notebook import parse, split_cell

pytestmark = pytest.mark.timeout(240)
RUNNER = """import sys, nbclient, nbformat
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=200, kernel_name="python3").execute()
nbformat.write(notebook, sys.argv[2])
"""


def test_the_line_keeps_the_statement_as_typed():
    options, rest = parse("-s 'import zlib' --workers 1,2 zlib.compress(b'x' * 10, level=1)")
    assert options.setup == ["import zlib"] and options.workers == "1,2"
    assert rest == "zlib.compress(b'x' * 10, level=1)"


def test_the_cell_takes_setup_from_the_line_and_its_first_lines():
    assert split_cell("n = 3", "import math\n---\nmath.factorial(n)\n") == (["n = 3", "import math"],
                                                                            "math.factorial(n)")
    assert split_cell("", "sum(range(10))") == ([], "sum(range(10))")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra (pip install 'fastfib[notebook]')")
    pytest.importorskip("nbclient", reason="needs the notebook extra (pip install 'fastfib[notebook]')")
    pytest.importorskip("ipykernel", reason="needs the notebook extra (pip install 'fastfib[notebook]')")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext fastfib"),
        nbformat.v4.new_code_cell("import time\npause = 0.002\n%probe --no-plot time.sleep(pause)"),
        nbformat.v4.new_code_cell("%%probe n = 18\nimport fastfib\n---\nfastfib.burn(n, kernel='python')"),
        nbformat.v4.new_code_cell("print('verdict:', _probe.verdict)"),
    ]
    # Executed by nbclient in a child process (whose kernel, "python3", is ipykernel's own spec: jupyter_client
    # starts it on this very interpreter), so that the client's sockets and pipes close with it, not in this run.
    source, executed_path = tmp_path_factory.mktemp("notebook") / "probe.ipynb", None
    nbformat.write(notebook, source)
    executed_path = source.with_name("executed.ipynb")
    subprocess.run([sys.executable, "-c", RUNNER, str(source), str(executed_path)], check=True, timeout=220)
    notebook = nbformat.read(executed_path, as_version=4)
    return notebook.cells


def _text(cell) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.get("output_type") == "stream")


def test_line_magic_prints_verdict_table_and_advice_in_a_real_kernel(executed):
    text = _text(executed[1])
    assert "probe: time.sleep(pause)" in text  # the notebook's own variable was seen
    assert "verdict: " + ("released" if gil.gil_enabled() else "no GIL") in text
    assert "runner   workers" in text and "advice:" in text
    assert not any(out.get("output_type") == "error" for cell in executed for out in cell.outputs)


def test_cell_magic_takes_setup_and_shows_the_plot(executed):
    cell = executed[2]
    assert "probe: fastfib.burn(n, kernel='python')" in _text(cell)
    assert any("image/png" in out.get("data", {}) for out in cell.outputs if out.get("output_type") == "display_data")
    assert "verdict: " in _text(executed[3])
