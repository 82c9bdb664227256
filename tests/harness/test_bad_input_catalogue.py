"""The catalogue of bad and edge-case input (each case a user met, and more of each class),
through the real entry point: one ``error:`` line and exit 2 (typer's usage errors: exit
2 and the option's limits), or a correct success; never a traceback, a hang, a crash, a
silently accepted mistake, nor a touched node that is not ours.

Nodes (FIFOs, a character device, a socket) are made by the tests in their own folders;
the machine's ``/dev`` is never named (the device-folder rule is checked against a
stand-in folder). A test whose command would block on a FIFO, were the check to regress,
fails instead of hanging: a helper opens the FIFO's other end after a while.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from prosparsity.core import atomic
from prosparsity.harness.cli import main
from prosparsity.harness.console import Output, set_output
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

ROOT = os.geteuid() == 0
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``prosparsity ARGS`` through :func:`main`: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=400, color=False))
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        set_output(None)
    captured = capsys.readouterr()  # typer's usage errors write to sys.stderr
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.getvalue() + captured.out, \
        err.getvalue() + captured.err


def one_error(err: str) -> str:
    """The text of the single ``error:`` line of ``err`` (asserting there is one)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


def fingerprint(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_mode, st.st_rdev, st.st_mtime_ns


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def unblock() -> Iterator[list[Path]]:
    """FIFOs to open for writing after 15 s, so that a command that (wrongly) opened one
    for reading fails its assertions instead of hanging."""
    fifos: list[Path] = []
    stop = threading.Event()

    def writer() -> None:
        if stop.wait(15):
            return
        while not stop.is_set():
            for fifo in fifos:
                try:
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
            time.sleep(0.2)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    yield fifos
    stop.set()
    thread.join()


def node(kind: str, folder: Path) -> Path:
    """A FIFO, a character device (the numbers of /dev/null) or a bound socket in
    ``folder``."""
    path = folder / f"node-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        if not ROOT:
            pytest.skip("making a device node needs root (CI runs as root)")
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        server.close()  # the socket file stays
    return path


KIND = {"fifo": "a FIFO (named pipe)", "chardev": "a character device", "sock": "a socket"}


def small_trace(path: Path, levels: int = 2) -> Path:
    """One linear layer (K = 24, N = 5, T = 4); ``levels`` 3 gives values 0..2."""
    rng = np.random.default_rng(5)
    data = rng.integers(0, levels, (4, 24)).astype(np.uint8)
    with TraceWriter(path, TraceInfo(model="m", time_steps=4)) as w:
        w.add_layer(LayerRecord("fc", LayerKind.LINEAR, {"in_features": 24, "out_features": 5},
                                layout="T,K"), data)
    return path


# ============================================================ outputs: never a node of others


@pytest.mark.parametrize("kind", ["fifo", "chardev", "sock"])
@pytest.mark.parametrize("command", ["synth", "import", "capture"])
def test_an_output_node_is_left_exactly_as_it_was(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lenet5_npz: Path, kind: str,
    command: str,
) -> None:
    """-o onto a device replaced it with an HDF5 file (run as root: `-o /dev/full`
    replaced the machine's /dev/full); now one line before any work."""
    out = node(kind, tmp_path)
    before = fingerprint(out)
    args = {"synth": ["trace", "synth", "--workload", "lenet5_mnist", "-o", str(out)],
            "import": ["trace", "import", str(lenet5_npz), "-o", str(out)],
            "capture": ["capture", "digits-cnn", "-o", str(out)]}[command]
    code, _, err = run(capsys, *args)
    where = f"-o {out}" if command == "capture" else str(out)
    assert code == 2
    assert one_error(err) == (f"{where}: is {KIND[kind]}, not a regular file; refused (an "
                              "output replaces only regular files: give another file name "
                              "for the trace)")
    assert fingerprint(out) == before
    assert names(tmp_path) == [out.name]  # no temporary file, nothing else


def test_a_link_to_a_fifo_and_a_path_into_the_device_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = node("fifo", tmp_path)
    link = tmp_path / "t.h5"
    link.symlink_to(fifo)
    code, _, err = run(capsys, "trace", "synth", "--workload", "lenet5_mnist", "-o", str(link))
    assert code == 2 and one_error(err).startswith(f"{link}: is a symbolic link to a FIFO")
    devices = tmp_path / "devices"  # a stand-in for /dev
    devices.mkdir()
    monkeypatch.setattr(atomic, "DEVICE_DIRS", (devices,))
    (tmp_path / "via").symlink_to(devices)
    target = tmp_path / "via" / "t.h5"
    code, _, err = run(capsys, "trace", "synth", "--workload", "lenet5_mnist", "-o", str(target))
    assert code == 2
    assert one_error(err) == (f"{target}: leads into {devices}, the folder of device nodes; "
                              "refused (give a file name elsewhere for the trace)")
    assert names(devices) == []


@pytest.mark.parametrize("command", ["sweep", "reproduce", "demo"])
def test_an_output_folder_that_is_a_fifo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lenet5_npz: Path, command: str
) -> None:
    fifo = node("fifo", tmp_path)
    before = fingerprint(fifo)
    spec = tmp_path / "s.toml"
    spec.write_text(f'traces = ["{lenet5_npz}"]\n[accelerators.ptb]\n')
    args = {"sweep": ["sweep", str(spec), "--out", str(fifo)],
            "reproduce": ["reproduce", "--data", str(lenet5_npz), "--out", str(fifo)],
            "demo": ["demo", "--out", str(fifo)]}[command]
    code, _, err = run(capsys, *args)
    assert (code, one_error(err)) == (2, f"--out {fifo}: not a folder")
    assert fingerprint(fifo) == before


def test_sweep_out_empty_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`sweep --out ''` wrote into the current folder (a Path option reads '' as '.')."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "sweep", "figure7", "--out", "")
    assert (code, one_error(err)) == (2, "--out '': empty folder name; give a folder")
    assert names(tmp_path) == []


# ============================================================ inputs: named, never opened


@pytest.mark.parametrize("args", [
    ["trace", "info", "{n}"],
    ["trace", "verify", "{n}"],
    ["trace", "upgrade", "{n}"],
    ["analyze", "{n}"],
    ["simulate", "{n}"],
    ["trace", "import", "{n}", "-o", "{t}"],
])
@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_an_input_that_is_a_node_is_named_never_opened(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unblock: list[Path], args: list[str],
    kind: str,
) -> None:
    """`trace info` on a FIFO blocked for ever; a FIFO was "file not found"."""
    n = node(kind, tmp_path)
    if kind == "fifo":
        unblock.append(n)
    before = fingerprint(n)
    code, _, err = run(capsys, *(a.format(n=n, t=tmp_path / "t.h5") for a in args))
    assert code == 2
    assert one_error(err) == f"{n}: is {KIND[kind]}, not a regular file"
    assert fingerprint(n) == before
    assert names(tmp_path) == [n.name]


@pytest.mark.parametrize("args", [
    ["capture", "digits-cnn", "--input", "{n}", "-o", "{t}"],
    ["capture", "digits-cnn", "--checkpoint", "{n}", "-o", "{t}"],
    ["capture", "--nir", "{n}", "--input", "{n}", "-o", "{t}"],
    ["sweep", "{n}", "--out", "{d}"],
    ["reproduce", "--data", "{n}", "--out", "{d}"],
    ["reproduce", "--data", "{dump}", "--official", "{n}", "--out", "{d}"],
])
def test_other_inputs_that_are_fifos(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     unblock: list[Path], args: list[str],
                                     lenet5_npz: Path) -> None:
    fifo = node("fifo", tmp_path)
    unblock.append(fifo)
    code, _, err = run(capsys, *(a.format(n=fifo, t=tmp_path / "t.h5", d=tmp_path / "o",
                                          dump=lenet5_npz) for a in args))
    assert code == 2
    assert "is a FIFO (named pipe), not a regular file" in one_error(err)
    assert names(tmp_path) == [fifo.name]


def test_real_reasons_for_missing_inputs(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    """A symbolic-link loop was "file not found" (trace info) or "neither a file nor a
    paper workload" (analyze)."""
    loop = tmp_path / "loop.h5"
    loop.symlink_to(tmp_path / "loop2.h5")
    (tmp_path / "loop2.h5").symlink_to(loop)
    dangling = tmp_path / "gone.h5"
    dangling.symlink_to(tmp_path / "never.h5")
    for command in (["trace", "info"], ["analyze"], ["simulate"]):
        code, _, err = run(capsys, *command, str(loop))
        assert (code, one_error(err)) == (
            2, f"{loop}: symbolic link loop (its links lead back to one another)")
        code, _, err = run(capsys, *command, str(dangling))
        assert (code, one_error(err)) == (
            2, f"{dangling}: broken symbolic link (it points to {tmp_path}/never.h5, which "
               "does not exist)")


def test_a_damaged_v1_file_cannot_stall_trace_info(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged schema-v1 file stalled `trace info` and `analyze` inside HDF5; every
    in-process read of a v1 file now follows the bounded child check."""
    from prosparsity.traces import probe
    from tests.traces.fuzz_runner import mutate
    from tests.traces.test_fuzz import CORPUS, build

    (case,) = [c for c in json.loads(CORPUS.read_text())["stalls"] if c["trace"] == "v1"]
    path = build("v1", tmp_path / "v1.h5")
    path.write_bytes(mutate(path.read_bytes(), [tuple(p) for p in case["patches"]]))
    monkeypatch.setattr(probe, "default_timeout", lambda _path: 3.0)
    for command in (["trace", "info"], ["analyze"]):
        start = time.monotonic()
        code, _, err = run(capsys, *command, str(path))
        assert code == 2
        assert one_error(err).startswith(f"{path}: not checked: its check did not finish "
                                         "within the time limit of 3 s")
        assert time.monotonic() - start < 60  # bounded: not the stall's for ever


def test_a_valid_v1_file_is_checked_once(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounded check of a v1 file is paid once per content: remembered in the process
    and in the verdict folder (the session's, see tests/conftest.py)."""
    from prosparsity.traces import probe
    from tests.traces.test_fuzz import build

    path = build("v1", tmp_path / "v1.h5")
    # a verdict folder and memory of its own: other tests check the same built file
    monkeypatch.setenv("PROSPARSITY_CACHE_DIR", str(tmp_path / "verdicts"))
    monkeypatch.setattr(probe, "_PASSED", type(probe._PASSED)())
    runs: list[str] = []
    real = probe.verify_bounded

    def counted(p: str | Path, timeout_s: float | None = None) -> probe.Verified:
        runs.append(str(p))
        return real(p, timeout_s)

    monkeypatch.setattr(probe, "verify_bounded", counted)
    code, first, _ = run(capsys, "trace", "info", str(path))
    assert code == 0 and len(runs) == 1
    code, again, _ = run(capsys, "trace", "info", str(path))
    assert code == 0 and len(runs) == 1 and again == first
    probe._PASSED.clear()  # a new process: the verdict on disk answers
    code, _, _ = run(capsys, "analyze", str(path))
    assert code == 0 and len(runs) == 1
    verdicts = list(probe.verdict_dir().glob("*.json"))
    assert any(json.loads(v.read_text())["sha256"] == probe._sha256(path) for v in verdicts)
    path.write_bytes(path.read_bytes())  # same bytes, new inode times: still one check
    probe._PASSED.clear()
    code, _, _ = run(capsys, "trace", "info", str(path))
    assert code == 0 and len(runs) == 1


# ============================================================ tracebacks on plausible mistakes


def _lenet5_arrays(lenet5_npz: Path) -> dict[str, np.ndarray]:
    with np.load(lenet5_npz) as src:
        return {k: src[k] for k in src.files}


@pytest.mark.parametrize("command", ["analyze", "simulate", "import"])
def test_npz_with_an_object_layer_or_a_corrupt_member(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lenet5_npz: Path, command: str
) -> None:
    """analyze/simulate gave tracebacks where trace import was clean."""
    arrays = _lenet5_arrays(lenet5_npz)
    objects = tmp_path / "objects" / "lenet5_mnist.npz"
    objects.parent.mkdir()
    np.savez(objects, **{**arrays, "fc_1": np.array([{"a": 1}] * 3, dtype=object)},
             allow_pickle=True)
    corrupt = tmp_path / "corrupt" / "lenet5_mnist.npz"
    corrupt.parent.mkdir()
    np.savez_compressed(corrupt, **arrays)
    raw = bytearray(corrupt.read_bytes())
    import zipfile

    with zipfile.ZipFile(corrupt) as z:
        info = z.getinfo("fc_0.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 8
    raw[start:start + 16] = b"\xff" * 16  # inside fc_0's deflate stream
    corrupt.write_bytes(bytes(raw))
    for dump, layer in ((objects, "fc_1"), (corrupt, "fc_0")):
        args = (["trace", "import", str(dump), "-o", str(tmp_path / "t.h5")]
                if command == "import" else [command, str(dump)])
        code, _, err = run(capsys, *args)
        assert code == 2
        assert one_error(err).startswith(f"{dump}, layer '{layer}': ")
    assert not (tmp_path / "t.h5").exists()


@pytest.mark.parametrize("command", ["analyze", "import"])
def test_npz_member_with_an_unterminated_header(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lenet5_npz: Path, command: str
) -> None:
    """Found by `make fuzz`: a member whose .npy header dictionary never closes made
    numpy's header reader raise tokenize.TokenError, a traceback."""
    arrays = _lenet5_arrays(lenet5_npz)
    dump = tmp_path / "lenet5_mnist.npz"
    np.savez(dump, **arrays)
    import zipfile

    with zipfile.ZipFile(dump) as z:
        members = {name: z.read(name) for name in z.namelist()}
    header = b"{'descr': '|b1', 'fortran_order': False, 'shape': (32, 120"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header) + 1) + header + b"\n"
    members["fc_0.npy"] = npy + members["fc_0.npy"][128:]
    with zipfile.ZipFile(dump, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    args = (["trace", "import", str(dump), "-o", str(tmp_path / "t.h5")]
            if command == "import" else [command, str(dump)])
    code, _, err = run(capsys, *args)
    assert code == 2 and "Traceback" not in err
    assert one_error(err).startswith(f"{dump}, layer 'fc_0': ")
    assert not (tmp_path / "t.h5").exists()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "0.01", "1e9", "abc"])
def test_verify_timeout_is_a_finite_number_in_range(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    """`trace verify --timeout inf` was an OverflowError traceback."""
    trace = small_trace(tmp_path / "t.h5")
    code, _, err = run(capsys, "trace", "verify", "--timeout", value, str(trace))
    assert code == 2 and "Traceback" not in err
    assert "Invalid value for '--timeout': " in err and "0.1..86400" in err


def test_a_module_with_a_syntax_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "brokenmod.py").write_text("def make(:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run(capsys, "capture", "--model", "brokenmod:make", "-o",
                       str(tmp_path / "t.h5"))
    assert code == 2
    assert one_error(err).startswith("--model 'brokenmod:make': cannot import 'brokenmod': "
                                     "SyntaxError: ")
    assert not (tmp_path / "t.h5").exists()


def test_synth_too_large_is_refused_before_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`trace synth --samples 1000000` tried to allocate 1.43 TiB."""
    from prosparsity.core import resources

    monkeypatch.setattr(resources, "free_memory", lambda: 16 << 30)
    monkeypatch.setattr(resources, "free_disk", lambda _at: 100 << 30)
    out = tmp_path / "big.h5"
    code, _, err = run(capsys, "trace", "synth", "--workload", "spikformer_cifar10",
                       "--samples", "1000000", "-o", str(out))
    assert code == 2
    assert one_error(err) == (
        f"synthetic trace {out} (spikformer_cifar10, 1,000,000 samples) would need about "
        "561 GiB on disk, 100 GiB free and about 412 GiB of memory at its peak, 16 GiB "
        "available: refused before starting (--no-size-check writes it anyway)")
    assert names(tmp_path) == []


@pytest.mark.parametrize(("value", "shown"), [("[inf]", "inf"), ("-inf", "-inf"),
                                              ("1e400", "inf"), ("[nan]", "nan")])
def test_spec_numbers_must_be_finite(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     lenet5_npz: Path, value: str, shown: str) -> None:
    """`clock_hz = [inf]` was a traceback (NaN and negative were clean)."""
    spec = tmp_path / "s.toml"
    spec.write_text(f'traces = ["{lenet5_npz}"]\n[accelerators.prosperity]\n'
                    f"clock_hz = {value}\n")
    code, _, err = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "o"))
    assert (code, one_error(err)) == (
        2, f"{spec}: accelerators.prosperity.clock_hz: must be a finite number, got {shown}")


@pytest.mark.parametrize(("address", "problem"), [
    ("not a url", "'not a url' is not an address; give the scheduler's address"),
    ("http://localhost:8787", "'http://localhost:8787' is a web address (the dashboard's, "
                              "not the scheduler's)"),
    ("tcp://host", "'tcp://host' is not an address (missing port number"),
    ("tcp://host:99999", "'tcp://host:99999': port 99999 is outside 1..65535"),
    ("smtp://host:25", "'smtp://host:25': unknown transport 'smtp'"),
])
def test_scheduler_addresses_are_parsed_before_connecting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lenet5_npz: Path, address: str,
    problem: str,
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(f'traces = ["{lenet5_npz}"]\n[accelerators.ptb]\n')
    start = time.monotonic()
    code, _, err = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "o"),
                       "--scheduler", address)
    assert code == 2 and one_error(err).startswith(f"--scheduler: {problem}")
    assert time.monotonic() - start < 30  # no connection attempt (its timeout is 10 s)
    assert not (tmp_path / "o").exists()


# ============================================================ silent acceptance, wrong reasons


@pytest.mark.parametrize(("text", "problem"), [
    ('traces = ["{t}"]\n', "accelerators: missing: add at least one [accelerators.NAME] "
                           "table"),
    ('traces = ["{t}"]\n[accelerators.prosperity]\ntile_m = [32]\n',
     "accelerators.prosperity.tile_m: tile sizes are set in [tiles], for every accelerator "
     "that has them"),
    ('traces = ["{t}"]\n[tiles]\npoints = [[256]]\n[accelerators.prosperity]\n',
     "tiles.points[0]: must be [tile_m, tile_k], got [256]"),
])
def test_spec_errors_keep_their_bracketed_text(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, lenet5_npz: Path, text: str,
                                               problem: str) -> None:
    """Console markup ate "[accelerators.NAME]", "[tiles]" and "[tile_m, tile_k]"."""
    spec = tmp_path / "s.toml"
    spec.write_text(text.format(t=lenet5_npz))
    code, _, err = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "o"))
    assert (code, one_error(err)) == (2, f"{spec}: {problem}")


def test_workload_given_with_a_trace(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     lenet5_npz: Path) -> None:
    """--workload with an .h5 was ignored without a word."""
    trace = tmp_path / "t.h5"
    assert run(capsys, "trace", "import", str(lenet5_npz), "-o", str(trace))[0] == 0
    code, _, err = run(capsys, "analyze", str(trace), "--workload", "vgg16_cifar10")
    assert code == 2
    assert one_error(err) == ("--workload: 'vgg16_cifar10' applies to .npz dumps only: the "
                              f"trace {trace} carries its own layer records (workload "
                              "lenet5_mnist); re-import its dump with `prosparsity trace "
                              "import DUMP --workload NAME` to attach another")
    code, same, _ = run(capsys, "analyze", str(trace), "--workload", "lenet5_mnist", "--json")
    code2, plain, _ = run(capsys, "analyze", str(trace), "--json")
    assert code == code2 == 0
    assert json.loads(same)["data"] == json.loads(plain)["data"]


def test_a_layer_at_the_wrong_time_steps(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         lenet5_npz: Path) -> None:
    """An .npz layer at T = 8 in a T = 32 workload was analysed without a word."""
    arrays = _lenet5_arrays(lenet5_npz)
    arrays["conv2d_1"] = arrays["conv2d_1"][:8]
    dump = tmp_path / "lenet5_mnist.npz"
    np.savez(dump, **arrays)
    for args in (["analyze", str(dump)], ["simulate", str(dump)],
                 ["trace", "import", str(dump), "-o", str(tmp_path / "t.h5")]):
        code, _, err = run(capsys, *args)
        assert code == 2
        assert one_error(err).startswith(
            f"{dump}, layer 'conv2d_1': shape (8, 6, 16, 16) does not match workload "
            "lenet5_mnist: expected (32, 6, 16, 16) (T,C,H,W)")


def test_import_without_workload_matches_analyze(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, lenet5_npz: Path) -> None:
    """trace import without --workload wrote a trace that analyze then refused, while
    analyze read the same dump by its file name."""
    dump = tmp_path / "lenet5_mnist.npz"
    dump.write_bytes(lenet5_npz.read_bytes())
    trace = tmp_path / "t.h5"
    code, _, err = run(capsys, "trace", "import", str(dump), "-o", str(trace))
    assert code == 0 and "workload lenet5_mnist (from the file name)" in err
    code, from_trace, _ = run(capsys, "analyze", str(trace), "--json")
    code2, from_dump, _ = run(capsys, "analyze", str(dump), "--json")
    assert code == code2 == 0
    a, b = json.loads(from_trace)["data"], json.loads(from_dump)["data"]
    assert (a["bit_density"], a["product_density"]) == (b["bit_density"], b["product_density"])
    mine = tmp_path / "mine.npz"  # no workload of that name: kinds guessed, and said so
    mine.write_bytes(lenet5_npz.read_bytes())
    code, _, err = run(capsys, "trace", "import", str(mine), "-o", str(tmp_path / "m.h5"))
    assert code == 0
    assert f"warning: {tmp_path / 'm.h5'}: no workload, so the GEMM shapes of conv2d_0, " in err


def test_verify_timeout_is_not_damage(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid file checked with a short --timeout was "damaged or crafted ... do not read
    this file"; a check that did not finish says so."""
    from prosparsity.traces import probe

    def slow(path: str, conn) -> None:  # pragma: no cover - runs in the child
        time.sleep(60)

    monkeypatch.setattr(probe, "_child", slow)
    trace = small_trace(tmp_path / "t.h5")
    code, _, err = run(capsys, "trace", "verify", "--timeout", "0.5", str(trace))
    line = one_error(err)
    assert code == 2 and line.startswith(f"{trace}: not checked: its check did not finish "
                                         "within the time limit of 0.5 s")
    assert "damaged" not in line


def test_unknown_workload_for_an_npz(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     lenet5_npz: Path) -> None:
    """`analyze x.npz --workload nosuch` said "needs --workload NAME"."""
    for command in ("analyze", "simulate"):
        code, _, err = run(capsys, command, str(lenet5_npz), "--workload", "nosuch")
        assert code == 2
        assert one_error(err).startswith("workload: unknown workload 'nosuch' (known: "
                                         "lenet5_mnist, ")


@pytest.mark.parametrize("option", ["--input", "--checkpoint"])
def test_a_png_renamed_pt(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                          option: str) -> None:
    """A PNG renamed .pt was "refused: unpickling it could run code"."""
    png = tmp_path / "picture.pt"
    png.write_bytes(PNG)
    code, _, err = run(capsys, "capture", "digits-cnn", option, str(png),
                       "-o", str(tmp_path / "t.h5"))
    what = "input" if option == "--input" else "checkpoint"
    assert (code, one_error(err)) == (
        2, f"{what} {png}: cannot be loaded with torch.load(weights_only=True): not a file "
           "written by torch.save (it is a PNG image)")
    code, _, err = run(capsys, "trace", "import", str(png), "-o", str(tmp_path / "t.h5"))
    assert (code, one_error(err)) == (
        2, f"{png}: not a pickle or a torch.save file: it is a PNG image")
    assert names(tmp_path) == [png.name]


def test_float_dumps_read_the_same_everywhere(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, lenet5_npz: Path) -> None:
    """A float 0/1 .npz was refused by analyze but accepted by trace import."""
    floats = tmp_path / "lenet5_mnist.npz"
    np.savez(floats, **{k: v.astype(np.float32) for k, v in _lenet5_arrays(lenet5_npz).items()})
    code, as_float, _ = run(capsys, "analyze", str(floats), "--json")
    code2, as_bool, _ = run(capsys, "analyze", str(lenet5_npz), "--json")
    trace = tmp_path / "t.h5"
    code3, _, _ = run(capsys, "trace", "import", str(floats), "-o", str(trace))
    code4, imported, _ = run(capsys, "analyze", str(trace), "--json")
    assert code == code2 == code3 == code4 == 0
    got = [json.loads(doc)["data"] for doc in (as_float, as_bool, imported)]
    assert {(d["bit_density"], d["product_density"]) for d in got} == {
        (got[1]["bit_density"], got[1]["product_density"])}
    halves = tmp_path / "halves" / "lenet5_mnist.npz"  # not spike counts: refused by both
    halves.parent.mkdir()
    np.savez(halves, **{k: v * 0.5 for k, v in _lenet5_arrays(lenet5_npz).items()})
    for args in (["analyze", str(halves)],
                 ["trace", "import", str(halves), "-o", str(tmp_path / "h.h5")]):
        code, _, err = run(capsys, *args)
        assert code == 2
        assert one_error(err).endswith("values must be whole numbers (spike counts)")


def test_trace_info_multilevel_linear_density_agrees_with_analyze(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """trace info showed nnz / size (0.4580) where analyze counts two bit planes (0.2290)
    for a linear input of values 0..2 (a SEW-ADD residual)."""
    trace = small_trace(tmp_path / "t.h5", levels=3)
    from prosparsity.traces.reader import TraceReader

    with TraceReader(trace) as reader:
        data = reader.read("fc")
    assert set(np.unique(data)) == {0, 1, 2}
    ones = int(np.sum(data & 1) + np.sum(data >> 1 & 1))  # bits over the two planes
    want = ones / (data.size * 2)
    code, info, _ = run(capsys, "trace", "info", "--json", str(trace))
    code2, analysed, _ = run(capsys, "analyze", "--json", str(trace))
    assert code == code2 == 0
    (layer,) = json.loads(info)["data"]["layers"]
    assert layer["operand_bit_density"] == pytest.approx(want)
    assert layer["raw_bit_density"] == pytest.approx(np.count_nonzero(data) / data.size)
    assert json.loads(analysed)["data"]["layers"][0]["bit_density"] == pytest.approx(want)


# ============================================================ help states the limits


def test_simulate_help_states_the_tile_limits(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "simulate", "--help")
    assert code == 0
    assert "1..4096" in out and "1..128" in out and "x>=1" not in out


COMMANDS = [["analyze"], ["simulate"], ["gpu-error"], ["capture"], ["models"], ["reproduce"],
            ["demo"], ["sweep"], ["trace", "info"], ["trace", "import"], ["trace", "verify"],
            ["trace", "upgrade"], ["trace", "synth"], ["trace", "workloads"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_at_80_columns_shows_every_option_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`capture --help` at 80 columns cut option names ("--random-weigh...")."""
    from prosparsity.harness.cli import _command

    monkeypatch.setenv("COLUMNS", "80")
    cmd = _command()
    for part in command:
        cmd = cmd.commands[part]
    longs = [o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    for name in longs:
        assert name in out, name
