"""Input and output paths that are not regular files: named for what they are, never
opened, never replaced (``prosparsity.core.paths``, ``prosparsity.core.atomic``).

Every node here is made by the test in its own folder (``os.mkfifo``, ``os.mknod`` of a
character device, a bound Unix socket); the machine's ``/dev`` is never named: the
device-folder rule is checked against a stand-in folder."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from prosparsity.core import atomic
from prosparsity.core.atomic import (
    atomic_write_bytes,
    check_output_dir,
    check_output_path,
    publish,
)
from prosparsity.core.errors import WriteError
from prosparsity.core.paths import InputError, check_input, input_problem, looks_like

ROOT = os.geteuid() == 0


def fingerprint(path: Path) -> tuple[int, int, int]:
    """What must not change about a node: its type and mode, device numbers, mtime."""
    st = os.lstat(path)
    return st.st_mode, st.st_rdev, st.st_mtime_ns


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture
def chardev(tmp_path: Path) -> Path:
    """A character device node with the numbers of /dev/null (1, 3), made here."""
    if not ROOT:
        pytest.skip("making a device node needs root (CI runs as root)")
    path = tmp_path / "mynull"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


@pytest.fixture
def sock(tmp_path: Path):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    yield path
    server.close()


# ---------------------------------------------------------------------------- inputs


def test_input_problems_name_the_real_reason(tmp_path: Path, fifo: Path, sock: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone.h5")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert input_problem(tmp_path / "none.h5") == "file not found"
    assert input_problem(loop) == "symbolic link loop (its links lead back to one another)"
    assert input_problem(dangling) == (f"broken symbolic link (it points to {tmp_path}/gone.h5, "
                                       "which does not exist)")
    assert input_problem(plain / "x.h5") == f"file not found ({plain} is not a directory)"
    assert input_problem(tmp_path) == "is a directory, not a file"
    assert input_problem(tmp_path, what="trace file") == "is a directory, not a trace file"
    assert input_problem(tmp_path, directory=True) is None
    assert input_problem(fifo) == "is a FIFO (named pipe), not a regular file"
    assert input_problem(sock) == "is a socket, not a regular file"
    assert input_problem("") == "empty path; give a file name"
    assert input_problem(plain) is None
    with pytest.raises(InputError, match="pipe: is a FIFO"):
        check_input(fifo)


def test_a_device_input_is_named_not_read(chardev: Path) -> None:
    before = fingerprint(chardev)
    assert input_problem(chardev) == "is a character device, not a regular file"
    assert looks_like(chardev) is None  # never opened
    assert fingerprint(chardev) == before


@pytest.mark.skipif(ROOT, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.h5"
    secret.write_bytes(b"x")
    secret.chmod(0)
    assert input_problem(secret) == "permission denied (the file cannot be read)"


@pytest.mark.parametrize(("head", "what"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
    (b"\xff\xd8\xff\xe0", "a JPEG image"),
    (b"%PDF-1.7", "a PDF document"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x93NUMPY\x01\x00", "a NumPy .npy array"),
    (b"\x80\x04\x95", "a pickle (protocol 4)"),
    (b"\x1f\x8b\x08", "a gzip file"),
    (b"\x40\x00\x00\x00\x00\x00\x00\x00{\"w\":{", "a safetensors file"),
    (b"hello, world\n", "a text file"),
    (b"", "an empty file"),
    (b"\x00\x01\x02\xfe", None),
])
def test_looks_like(tmp_path: Path, head: bytes, what: str | None) -> None:
    path = tmp_path / "f.pt"
    path.write_bytes(head)
    assert looks_like(path) == what


# ---------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("node", ["fifo", "chardev", "sock"])
def test_an_output_that_is_a_node_is_refused_and_left_alone(
    node: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path: Path = request.getfixturevalue(node)
    kind = {"fifo": "a FIFO (named pipe)", "chardev": "a character device",
            "sock": "a socket"}[node]
    before = fingerprint(path)
    with pytest.raises(WriteError) as exc:
        check_output_path(path, "trace")
    assert str(exc.value) == (f"{path}: is {kind}, not a regular file; refused (an output "
                              "replaces only regular files: give another file name for the "
                              "trace)")
    with pytest.raises(WriteError):
        atomic_write_bytes(path, b"data", "report")
    assert fingerprint(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file


def test_a_link_to_a_node_is_refused(tmp_path: Path, fifo: Path) -> None:
    link = tmp_path / "out.h5"
    link.symlink_to(fifo)
    with pytest.raises(WriteError, match="is a symbolic link to a FIFO"):
        check_output_path(link, "trace")
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_path_into_the_device_folder_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    devices = tmp_path / "dev"  # a stand-in for /dev
    devices.mkdir()
    monkeypatch.setattr(atomic, "DEVICE_DIRS", (devices,))
    via = tmp_path / "via"
    via.symlink_to(devices)
    for target in (devices / "new.h5", via / "new.h5"):
        with pytest.raises(WriteError, match=f"leads into {devices}, the folder of device "
                           "nodes; refused"):
            check_output_path(target, "trace")
    with pytest.raises(WriteError, match=f"--out {devices}/sweep: leads into {devices}"):
        check_output_dir(devices / "sweep")
    assert list(devices.iterdir()) == []


def test_output_folders(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(WriteError, match="^--out '': empty folder name; give a folder$"):
        check_output_dir("")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(WriteError, match=f"^--out {plain}: not a folder$"):
        check_output_dir(plain)
    with pytest.raises(WriteError, match=rf"^--out {plain}/sub: not a folder \({plain} is "):
        check_output_dir(plain / "sub")
    with pytest.raises(WriteError, match=f"^--out {fifo}: not a folder$"):
        check_output_dir(fifo)
    assert check_output_dir(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"


def test_publish_checks_the_target_again(tmp_path: Path) -> None:
    """A node that appears between the start of a write and its rename is not replaced."""
    tmp = tmp_path / "t.h5.tmp-1-abcdef"
    tmp.write_bytes(b"new")
    target = tmp_path / "t.h5"
    os.mkfifo(target)
    before = fingerprint(target)
    with pytest.raises(WriteError, match="is a FIFO"):
        publish(tmp, target, "trace")
    assert fingerprint(target) == before
    target.unlink()
    publish(tmp, target, "trace")
    assert target.read_bytes() == b"new" and not tmp.exists()
