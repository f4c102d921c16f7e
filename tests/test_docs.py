"""The documentation builds with the README's command, and renders in a browser.

The build runs ``python -m sphinx -W --keep-going -n -b html docs <out>`` (warnings and broken
cross-references are errors) into a temporary folder: it executes the example notebooks, so it
takes about a minute. It is skipped, with the reason, when the docs extra (Sphinx, the PyData
theme, numpydoc, myst-nb) is not installed. The browser test opens the built pages in headless
Chromium and checks that their figures load; it is skipped where Chromium is missing.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS_PACKAGES = ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_nb")
MISSING = [m for m in DOCS_PACKAGES if importlib.util.find_spec(m) is None]
needs_docs = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the docs extra is not installed (missing {', '.join(MISSING)}); "
    'pip install -e ".[docs]" to build the documentation',
)
NOTEBOOK_PAGE = Path("examples") / "01_khasham.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by the README's command, into a temporary folder."""
    out = tmp_path_factory.mktemp("docs") / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "docs",
           str(out)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = (done.stdout + done.stderr).splitlines()
    problems = [x for x in lines if "WARNING:" in x or "ERROR:" in x or "Traceback" in x]
    log = "\n".join(problems[:40] or lines[-40:])
    assert done.returncode == 0, f"the documentation build failed:\n{log}"
    return out


@needs_docs
@pytest.mark.notebook
def test_docs_build_without_warnings(site: Path) -> None:
    assert (site / "index.html").is_file()
    cli = (site / "cli.html").read_text(encoding="utf-8")
    from belief.cli import _load_extensions, build_parser

    _load_extensions()
    commands = next(a.choices for a in build_parser()._actions if hasattr(a, "choices")
                    and isinstance(a.choices, dict))  # fmt: skip
    for name in commands:  # the CLI reference is generated from the parser: every command
        assert f"usage: belief {name}" in cli, name
    assert "--dask-scheduler" in cli
    for page in sorted((ROOT / "examples").glob("*.ipynb")):
        html = (site / "examples" / f"{page.stem}.html").read_text(encoding="utf-8")
        assert re.search(r"<img [^>]*src=", html), f"{page.name}: no figure on its page"
    api = (site / "api" / "generated" / "belief.infer.html").read_text(encoding="utf-8")
    assert "BeliefResult" in api


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Appended to a copy of a page: once it has loaded, record how many images it has and how
#: many of them the browser loaded and decoded, for ``--dump-dom`` to print.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const ok = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", images.length + ":" + ok);
});
</script>"""


def _images_loaded(page: Path) -> tuple[int, int]:
    """``(images on the page, images loaded)`` in headless Chromium."""
    probe = page.with_name(f"_probe_{page.name}")  # same folder: relative links still work
    html = page.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--virtual-time-budget=10000", "--dump-dom",
           probe.resolve().as_uri()]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'data-images="(\d+):(\d+)"', done.stdout)
    assert found, f"{page.name}: the page did not load in Chromium\n{done.stderr[-2000:]}"
    return int(found.group(1)), int(found.group(2))


def _ink(page: Path, shot: Path) -> float:
    """Share of the rows of a 1200 x 3000 screenshot of ``page`` that have dark pixels."""
    import matplotlib.image as mpimg

    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", f"--screenshot={shot}", "--window-size=1200,3000",
           "--hide-scrollbars", page.resolve().as_uri()]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = mpimg.imread(shot)
    assert img.shape[:2] == (3000, 1200)
    return float((img[..., :3].min(axis=2) < 0.5).any(axis=1).mean())


@pytest.mark.browser
@needs_docs
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not installed (Debian: apt-get install chromium); the browser test renders "
    "the built documentation headless",
)
def test_docs_render_in_headless_chromium(site: Path, tmp_path: Path) -> None:
    for page in (site / "index.html", site / NOTEBOOK_PAGE):
        n, loaded = _images_loaded(page)
        assert n >= 1 and loaded == n, f"{page.name}: {loaded} of {n} images loaded"
        assert _ink(page, tmp_path / f"{page.stem}.png") > 0.3, f"{page.name}: nearly blank"
