"""The sweep spec (TOML): what to run, validated whole before any work starts.

::

    name = "my sweep"                          # optional title
    traces = ["captures/*.h5", "lenet.h5"]     # paths or globs, relative to the spec file
    baseline = "ptb"                           # optional: speedups are over this accelerator
    samples = 10                               # optional: the first N samples of each trace
    [tiles]                                    # optional, default the paper's 256x16
    tile_m = [32, 256, 2048]                   # grid: every tile_m with every tile_k
    tile_k = [16]
    points = [[256, 4], [256, 128]]            # optional extra (tile_m, tile_k) points
    [accelerators.prosperity]                  # one table per registered accelerator
    adders = [64, 128, 256]                    # a list is a grid axis, a scalar a fixed value
    issue_type = [1, 2]                        # keys are fields of that accelerator's config
    [accelerators.ptb]

Tiles apply to the accelerators whose config has ``tile_m`` and ``tile_k`` fields
(Prosperity, LoAS): each is priced at every tile point. The others do not depend on the
tile; they are priced once per configuration (their rows have no tile). Setting
``tile_m`` / ``tile_k`` inside an accelerator table is an error (tiles have one home).

Every problem (unknown key, unknown accelerator, a field its config lacks, a wrong type, a
value the config rejects, a glob matching nothing) raises :class:`SpecError`, one line
naming the spec file and the key.
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from prosparsity.accel.registry import AcceleratorModel, registry
from prosparsity.analysis.grid import check_tile_sizes
from prosparsity.core.errors import ConfigError, HarnessError
from prosparsity.core.paths import input_problem, looks_like
from prosparsity.paper.study import HEADLINE_BASELINE
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.sweep.configs import FieldKind, coerce, field_kinds

__all__ = [
    "DEFAULT_TILE",
    "AcceleratorSweep",
    "SpecError",
    "SweepSpec",
    "load_spec",
    "packaged_spec",
    "packaged_specs",
]

TILE_FIELDS = ("tile_m", "tile_k")
_TOP_KEYS = ("name", "traces", "baseline", "samples", "tiles", "accelerators")
_TILE_KEYS = ("tile_m", "tile_k", "points")
_GLOB_CHARS = frozenset("*?[")


class SpecError(HarnessError):
    """A sweep spec is invalid: names the spec file and the key.

    Args:
        path: the spec file.
        key: the offending key, dotted (``accelerators.prosperity.adders``).
        problem: what is wrong.
    """

    def __init__(self, path: str | Path, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.path}: {key}: {problem}")


@dataclass(frozen=True)
class AcceleratorSweep:
    """The configurations of one accelerator in a sweep.

    Attributes:
        name: registry name.
        fixed: field -> value set for every configuration.
        axes: ``(field, values)`` grid axes, in spec order.
        tiled: the config has ``tile_m`` and ``tile_k`` (priced at every tile point).
    """

    name: str
    fixed: Mapping[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    tiled: bool

    @property
    def swept_fields(self) -> tuple[str, ...]:
        """Fields with more than one value (grid axes)."""
        return tuple(name for name, _ in self.axes)

    def points(self) -> Iterator[dict[str, Any]]:
        """Every grid point as ``field -> value`` (fixed fields included), in grid order
        (the last axis varies fastest)."""
        names = [n for n, _ in self.axes]
        for combo in itertools.product(*(v for _, v in self.axes)):
            yield {**self.fixed, **dict(zip(names, combo, strict=True))}

    @property
    def n_configs(self) -> int:
        n = 1
        for _, values in self.axes:
            n *= len(values)
        return n


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec.

    Attributes:
        path: the spec file.
        name: title (the file stem unless the spec sets ``name``).
        traces: trace files, resolved and de-duplicated, in spec order.
        tiles: ``(tile_m, tile_k)`` points, de-duplicated, in spec order.
        accelerators: one entry per ``[accelerators.NAME]`` table, in the CLI's order.
        baseline: accelerator the summary's speedups are over (``None``: no speedups).
        samples: sweep only the first ``samples`` samples of each trace (``None``: all).
    """

    path: Path
    name: str
    traces: tuple[Path, ...]
    tiles: tuple[tuple[int, int], ...]
    accelerators: tuple[AcceleratorSweep, ...]
    baseline: str | None
    samples: int | None = None

    @property
    def swept_fields(self) -> tuple[str, ...]:
        """Every swept config field over all accelerators (result table columns)."""
        return tuple(dict.fromkeys(f for a in self.accelerators for f in a.swept_fields))


# ------------------------------------------------------------------------------ loading


def packaged_specs() -> tuple[str, ...]:
    """Names of the specs shipped in the package (``figure7``, ...)."""
    folder = resources.files("prosparsity.sweep") / "specs"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def packaged_spec(name: str) -> Path:
    """Path of a packaged spec by name.

    Raises:
        ConfigError: no packaged spec of that name.
    """
    if name not in packaged_specs():
        raise ConfigError("SPEC", f"no spec file '{name}' and no packaged spec of that name "
                          f"(packaged: {', '.join(packaged_specs())})")
    return Path(str(resources.files("prosparsity.sweep") / "specs" / f"{name}.toml"))


def load_spec(path: str | Path, extra_traces: Sequence[str] = (),
              base: Path | None = None) -> SweepSpec:
    """Read and validate a sweep spec.

    Args:
        path: the TOML file.
        extra_traces: more trace paths or globs (e.g. from the command line), resolved
            against ``base``; they are added to the spec's ``traces``.
        base: folder ``extra_traces`` are relative to (default: the current folder).

    Raises:
        SpecError: any problem, naming the file and the key.
    """
    path = Path(path)
    problem = input_problem(path, what="spec file")  # a FIFO is named, never opened
    if problem is not None:
        raise SpecError(path, "SPEC", problem)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        seen = looks_like(path)
        raise SpecError(path, "SPEC", "not a TOML text file"
                        + (f" (it is {seen})" if seen else "")) from None
    except OSError as exc:
        raise SpecError(path, "SPEC", f"cannot read the spec: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(path, "SPEC", f"not valid TOML ({exc})") from None
    return _parse(path, doc, extra_traces, Path.cwd() if base is None else base)


def _parse(path: Path, doc: Mapping[str, Any], extra_traces: Sequence[str],
           base: Path) -> SweepSpec:
    for key in doc:
        if key not in _TOP_KEYS:
            raise SpecError(path, key, f"unknown key (known: {', '.join(_TOP_KEYS)})")
    name = doc.get("name", path.stem)
    if not isinstance(name, str):
        raise SpecError(path, "name", f"must be a string, got {name!r}")
    traces = _traces(path, doc.get("traces", []), extra_traces, base)
    tiles = _tiles(path, doc.get("tiles", {}))
    reg = registry()
    accel_doc = doc.get("accelerators")
    if accel_doc is None:
        raise SpecError(path, "accelerators", "missing: add at least one [accelerators.NAME] "
                        "table")
    if not isinstance(accel_doc, Mapping) or not accel_doc:
        raise SpecError(path, "accelerators", "must hold at least one [accelerators.NAME] table")
    sweeps = {}
    for accel, table in accel_doc.items():
        if accel not in reg:
            raise SpecError(path, f"accelerators.{accel}", "unknown accelerator (known: "
                            f"{', '.join(reg)})")
        sweeps[accel] = _accelerator(path, reg[accel], table, tiles)
    accelerators = tuple(sweeps[n] for n in reg if n in sweeps)  # the registry's order
    baseline = doc.get("baseline")
    if baseline is None:
        baseline = HEADLINE_BASELINE if HEADLINE_BASELINE in sweeps else None
    elif not isinstance(baseline, str):
        raise SpecError(path, "baseline", f"must be an accelerator name, got {baseline!r}")
    elif baseline not in sweeps:
        raise SpecError(path, "baseline", f"'{baseline}' has no [accelerators.{baseline}] "
                        "table in this spec")
    samples = doc.get("samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)
                                or samples < 1):
        raise SpecError(path, "samples", f"must be a positive integer, got {samples!r}")
    return SweepSpec(path=path, name=name, traces=traces, tiles=tiles,
                     accelerators=accelerators, baseline=baseline, samples=samples)


def _traces(path: Path, value: Any, extra: Sequence[str], base: Path) -> tuple[Path, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(path, "traces", f"must be a list of paths or globs, got {value!r}")
    entries = [(f"traces[{i}]", v, path.parent) for i, v in enumerate(value)]
    entries += [(f"--trace {v}", v, base) for v in extra]
    found: list[Path] = []
    for key, pattern, root in entries:
        full = Path(pattern).expanduser()
        full = full if full.is_absolute() else root / full
        if _GLOB_CHARS & set(pattern):
            matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise SpecError(path, key, f"'{pattern}' matches no file (in {root})")
            found += [m.resolve() for m in matches]
        elif full.is_dir():
            raise SpecError(path, key, f"'{pattern}' is a directory; give trace files or a "
                            "glob such as DIR/*.h5")
        elif (problem := input_problem(full)) is not None:
            where = f" (in {root})" if problem == "file not found" else ""
            raise SpecError(path, key, f"'{pattern}': {problem}{where}")
        else:
            found.append(full.resolve())
    if not found:
        raise SpecError(path, "traces", "no trace given (list trace files or globs, or pass "
                        "--trace)")
    return tuple(dict.fromkeys(found))


def _int_list(path: Path, key: str, value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise SpecError(path, key, f"must be an integer or a non-empty list of integers, "
                        f"got {value!r}")
    return values


def _tiles(path: Path, doc: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(doc, Mapping):
        raise SpecError(path, "tiles", "must be a table ([tiles])")
    for key in doc:
        if key not in _TILE_KEYS:
            raise SpecError(path, f"tiles.{key}", f"unknown key (known: {', '.join(_TILE_KEYS)})")
    points: list[tuple[int, int]] = []
    if "tile_m" in doc or "tile_k" in doc or "points" not in doc:
        ms = _int_list(path, "tiles.tile_m", doc.get("tile_m", DEFAULT_TILE.tile_m))
        ks = _int_list(path, "tiles.tile_k", doc.get("tile_k", DEFAULT_TILE.tile_k))
        points += [(m, k) for m in ms for k in ks]
    listed = doc.get("points", [])
    if not isinstance(listed, list):
        raise SpecError(path, "tiles.points", f"must be a list of [tile_m, tile_k], got {listed!r}")
    for i, point in enumerate(listed):
        if (not isinstance(point, list) or len(point) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in point)):
            raise SpecError(path, f"tiles.points[{i}]", f"must be [tile_m, tile_k], got {point!r}")
        points.append((point[0], point[1]))
    for m, k in points:
        try:
            check_tile_sizes(m, k)
        except ConfigError as exc:
            raise SpecError(path, f"tiles.{exc.field}", exc.problem) from None
    return tuple(dict.fromkeys(points))


def _accelerator(path: Path, entry: AcceleratorModel, table: Any,
                 tiles: tuple[tuple[int, int], ...]) -> AcceleratorSweep:
    where = f"accelerators.{entry.name}"
    if not isinstance(table, Mapping):
        raise SpecError(path, where, "must be a table ([accelerators.NAME])")
    kinds = field_kinds(entry.config_type)
    tiled = all(f in kinds for f in TILE_FIELDS)
    fixed: dict[str, Any] = {}
    axes: list[tuple[str, tuple[Any, ...]]] = []
    for field_name, raw in table.items():
        key = f"{where}.{field_name}"
        if field_name not in kinds:
            known = ", ".join(k for k in kinds if kinds[k] is not FieldKind.OTHER)
            raise SpecError(path, key, f"{entry.config_type.__name__} has no field "
                            f"'{field_name}' (sweepable fields: {known})")
        if tiled and field_name in TILE_FIELDS:
            raise SpecError(path, key, "tile sizes are set in [tiles], for every accelerator "
                            "that has them")
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise SpecError(path, key, "an empty list sweeps nothing")
        try:
            values = [coerce(kinds[field_name], v) for v in values]
        except TypeError as exc:
            raise SpecError(path, key, str(exc)) from None
        if len(set(map(repr, values))) != len(values):
            raise SpecError(path, key, f"repeats a value: {raw!r}")
        if len(values) == 1:
            fixed[field_name] = values[0]
        else:
            axes.append((field_name, tuple(values)))
    sweep = AcceleratorSweep(name=entry.name, fixed=fixed, axes=tuple(axes), tiled=tiled)
    for point in sweep.points():  # every configuration must construct
        for tile in tiles if tiled else [None]:
            values = dict(point) if tile is None else {**point, "tile_m": tile[0],
                                                       "tile_k": tile[1]}
            _construct(path, entry, values, where)
    return sweep


def _construct(path: Path, entry: AcceleratorModel, values: Mapping[str, Any],
               where: str) -> Any:
    try:
        return dataclasses.replace(entry.default_config(), **values)
    except ConfigError as exc:
        name = exc.field.rsplit(".", 1)[-1]
        if name in TILE_FIELDS:
            raise SpecError(path, f"tiles.{name}", f"{entry.name}: {exc.problem}") from None
        if name in values:
            raise SpecError(path, f"{where}.{name}", exc.problem) from None
        raise SpecError(path, where, str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise SpecError(path, where, str(exc)) from None
