"""The sweep spec: grids, tiles, defaults, and one clear line per error, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from prosparsity.paper.fig7 import FIG7_TILE_K_NORMALIZED_LATENCY, FIG7_TILE_M_NORMALIZED_LATENCY
from prosparsity.sweep.spec import DEFAULT_TILE, SpecError, load_spec, packaged_spec
from tests.sweep.conftest import run_main


def _spec(folder: Path, text: str, name: str = "s.toml") -> Path:
    (folder / "a.h5").write_bytes(b"")  # existence is all the spec checks
    (folder / "b.h5").write_bytes(b"")
    path = folder / name
    path.write_text(text)
    return path


def test_grid_tiles_and_defaults(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, """
traces = ["*.h5", "a.h5"]
[tiles]
tile_m = [32, 256]
tile_k = [16, 8]
points = [[256, 16], [2048, 16]]
[accelerators.ptb]
[accelerators.prosperity]
adders = [64, 128, 256]
issue_type = [1, 2]
lif_units = 16
clock_hz = 250000000
"""))
    assert spec.traces == ((tmp_path / "a.h5").resolve(), (tmp_path / "b.h5").resolve())
    assert spec.tiles == ((32, 16), (32, 8), (256, 16), (256, 8), (2048, 16))
    assert [a.name for a in spec.accelerators] == ["prosperity", "ptb"]  # CLI order
    pro, ptb = spec.accelerators
    assert pro.tiled and not ptb.tiled
    assert pro.n_configs == 6 and ptb.n_configs == 1
    assert pro.fixed == {"lif_units": 16, "clock_hz": 250e6}
    assert isinstance(pro.fixed["clock_hz"], float)
    points = list(pro.points())
    assert points[0] == {"lif_units": 16, "clock_hz": 250e6, "adders": 64, "issue_type": 1}
    assert points[1]["issue_type"] == 2 and points[2]["adders"] == 128
    assert spec.swept_fields == ("adders", "issue_type")
    assert spec.baseline == "ptb" and spec.name == "s" and spec.samples is None
    assert load_spec(_spec(tmp_path, 'traces = ["a.h5"]\nsamples = 2\n[accelerators.ptb]\n'
                           )).samples == 2


def test_default_tile_and_no_baseline(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, 'traces = ["a.h5"]\n[accelerators.prosperity]\n'))
    assert spec.tiles == (DEFAULT_TILE,) == ((256, 16),)
    assert spec.baseline is None


def test_figure7_spec_has_the_figures_12_tile_points(tmp_path: Path) -> None:
    (tmp_path / "t.h5").write_bytes(b"")
    spec = load_spec(packaged_spec("figure7"), ["t.h5"], base=tmp_path)
    figure = set(FIG7_TILE_M_NORMALIZED_LATENCY) | set(FIG7_TILE_K_NORMALIZED_LATENCY)
    assert len(spec.tiles) == 12 and set(spec.tiles) == figure
    assert spec.traces == ((tmp_path / "t.h5").resolve(),)
    (pro,) = spec.accelerators
    assert list(pro.points()) == [{"sparsity": "product"}, {"sparsity": "bit"}]


BAD = [
    ("colour = 1\n", "colour", "unknown key"),
    ('traces = "a.h5"\n', "traces", "must be a list"),
    ('traces = ["missing.h5"]\n', "traces[0]", "'missing.h5': file not found"),
    ('traces = ["nothing/*.h5"]\n', "traces[0]", "matches no file"),
    ('traces = []\n', "traces", "no trace given"),
    ('traces = ["a.h5"]\n', "accelerators", "missing"),
    ('traces = ["a.h5"]\n[accelerators.tpu]\n', "accelerators.tpu", "unknown accelerator"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nwidth = 4\n',
     "accelerators.prosperity.width", "has no field 'width'"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nadders = "many"\n',
     "accelerators.prosperity.adders", "must be an integer"),
    ('traces = ["a.h5"]\n[accelerators.ptb]\nstsap = 1\n',
     "accelerators.ptb.stsap", "must be true or false"),
    # TOML has inf and nan (and 1e400 reads as inf): refused before the config sees them
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nclock_hz = [inf]\n',
     "accelerators.prosperity.clock_hz", "must be a finite number, got inf"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nclock_hz = [500e6, -inf]\n',
     "accelerators.prosperity.clock_hz", "must be a finite number, got -inf"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nclock_hz = 1e400\n',
     "accelerators.prosperity.clock_hz", "must be a finite number, got inf"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nclock_hz = nan\n',
     "accelerators.prosperity.clock_hz", "must be a finite number, got nan"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nissue_type = [2, 3]\n',
     "accelerators.prosperity.issue_type", "must be 1 or 2"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nsparsity = "half"\n',
     "accelerators.prosperity.sparsity", "must be one of"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\nadders = []\n',
     "accelerators.prosperity.adders", "empty list"),
    ('traces = ["a.h5"]\n[accelerators.prosperity]\ntile_m = [32]\n',
     "accelerators.prosperity.tile_m", "set in [tiles]"),
    ('traces = ["a.h5"]\n[accelerators.gpu-a100]\nspec = "h100"\n',
     "accelerators.gpu-a100.spec", "cannot be swept"),
    ('traces = ["a.h5"]\n[tiles]\ntile_k = [0]\n[accelerators.prosperity]\n',
     "tiles.tile_k", "1..128"),
    ('traces = ["a.h5"]\n[tiles]\nsize = 3\n[accelerators.prosperity]\n',
     "tiles.size", "unknown key"),
    ('traces = ["a.h5"]\n[tiles]\npoints = [[256]]\n[accelerators.prosperity]\n',
     "tiles.points[0]", "[tile_m, tile_k]"),
    # found by `make fuzz`: a number where the list of points goes was a TypeError traceback
    ('traces = ["a.h5"]\n[tiles]\npoints = 7\n[accelerators.prosperity]\n',
     "tiles.points", "must be a list of [tile_m, tile_k]"),
    ('traces = ["a.h5"]\nbaseline = "sato"\n[accelerators.prosperity]\n',
     "baseline", "no [accelerators.sato] table"),
    ('traces = ["a.h5"\n', "SPEC", "not valid TOML"),
    ('traces = ["a.h5"]\nsamples = 0\n[accelerators.ptb]\n', "samples",
     "positive integer"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD, ids=[b[1] for b in BAD])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str,
                                          problem: str) -> None:
    path = _spec(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_cli_reports_a_spec_error_in_one_line_before_any_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _spec(tmp_path, 'traces = ["a.h5"]\n[accelerators.prosperity]\nadders = [0]\n')
    out = tmp_path / "out"
    code, stdout, stderr = run_main(monkeypatch, "sweep", str(path), "--out", str(out))
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1] == (f"error: {path}: accelerators.prosperity.adders: must be a "
                         "positive integer, got 0")
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists()  # nothing was started or written


def test_cli_unknown_spec_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, stderr = run_main(monkeypatch, "sweep", "figure9", "--out", str(tmp_path / "o"))
    assert code == 2 and "packaged: figure7" in stderr
