"""The result cache: content keys, atomic JSON entries, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from prosparsity.sweep.cache import ResultCache, harness_version


def test_roundtrip_and_keys(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c", harness="h1")
    inputs = {"trace_sha256": "ab" * 32, "sample": 0, "tile_m": 256, "tile_k": 16}
    key = cache.key("count", inputs)
    assert cache.get("count", key) is None
    path = cache.put("count", key, inputs, {"x": 1})
    assert path == tmp_path / "c" / "v1" / "count" / key[:2] / f"{key}.json"
    assert cache.get("count", key) == {"x": 1}
    doc = json.loads(path.read_text())
    assert doc["inputs"] == inputs and doc["harness"] == "h1"
    # the key changes with every input, the stage and the harness version
    assert cache.key("count", {**inputs, "tile_k": 8}) != key
    assert cache.key("price", inputs) != key
    assert ResultCache(tmp_path / "c", harness="h2").key("count", inputs) != key
    assert cache.key("count", dict(reversed(inputs.items()))) == key  # order-free
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_unreadable_entries_are_misses(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, harness="h")
    key = cache.key("price", {"a": 1})
    path = cache.put("price", key, {"a": 1}, {"v": 2.5})
    path.write_text('{"key": "')  # truncated
    assert cache.get("price", key) is None
    path.write_text(json.dumps({"key": "other", "result": {"v": 1}}))
    assert cache.get("price", key) is None
    cache.put("price", key, {"a": 1}, {"v": 2.5})
    assert cache.get("price", key) == {"v": 2.5}


def test_statistics_roundtrip_in_model_stats_own_format(traces: dict[str, Path],
                                                         tmp_path: Path) -> None:
    from prosparsity.accel.ptb import PTBConfig
    from prosparsity.analysis.stats import ModelStats
    from prosparsity.sweep.stages import count

    stats = count(str(traces["two"]), 1, 2, 64, 8, [PTBConfig().counter])
    cache = ResultCache(tmp_path, harness="h")
    key = cache.key("count", {"a": 1})
    assert cache.get_stats(key) is None
    path = cache.put_stats(key, stats)
    assert path == tmp_path / "v1" / "stats" / key[:2] / f"{key}.json"
    back = cache.get_stats(key)
    assert back == stats and back.counters == stats.counters  # grids, counts, counters
    assert back.network is not None and back.network.layers == stats.network.layers
    assert ModelStats.load(path.with_suffix("")) == stats  # ModelStats.load reads it
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{key}.json", f"{key}.npz"]
    path.with_suffix(".npz").write_bytes(b"PK\x03\x04 truncated")
    assert cache.get_stats(key) is None  # unreadable: a miss, counted again


def test_harness_version_names_package_and_source() -> None:
    version = harness_version()
    base, digest = version.split("+")
    assert base and len(digest) == 16 and int(digest, 16) >= 0


_WRITER = """
import sys
from prosparsity.sweep.cache import ResultCache
cache = ResultCache(sys.argv[1], harness="h")
for i in range(150):
    inputs = {"i": i % 30}
    cache.put("price", cache.key("price", inputs), inputs, {"value": i % 30, "pad": "x" * 2000})
"""


def test_two_writers_sharing_a_cache_do_not_corrupt_it(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    cache = ResultCache(tmp_path, harness="h")
    for i in range(30):
        assert cache.get("price", cache.key("price", {"i": i}))["value"] == i
    assert cache.entries("price") == 30
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and ".tmp-" in p.name]
