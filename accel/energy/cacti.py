"""A user's CACTI 7 binary as the source of SRAM figures (instead of the packaged rows).

``ComponentConfig(cacti="/path/to/cacti")`` (``prosparsity energy --cacti PATH``) sizes
every buffer by running that binary once per (capacity, access width): a configuration
file is written to a temporary folder, ``cacti -infile FILE`` runs there, and the access
energies, leakage and ``height x width`` area are read from its report. Nothing is ever
downloaded; the binary is the user's. The configuration is the one the packaged rows were
made with (shared reference ``cacti/README.md``): a UCA RAM of one bank with one
read-write port, ITRS high-performance cells and peripherals, 360 K, optimised for energy
and delay, an I/O bus 8 x the block wide, at 28 nm.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from prosparsity.accel.energy.tables import SRAM_NODE_NM, SramFigures
from prosparsity.core.errors import ConfigError

__all__ = ["CactiRunner", "cacti_config", "parse_report"]

#: How long one CACTI run may take, s.
TIMEOUT_S = 300

#: The configuration (CACTI's ``-name value`` input format), without size, block, bus.
_SETTINGS: tuple[tuple[str, str], ...] = (
    ("cache type", '"ram"'),
    ("associativity", "1"),
    ("read-write port", "1"),
    ("exclusive read port", "0"),
    ("exclusive write port", "0"),
    ("single ended read ports", "0"),
    ("UCA bank count", "1"),
    ("Cache model (NUCA, UCA)  -", '"UCA"'),
    ("Data array cell type -", '"itrs-hp"'),
    ("Data array peripheral type -", '"itrs-hp"'),
    ("Tag array cell type -", '"itrs-hp"'),
    ("Tag array peripheral type -", '"itrs-hp"'),
    ("operating temperature (K)", "360"),
    ("Optimize ED or ED^2 (ED, ED^2, NONE):", '"ED"'),
    ("design objective (weight delay, dynamic power, leakage power, cycle time, area)",
     "0:100:1000:0:100"),
    ("deviate (delay, dynamic power, leakage power, cycle time, area)",
     "20:100000:100000:100000:100000"),
    ("access mode (normal, sequential, fast) -", '"normal"'),
    ("tag size (b)", '"default"'),
    ("Wire signaling (fullswing, lowswing, default) -", '"Global_30"'),
    ("Wire inside mat -", '"semi-global"'),
    ("Wire outside mat -", '"semi-global"'),
    ("Interconnect projection -", '"conservative"'),
    ("Print level (DETAILED, CONCISE) -", '"CONCISE"'),
)

_FIELDS = {
    "read_pj": r"Total dynamic read energy per access \(nJ\)\s*:\s*([\d.eE+-]+)",
    "write_pj": r"Total dynamic write energy per access \(nJ\)\s*:\s*([\d.eE+-]+)",
    "leak_mw": r"Total leakage power of a bank \(mW\)\s*:\s*([\d.eE+-]+)",
    "height_mm": r"Cache height x width \(mm\)\s*:\s*([\d.eE+-]+)\s*x",
    "width_mm": r"Cache height x width \(mm\)\s*:\s*[\d.eE+-]+\s*x\s*([\d.eE+-]+)",
}


def cacti_config(size_bytes: int, block_bytes: int, node_nm: float = SRAM_NODE_NM) -> str:
    """The configuration file of one buffer (CACTI's input format)."""
    lines = [f"-size (bytes) {size_bytes}", f"-block size (bytes) {block_bytes}",
             f"-output/input bus width {8 * block_bytes}",
             f"-technology (u) {node_nm / 1000:g}"]
    lines += [f"-{name} {value}" for name, value in _SETTINGS]
    return "\n".join(lines) + "\n"


def parse_report(text: str, size_bytes: int, block_bytes: int) -> SramFigures:
    """The figures of one CACTI report (energies in nJ become pJ; area is height x width).

    Raises:
        ValueError: a figure missing from the report (names it).
    """
    values = {}
    for name, pattern in _FIELDS.items():
        match = re.search(pattern, text)
        if match is None:
            raise ValueError(f"no {pattern.split(chr(92))[0].strip()!r} in CACTI's report")
        values[name] = float(match.group(1))
    return SramFigures(size_bytes, block_bytes, values["read_pj"] * 1e3,
                       values["write_pj"] * 1e3, values["leak_mw"],
                       values["height_mm"] * values["width_mm"], "cacti")


class CactiRunner:
    """Runs a given CACTI binary for SRAM figures (each configuration once per runner).

    Args:
        binary: path of the CACTI 7 executable.

    Raises:
        ConfigError: no executable file at ``binary``.
    """

    def __init__(self, binary: str | Path) -> None:
        self.binary = Path(binary)
        if not self.binary.is_file():
            raise ConfigError("energy.cacti", f"{self.binary}: no such file (give the path "
                              "of a CACTI 7 binary; the harness never downloads one)")
        self._seen: dict[tuple[int, int], SramFigures] = {}

    def figures(self, size_bytes: float, block_bytes: float) -> SramFigures:
        """The figures of one buffer, from a run of the binary.

        Raises:
            ConfigError: the run fails, times out or reports no figures (names the
                binary and the configuration).
        """
        key = (max(1, round(size_bytes)), max(1, round(block_bytes)))
        if key not in self._seen:
            self._seen[key] = self._run(*key)
        return self._seen[key]

    def _run(self, size: int, block: int) -> SramFigures:
        where = f"energy.cacti ({self.binary}, {size} B, {block} B blocks)"
        with tempfile.TemporaryDirectory(prefix="prosparsity-cacti-") as folder:
            cfg = Path(folder) / "buffer.cfg"
            cfg.write_text(cacti_config(size, block))
            try:
                done = subprocess.run([str(self.binary), "-infile", str(cfg)], cwd=folder,
                                      capture_output=True, text=True, timeout=TIMEOUT_S,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ConfigError(where, f"could not run: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise ConfigError(where, f"exit status {done.returncode}: {tail[0]}")
        try:
            return parse_report(done.stdout, size, block)
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
