"""Tests of belief.report: content, embedded images, Markdown, the CLI, a browser rendering."""

from __future__ import annotations

import base64
import copy
import io
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import numpy as np
import pytest

from belief.cli import main
from belief.data.io import case_from_records, read_case
from belief.exceptions import ValidationError
from belief.report.build import build_report, write_report

SEED = Path(__file__).resolve().parents[2] / "seeds" / "khasham.yaml"
RECORDS = {
    "name": "small",
    "config": {"base_rate": 0.4, "signal_effects": {"rhetoric": 0.5}},
    "claims": [
        {"claim_id": "a", "text": "A happened", "group": "g"},
        {"claim_id": "b", "text": "B happened", "group": "g", "prior": 0.3},
        {"claim_id": "c", "text": "C happened"},
    ],
    "sources": [
        {"source_id": "s1", "name": "Outlet one", "kind": "media", "side": "red"},
        {"source_id": "s2", "name": "Local", "kind": "local", "admiralty": "B"},
        {"source_id": "s3", "sensitivity": 0.9, "specificity": 0.8, "strength": 10},
    ],
    "reports": [
        {"claim_id": "a", "source_id": "s1", "stance": "confirm", "time": "2017-12-19T09:00"},
        {"claim_id": "a", "source_id": "s2", "stance": "deny", "time": "2017-12-19T10:00"},
        {"claim_id": "b", "source_id": "s2", "stance": "confirm", "time": "2017-12-19T10:00"},
        {
            "claim_id": "a",
            "source_id": "s3",
            "stance": "confirm",
            "time": "2017-12-19T11:00",
            "derived_from": "s1",
        },
        {"claim_id": "c", "source_id": "s3", "stance": "neutral"},
    ],
    "signals": [
        {
            "signal_id": "sig1",
            "claim_id": "a",
            "kind": "rhetoric",
            "direction": -1,
            "time": "2017-12-18T12:00",
            "text": "hostile statement",
        },
    ],
}


@pytest.fixture
def records():
    """Fresh raw records of a small case: a group, a copy, Admiralty and own priors, a signal."""
    return copy.deepcopy(RECORDS)


@pytest.fixture
def small_case(records):
    return case_from_records(records, "small")


DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _decode_all(text: str) -> list[np.ndarray]:
    images = [mpimg.imread(io.BytesIO(base64.b64decode(m)), format="png")
              for m in DATA_URI.findall(text)]  # fmt: skip
    assert images, "no embedded image"
    return images


@pytest.fixture(scope="module")
def khasham_html(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "khasham.html"
    write_report(read_case(SEED), out)
    return out


def test_html_report_is_self_contained_and_complete(khasham_html):
    case = read_case(SEED)
    text = khasham_html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for cid in case.claim_ids:
        assert f"<td>{cid}</td>" in text
    for heading in ("Claims", "Belief timelines", "Evidence contributions",
                    "Competing hypotheses (ACH)", "Sources and their prior reliability",
                    "Assumptions", "Reports treated as copies"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in text or f"<h3>{heading}</h3>" in text
    assert "<h3>Group khasham_control</h3>" in text and "<h3>Group flags_reason</h3>" in text
    assert "almost no chance" in text and "0.031" in text  # handover's P(true) and term
    assert "adds nothing (copy_weight 0)" in text
    assert not re.search(r"(src|href)=['\"]?(https?:|file:|/)", text)  # nothing external
    images = _decode_all(text)
    # 3 timelines, 6 waterfalls, 2 ACH matrices, 1 reliability forest
    assert len(images) == 12
    assert all(img.ndim == 3 and min(img.shape[:2]) > 100 for img in images)
    assert all(img[..., :3].std() > 0.05 for img in images)  # not blank


def test_report_escapes_html(records, tmp_path):
    records["claims"][0]["text"] = "<script>alert(1)</script> & co"
    out = write_report(case_from_records(records), tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_markdown_report_writes_figures_next_to_it(small_case, tmp_path):
    out = write_report(small_case, tmp_path / "tiny.md")
    text = out.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all(link.startswith("tiny_files/") for link in links)
    for link in links:
        img = mpimg.imread(tmp_path / link)
        assert img.shape[0] > 100
    for cid in small_case.claim_ids:
        assert f"| {cid} |" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.md", "tiny_files"]


def test_markdown_report_can_embed_images(small_case, tmp_path):
    out = write_report(small_case, tmp_path / "tiny.markdown", embed_images=True)
    _decode_all(out.read_text(encoding="utf-8"))
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.markdown"]


def test_markdown_table_cells_are_escaped(records, tmp_path):
    records["claims"][0]["text"] = "A | B\nC"
    text = write_report(case_from_records(records), tmp_path / "t.md").read_text()
    assert "A \\| B C" in text


def test_bad_suffix_and_method(small_case, tmp_path):
    with pytest.raises(ValidationError, match=r"\.html, \.htm, \.md or \.markdown"):
        write_report(small_case, tmp_path / "r.pdf")
    with pytest.raises(ValidationError, match="method"):
        write_report(small_case, tmp_path / "r.html", method="magic")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(small_case, tmp_path, monkeypatch):
    import belief.report.build as report

    def boom(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(report, "_html", boom)
    with pytest.raises(RuntimeError):
        write_report(small_case, tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


def test_assumptions_name_priors_copies_and_signals(small_case):
    blocks = build_report(small_case)
    tables = {
        blocks[i - 1].content: b.content
        for i, b in enumerate(blocks)
        if b.kind == "table" and blocks[i - 1].kind == "h3"
    }
    copies = tables["Reports treated as copies"]
    assert copies.loc[0, "report"] == "r4" and copies.loc[0, "repeats"] == "s1"
    assert copies.loc[0, "treated as"] == "adds nothing (copy_weight 0)"  # s1 reported on a
    signals = tables["Signals and their effect on the prior log-odds"]
    assert signals.loc[0, "log-odds"] == "-0.50" and signals.loc[0, "odds ×"] == "0.61"
    kinds = tables["Reliability defaults per source kind"].set_index("kind")
    assert kinds.loc["media", "from"] == "built-in"
    sources = next(b.content for b in blocks if b.kind == "table" and "prior from" in b.content)
    origin = dict(zip(sources["source"], sources["prior from"]))
    assert origin == {
        "s1": "kind media (built-in); means learned from the data",
        "s2": "Admiralty B",
        "s3": "own value",
    }
    facts = next(b.content for b in blocks if b.kind == "list")
    assert any("Base rate" in f and "0.4" in f and "b (0.3)" in f for f in facts)


def test_cli_run_writes_report(small_case, tmp_path, capsys):
    from belief.data.io import write_case

    case_file = tmp_path / "tiny.yaml"
    write_case(small_case, case_file)
    out = tmp_path / "k.md"
    assert main(["run", str(case_file), "--report", str(out)]) == 0
    assert "B happened" in out.read_text(encoding="utf-8")
    assert (tmp_path / "k_files" / "timeline_1.png").is_file()
    assert main(["run", str(case_file), "--report", str(tmp_path / "k.txt")]) == 2
    assert "expected a file ending in .html" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install "
                    "chromium); the browser test renders the HTML report headless")  # fmt: skip
def test_html_report_renders_in_headless_chromium(khasham_html, tmp_path):
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", f"--screenshot={shot}", "--window-size=1200,3000",
           khasham_html.resolve().as_uri()]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = mpimg.imread(shot)
    assert img.shape[:2] == (3000, 1200)
    rows_with_ink = (img[..., :3].min(axis=2) < 0.5).any(axis=1)
    assert rows_with_ink.mean() > 0.3  # text, tables and figures drawn down the page


def test_a_precomputed_claims_table_is_used_not_recomputed(small_case, monkeypatch):
    from belief.engines import posterior

    post = posterior(small_case, "exact")
    post["p_true"] = 0.123456  # a value no engine gave: it must reach the table unchanged

    def refuse(*args, **kwargs):
        raise AssertionError("the engine ran again")

    monkeypatch.setattr("belief.report.build.engine_posterior", refuse)
    blocks = build_report(small_case, "exact", posterior=post)
    table = next(b.content for b in blocks if b.kind == "table")
    assert "0.123" in table.to_string()
