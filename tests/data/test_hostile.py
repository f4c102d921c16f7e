"""Hostile and careless input files, and output paths that are not plain files.

Each test reproduces a defect found by a fuzzing audit, as written, through the public API:
alias bombs and deep nesting, duplicate keys and columns, YAML 1.1 rewriting ids, lists as ids,
misspelled columns, spreadsheet formulas in CSV output, and what ``--out`` did to links, FIFOs,
devices, permissions and long names.
"""

from __future__ import annotations

import csv
import errno
import json
import math
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

import belief.data._safe_yaml as safe_yaml
import belief.data.io as bio
from belief import case_from_records, read_case, read_tables, write_tables
from belief.cli import main
from belief.data.io import atomic_path, load_mapping, write_case, write_csv
from belief.exceptions import ValidationError, ValidationWarning

REPORTS = "claim_id,source_id,stance\nc1,a,confirm\nc1,b,deny\n"


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _quiet(read):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidationWarning)
        return read()


# --------------------------------------------------------------------- 1. alias bombs, depth


def _billion_laughs() -> str:
    """A case file of about 500 bytes whose aliases expand to 10**9 strings."""
    levels = ["l0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for i in range(1, 10):
        levels.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]")
    claims = "claims:\n  - {claim_id: c1, text: *l9}\n"
    reports = "reports:\n  - {claim_id: c1, source_id: s, stance: confirm}\n"
    return "\n".join(levels) + "\n" + claims + reports


def test_yaml_alias_bomb_is_rejected_quickly(tmp_path):
    path = _write(tmp_path / "lol.yaml", _billion_laughs())
    assert path.stat().st_size < 600
    start = time.perf_counter()
    with pytest.raises(ValidationError, match=r"lol\.yaml: not valid YAML: aliases .* more than"):
        read_case(path)
    assert time.perf_counter() - start < 5


def test_config_file_alias_bomb_is_rejected(tmp_path):
    path = _write(tmp_path / "cfg.yaml", _billion_laughs())
    with pytest.raises(ValidationError, match=r"cfg\.yaml: not valid YAML: aliases"):
        load_mapping(path)


def test_alias_bomb_of_long_text_is_rejected(tmp_path):
    # few nodes, but 10**4 copies of a 2,000-character scalar: 20,000,000 characters
    text = "big: &t " + "x" * 2000 + "\n"
    text += "a: &a [" + ", ".join(["*t"] * 100) + "]\n"
    text += "b: [" + ", ".join(["*a"] * 100) + "]\n"
    with pytest.raises(ValidationError, match=r"t\.yaml: not valid YAML: aliases"):
        read_case(_write(tmp_path / "t.yaml", text))


def test_files_that_spell_out_more_than_the_limit_are_read(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_yaml, "MAX_NODES", 50)
    rows = "".join(f"  - {{claim_id: c{i}, source_id: s, stance: confirm}}\n" for i in range(20))
    case = read_case(_write(tmp_path / "big.yaml", "reports:\n" + rows))  # ~140 nodes, no alias
    assert len(case.reports) == 20
    bomb = "r: &r {claim_id: c, source_id: s, stance: confirm}\nreports: [" + "*r, " * 20 + "]\n"
    with pytest.raises(ValidationError, match="aliases"):
        read_case(_write(tmp_path / "small.yaml", bomb))


def test_plain_aliases_and_merge_keys_still_work(tmp_path):
    text = (
        "base: &base {source_id: s, stance: confirm}\n"
        "reports:\n"
        "  - {<<: *base, claim_id: c1}\n"
        "  - {<<: *base, claim_id: c2, stance: deny}\n"
    )
    case = read_case(_write(tmp_path / "m.yaml", text))
    assert [(r.claim_id, r.stance) for r in case.reports] == [("c1", "confirm"), ("c2", "deny")]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deep_nesting_is_rejected_not_a_recursion_error(tmp_path, suffix):
    deep = "[" * 1000 + "]" * 1000
    text = f'{{"deep": {deep}, "reports": []}}'
    with pytest.raises(ValidationError, match=r"deep\.(yaml|json): not valid .*deeper than 100"):
        read_case(_write(tmp_path / f"deep{suffix}", text))
    ok = "[" * 90 + "]" * 90
    assert read_case(_write(tmp_path / f"ok{suffix}", f'{{"deep": {ok}}}')).meta["deep"]


def test_deep_nesting_through_aliases_is_rejected(tmp_path):
    text = "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n"
    with pytest.raises(ValidationError, match=r"n\.yaml: .*deeper than 100"):
        read_case(_write(tmp_path / "n.yaml", text))


def test_recursive_alias_is_rejected(tmp_path):
    with pytest.raises(ValidationError, match=r"r\.yaml: not valid YAML: recursive alias"):
        read_case(_write(tmp_path / "r.yaml", "loop: &a [*a]\nreports: []\n"))


# ------------------------------------------------------------------------ 2. duplicate keys


def test_yaml_duplicate_key_names_file_key_and_line(tmp_path):
    text = "reports:\n  - claim_id: c1\n    source_id: a\n    stance: confirm\n    stance: deny\n"
    with pytest.raises(
        ValidationError,
        match=r"d\.yaml: not valid YAML: duplicate key 'stance' at line 5 \(first at line 4\)",
    ):
        read_case(_write(tmp_path / "d.yaml", text))


def test_yaml_duplicate_top_level_table_is_rejected(tmp_path):
    text = (
        "reports:\n  - {claim_id: c1, source_id: a, stance: confirm}\n"
        "reports:\n  - {claim_id: c2, source_id: a, stance: deny}\n"
    )
    with pytest.raises(ValidationError, match=r"duplicate key 'reports' at line 3"):
        read_case(_write(tmp_path / "d.yaml", text))


def test_json_duplicate_key_names_file_key_and_object(tmp_path):
    text = '{"reports": [\n {"claim_id": "c1", "source_id": "a",\n  "stance": "confirm"},\n'
    text += ' {"claim_id": "c1", "source_id": "b", "stance": "deny", "stance": "confirm"}]}'
    with pytest.raises(
        ValidationError,
        match=r"d\.json: not valid JSON: duplicate key 'stance' in the object starting at line 4",
    ):
        read_case(_write(tmp_path / "d.json", text))


def test_config_file_duplicate_keys(tmp_path):
    with pytest.raises(ValidationError, match=r"c\.yaml: .*duplicate key 'base_rate' at line 2"):
        load_mapping(_write(tmp_path / "c.yaml", "base_rate: 0.5\nbase_rate: 0.1\n"))
    with pytest.raises(ValidationError, match=r"c\.json: .*duplicate key 'base_rate'"):
        load_mapping(_write(tmp_path / "c.json", '{"base_rate": 0.5, "base_rate": 0.1}'))


def test_yaml_keys_equal_in_value_are_duplicates(tmp_path):
    with pytest.raises(ValidationError, match="duplicate key"):
        load_mapping(_write(tmp_path / "k.yaml", "1: a\n1.0: b\n"))


def test_load_mapping_reads_config_files(tmp_path):
    assert load_mapping(_write(tmp_path / "e.yaml", "")) == {}
    assert load_mapping(_write(tmp_path / "c.yaml", "config: {base_rate: 0.3}\n")) == {
        "config": {"base_rate": 0.3}
    }
    assert load_mapping(_write(tmp_path / "c.json", '{"base_rate": 0.3}')) == {"base_rate": 0.3}
    with pytest.raises(ValidationError, match=r"l\.yaml: expected a mapping .* but got a list"):
        load_mapping(_write(tmp_path / "l.yaml", "- 1\n"))
    with pytest.raises(ValidationError, match=r"missing\.yaml: cannot read config file"):
        load_mapping(tmp_path / "missing.yaml")


# ------------------------------------------------------------------- 3. YAML 1.1 and ids


@pytest.mark.filterwarnings("ignore:.*not in the sources table:belief.exceptions.ValidationWarning")
def test_yaml_ids_are_taken_as_written(tmp_path):
    text = (
        "claims:\n"
        "  - {claim_id: no, group: 017, favors: yes, text: 12:30}\n"
        "  - {claim_id: 12:30, group: 017, prior: 5e-1}\n"
        "  - {claim_id: 017, prior: 0.25, truth: yes}\n"
        "  - {claim_id: 0x1F, favors: on, truth: no}\n"
        "sources:\n"
        "  - {source_id: off, kind: 1_000, side: 1.50}\n"
        "reports:\n"
        "  - {claim_id: no, source_id: off, stance: confirm, derived_from: ~}\n"
        "  - {claim_id: 017, source_id: true, stance: deny, derived_from: null}\n"
        "  - {claim_id: 12:30, source_id: n, stance: deny, derived_from: 2017-12-19}\n"
        "signals:\n"
        "  - {signal_id: 1e3, claim_id: 0x1F, kind: false}\n"
    )
    case = read_case(_write(tmp_path / "ids.yaml", text))
    assert case.claim_ids == ["no", "12:30", "017", "0x1F"]
    assert [c.group for c in case.claims] == ["017", "017", None, None]
    assert [c.favors for c in case.claims] == ["yes", None, None, "on"]
    assert case.claims[0].text == "12:30"
    assert [c.prior for c in case.claims] == [None, 0.5, 0.25, None]
    assert [c.truth for c in case.claims] == [None, None, True, False]
    assert (case.sources[0].source_id, case.sources[0].kind, case.sources[0].side) == (
        "off",
        "1_000",
        "1.50",
    )
    assert [r.source_id for r in case.reports] == ["off", "true", "n"]
    assert [r.derived_from for r in case.reports] == [None, None, "2017-12-19"]
    assert (case.signals[0].signal_id, case.signals[0].kind) == ("1e3", "false")


def test_yaml_other_values_are_typed_only_where_yaml_1_1_and_1_2_agree(tmp_path):
    text = (
        "a: 017\nb: no\nc: 12:30\nd: 0x1F\ne: .inf\nf: true\ng: 2017-12-19\nh: 1e3\n"
        "i: 1.5e+3\nj: 019\nk: 1_000\nl: on\nm: =\n"
    )
    data = load_mapping(_write(tmp_path / "c.yaml", text))
    assert (data["a"], data["d"], data["e"], data["f"], data["i"]) == (17, 31, math.inf, True, 1500)
    assert str(data["g"]) == "2017-12-19"
    for key, written in dict(b="no", c="12:30", h="1e3", j="019", k="1_000", l="on", m="=").items():
        assert data[key] == written, key


def test_what_write_case_writes_reads_back_the_same(tmp_path):
    # safe_dump quotes what YAML 1.1 would type; the reader may type nothing else
    texts = ["0E0", "1e3", "019", "0o17", "no", "12:30", "1_000", "=", "-.5", "Yes"]
    case = case_from_records(
        {
            "name": "0E0",
            "claims": [{"claim_id": t, "text": t, "note": t} for t in texts],
            "odd": texts,
        }
    )
    back = read_case(write_case(case, tmp_path / "c.yaml"))
    assert back == case and back.name == "0E0" and back.meta["odd"] == texts
    assert [c.extra["note"] for c in back.claims] == texts


def test_impossible_yaml_date_is_reported_by_the_validator(tmp_path):
    text = "reports:\n  - {claim_id: c, source_id: s, stance: confirm, time: 2017-13-45}\n"
    with pytest.raises(ValidationError, match=r"reports entry 1, field 'time': expected an ISO"):
        read_case(_write(tmp_path / "t.yaml", text))


# ------------------------------------------------------------- 4. lists, maps, NUL as ids


@pytest.mark.parametrize(
    ("entry", "field", "kind"),
    [
        ("{claim_id: [a, b], source_id: s, stance: confirm}", "claim_id", "list"),
        ("{claim_id: c, source_id: {x: 1}, stance: confirm}", "source_id", "mapping"),
        ("{claim_id: c, source_id: s, stance: confirm, derived_from: [t]}", "derived_from", "list"),
    ],
)
def test_lists_and_maps_as_ids_are_rejected(tmp_path, entry, field, kind):
    path = _write(tmp_path / "l.yaml", f"reports:\n  - {entry}\n")
    with pytest.raises(
        ValidationError,
        match=rf"l\.yaml, reports entry 1, field '{field}': expected a single text value but "
        rf"got a {kind}",
    ):
        read_case(path)


@pytest.mark.parametrize("field", ["group", "favors"])
def test_lists_as_claim_names_are_rejected(field):
    with pytest.raises(ValidationError, match=rf"claims entry 1, field '{field}': .* got a list"):
        case_from_records({"claims": [{"claim_id": "c", field: ["x"]}]})


def test_lists_as_source_kind_and_side_are_rejected():
    for field in ("kind", "side"):
        with pytest.raises(ValidationError, match=rf"field '{field}': .* but got a list"):
            case_from_records({"sources": [{"source_id": "s", field: [1]}]})
    with pytest.raises(ValidationError, match=r"signals entry 1, field 'kind': .* got a list"):
        case_from_records(
            {
                "claims": [{"claim_id": "c"}],
                "signals": [{"signal_id": "x", "claim_id": "c", "kind": []}],
            }
        )


def test_nul_byte_in_a_csv_id_is_rejected(tmp_path):
    path = _write(tmp_path / "reports.csv", "claim_id,source_id,stance\nc1,a\x00b,confirm\n")
    with pytest.raises(
        ValidationError,
        match=r"reports\.csv, row 2, column 'source_id': expected text without NUL bytes",
    ):
        read_tables(reports=path)


def test_lone_surrogate_in_a_json_id_is_rejected(tmp_path):
    text = '{"reports": [{"claim_id": "c\\ud800", "source_id": "s", "stance": "confirm"}]}'
    with pytest.raises(ValidationError, match=r"s\.json, reports entry 1, field 'claim_id'"):
        read_case(_write(tmp_path / "s.json", text))
    with pytest.raises(ValidationError, match="unpaired surrogates"):
        read_tables(
            reports=pd.DataFrame(
                {"claim_id": ["c"], "source_id": ["\udc80"], "stance": ["for"]}, dtype=object
            )
        )


# --------------------------------------------------------------- 5. misspelled columns


def test_misspelled_optional_column_warns_with_the_known_name(khasham_path, tmp_path):
    tables = write_tables(read_case(khasham_path), tmp_path)
    reports = tables["reports"]
    text = reports.read_text(encoding="utf-8")
    _write(reports, text.replace("derived_from", "derived_form", 1))
    with pytest.warns(
        ValidationWarning,
        match=r"reports\.csv, column 'derived_form': unknown column.*did you mean 'derived_from'\?",
    ):
        case = read_tables(**tables)
    assert all(r.derived_from is None for r in case.reports)  # still kept as an extra column
    assert any(r.extra.get("derived_form") for r in case.reports)


def test_misspelled_yaml_field_warns(tmp_path):
    text = "claims:\n  - {claim_id: a}\n  - {claim_id: b, favours: red}\n"
    with pytest.warns(
        ValidationWarning,
        match=r"f\.yaml, claims entry 2, field 'favours': unknown field.*did you mean 'favors'",
    ):
        read_case(_write(tmp_path / "f.yaml", text))


def test_misspelled_top_level_key_warns(tmp_path):
    text = "claims:\n  - {claim_id: a}\nreprots:\n  - {claim_id: a, source_id: s, stance: for}\n"
    with pytest.warns(ValidationWarning, match=r"top-level key 'reprots'.*did you mean 'reports'"):
        read_case(_write(tmp_path / "k.yaml", text))


def test_unrelated_extra_columns_pass_silently(tmp_path):
    path = _write(tmp_path / "reports.csv", "claim_id,source_id,stance,url,note\nc,s,for,u,n\n")
    case = _quiet(lambda: read_tables(reports=path))
    assert case.reports[0].extra == {"url": "u", "note": "n"}


def test_missing_required_column_suggests_the_misspelling(tmp_path):
    path = _write(tmp_path / "reports.csv", "claimid,source_id,stance\nc,s,for\n")
    with pytest.raises(
        ValidationError, match=r"required column 'claim_id' missing; did you mean 'claimid'\?"
    ):
        read_tables(reports=path)


# --------------------------------------------------------------- 6. duplicate CSV columns


def test_duplicate_csv_column_is_rejected(tmp_path):
    path = _write(tmp_path / "reports.csv", "claim_id,source_id,stance,stance\nc,s,for,deny\n")
    with pytest.raises(
        ValidationError,
        match=r"reports\.csv, row 1, column 'stance': duplicate column name \(columns 3 and 4\)",
    ):
        read_tables(reports=path)


def test_duplicate_dataframe_column_is_rejected():
    df = pd.DataFrame(
        [["c", "s", "for", "x"]], columns=["claim_id", "source_id", "stance", "stance"]
    )
    with pytest.raises(ValidationError, match=r"reports DataFrame, column 'stance': duplicate"):
        read_tables(reports=df)


# --------------------------------------------------------------- 7. formulas in CSV output


HOSTILE = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", '=HYPERLINK("http://x","y")']
HARMLESS = ["plain", "a-b", "x=y", "-1", "+0.5", "1e-3", "'quoted"]


def _cells(path: Path, column: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f)]


def test_write_tables_escapes_formulas(tmp_path):
    ids = HOSTILE + HARMLESS
    case = case_from_records(
        {"reports": [{"claim_id": c, "source_id": "s", "stance": "for"} for c in ids]}
    )
    paths = write_tables(case, tmp_path)
    assert _cells(paths["reports"], "claim_id") == ["'" + c for c in HOSTILE] + HARMLESS
    assert _cells(paths["claims"], "claim_id") == ["'" + c for c in HOSTILE] + HARMLESS
    back = read_tables(**paths)
    assert back.claim_ids[len(HOSTILE) :] == HARMLESS  # what needed no escaping is unchanged


def test_write_csv_escapes_text_cells_and_column_names_only(tmp_path):
    df = pd.DataFrame({"=x": ["=a", "\tb"], "n": [-1.5, 2.0], "k": ["-1", "-k"]})
    out = write_csv(df, tmp_path / "f.csv")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == ["'=x,n,k", "'=a,-1.5,-1", "'\tb,2.0,'-k"]
    assert df.columns[0] == "=x" and df.iloc[0, 0] == "=a"  # the caller's frame is untouched


def test_posterior_csv_escapes_claim_ids(tmp_path, capsys):
    reports = _write(
        tmp_path / "reports.csv",
        'claim_id,source_id,stance\n"=HYPERLINK(""http://x"")",a,confirm\nsafe,b,deny\n',
    )
    out = tmp_path / "posterior.csv"
    assert main(["infer", "--reports", str(reports), "--out", str(out)]) == 0
    assert _cells(out, "claim_id") == ['\'=HYPERLINK("http://x")', "safe"]


# ------------------------------------------------------------------ 8. where output goes


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"claim_id": ["c1"], "p_true": [0.5]})


EXPECTED = "claim_id,p_true\nc1,0.5\n"


def test_out_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = _write(tmp_path / "real" / "post.csv", "old\n")
    link = tmp_path / "post.csv"
    link.symlink_to(Path("real") / "post.csv")
    write_csv(_frame(), link)
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "post.csv")
    assert target.read_text(encoding="utf-8") == EXPECTED
    assert _listing(tmp_path) == ["post.csv", "real"]
    assert _listing(tmp_path / "real") == ["post.csv"]


def test_out_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "post.csv"
    link.symlink_to(tmp_path / "new.csv")
    write_csv(_frame(), link)
    assert link.is_symlink() and (tmp_path / "new.csv").read_text(encoding="utf-8") == EXPECTED


def test_out_to_a_fifo_writes_into_it(tmp_path):
    fifo = tmp_path / "post.csv"
    os.mkfifo(fifo)
    got: list[str] = []

    def reader() -> None:
        with open(fifo, encoding="utf-8") as f:
            got.append(f.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    write_csv(_frame(), fifo)
    t.join(timeout=10)
    assert not t.is_alive() and got == [EXPECTED]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert _listing(tmp_path) == ["post.csv"]


def _check_device(path: Path) -> None:
    before = os.stat(path)
    write_csv(_frame(), path)
    after = os.stat(path)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_out_to_dev_null_keeps_the_device(tmp_path):
    if os.geteuid() == 0:  # first on a private copy: a regression replaces only that one
        dev = tmp_path / "null"
        try:
            os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except OSError:
            pass
        else:
            _check_device(dev)
            assert _listing(tmp_path) == ["null"]
    if not os.access("/dev/null", os.W_OK):
        pytest.skip("/dev/null is not writable here")
    _check_device(Path("/dev/null"))
    write_case(
        case_from_records({"reports": [{"claim_id": "c", "source_id": "s", "stance": "for"}]}),
        "/dev/null",
    )
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_out_to_dev_null_from_the_cli(tmp_path, capsys):
    if not os.access("/dev/null", os.W_OK):
        pytest.skip("/dev/null is not writable here")
    reports = _write(tmp_path / "reports.csv", REPORTS)
    assert main(["infer", "--reports", str(reports), "--out", "/dev/null"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert _listing(tmp_path) == ["reports.csv"]


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_out_to_dev_stdout_redirected_to_a_file_writes_into_that_file(tmp_path):
    script = (
        "import pandas as pd\n"
        "from belief.data.io import write_csv\n"
        "write_csv(pd.DataFrame({'claim_id': ['c1'], 'p_true': [0.5]}), '/dev/stdout')\n"
    )
    out = tmp_path / "redirected.csv"
    with open(out, "w", encoding="utf-8") as f:
        inode = os.fstat(f.fileno()).st_ino
        subprocess.run([sys.executable, "-c", script], stdout=f, check=True, timeout=120)
    assert os.stat(out).st_ino == inode  # the shell's file, not a replacement
    assert out.read_text(encoding="utf-8") == EXPECTED
    assert _listing(tmp_path) == ["redirected.csv"]


def test_existing_file_keeps_its_permissions(tmp_path):
    for mode in (0o600, 0o640, 0o604):
        target = _write(tmp_path / "post.csv", "old\n")
        os.chmod(target, mode)
        write_csv(_frame(), target)
        assert stat.S_IMODE(os.stat(target).st_mode) == mode
        assert target.read_text(encoding="utf-8") == EXPECTED


def test_hard_link_is_kept(tmp_path):
    a = _write(tmp_path / "a.csv", "old\n")
    b = tmp_path / "b.csv"
    os.link(a, b)
    write_csv(_frame(), a)
    assert os.path.samefile(a, b) and os.stat(a).st_nlink == 2
    assert b.read_text(encoding="utf-8") == EXPECTED
    assert _listing(tmp_path) == ["a.csv", "b.csv"]


def test_longest_file_name_can_be_written(tmp_path):
    name = "p" * 251 + ".csv"  # 255 bytes: the usual limit of a file name
    write_csv(_frame(), tmp_path / name)
    assert _listing(tmp_path) == [name]
    with atomic_path(tmp_path / name) as tmp:
        assert tmp.name.startswith(".belief-") and len(tmp.name) <= 30
        tmp.write_text("x", encoding="utf-8")
    assert _listing(tmp_path) == [name]


def test_errors_name_the_users_path_not_the_temp_file(tmp_path, monkeypatch):
    too_long = tmp_path / ("p" * 256 + ".csv")
    with pytest.raises(OSError) as info:
        write_csv(_frame(), too_long)
    assert info.value.errno == errno.ENAMETOOLONG
    assert info.value.filename == str(too_long) and ".tmp" not in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        write_csv(_frame(), tmp_path / "missing" / "post.csv")
    assert info.value.filename == str(tmp_path / "missing" / "post.csv")
    assert ".tmp" not in str(info.value)

    def full(self, path, *args, **kwargs):
        Path(path).write_text("claim_id,p_tr", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OSError, match="No space") as info:
        write_csv(_frame(), tmp_path / "post.csv")
    assert info.value.filename == str(tmp_path / "post.csv") and ".tmp" not in str(info.value)
    assert _listing(tmp_path) == []


def test_directory_as_output_is_an_error_naming_it(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        write_csv(_frame(), tmp_path / "d")
    assert info.value.filename == str(tmp_path / "d")
    assert _listing(tmp_path) == ["d"]


@pytest.mark.parametrize("kind", ["file", "symlink", "hardlink"])
def test_failure_mid_write_leaves_no_temp_and_no_partial_target(tmp_path, monkeypatch, kind):
    target = _write(tmp_path / "post.csv", "old\n")
    path = target
    if kind == "symlink":
        path = tmp_path / "link.csv"
        path.symlink_to(target)
    elif kind == "hardlink":
        os.link(target, tmp_path / "other.csv")
    before = _listing(tmp_path)

    def broken(self, p, *args, **kwargs):
        Path(p).write_text("claim_id,p_tr", encoding="utf-8")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_csv(_frame(), path)
    assert _listing(tmp_path) == before
    assert target.read_text(encoding="utf-8") == "old\n"
    with pytest.raises(RuntimeError):
        write_csv(_frame(), tmp_path / "new.csv")
    assert _listing(tmp_path) == before


def test_interrupt_mid_write_leaves_no_temp(tmp_path):
    target = _write(tmp_path / "post.csv", "old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise KeyboardInterrupt
    assert _listing(tmp_path) == ["post.csv"]
    assert target.read_text(encoding="utf-8") == "old\n"


def test_temp_file_is_not_readable_by_others_while_a_private_file_is_rewritten(tmp_path):
    target = _write(tmp_path / "secret.csv", "old\n")
    os.chmod(target, 0o600)
    with atomic_path(target) as tmp:
        assert stat.S_IMODE(os.stat(tmp).st_mode) & 0o077 == 0
        tmp.write_text("new", encoding="utf-8")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_mid_write_removes_the_temp_file(tmp_path):
    script = (
        "import sys, time\n"
        "from belief.data.io import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half', encoding='utf-8')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    target = tmp_path / "post.csv"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        assert len(_listing(tmp_path)) == 1  # the temporary file
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _listing(tmp_path) == []


def test_json_case_written_through_symlink_reads_back(tmp_path):
    case = case_from_records({"reports": [{"claim_id": "c", "source_id": "s", "stance": "for"}]})
    (tmp_path / "d").mkdir()
    link = tmp_path / "case.json"
    link.symlink_to(tmp_path / "d" / "case.json")
    write_case(case, link)
    assert link.is_symlink() and read_case(link) == case
    assert json.loads((tmp_path / "d" / "case.json").read_text(encoding="utf-8"))["reports"]


def test_atomic_path_is_still_importable_from_io():
    assert bio.atomic_path is atomic_path
