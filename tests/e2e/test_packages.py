"""Deployment packages: bad archives are refused with AWS's error and leave nothing behind."""

import base64
import io
import os
import struct
import zipfile

import pytest

from conftest import create, make_zip


def files_under(path):
    return {os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs} | \
           {d for d, _, _ in os.walk(path)}


def refused(node, lam, fname, zip_bytes, message=None):
    before = files_under(node.data_dir / "code")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, fname, zip_bytes)
    if message:
        assert any(m in str(e.value) for m in ([message] if isinstance(message, str) else message)), str(e.value)
    assert files_under(node.data_dir / "code") == before, "a refused package left files behind"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fname)


def entry_zip(name, data=b"x", mode=0o644):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("app.py", "def handler(e, c):\n    return 1\n")
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = mode << 16
        z.writestr(info, data)
    return buf.getvalue()


def test_corrupt_and_truncated_archives(node, lam, fname, hello_zip):
    refused(node, lam, fname, b"this is not a zip file at all", "Could not unzip")
    refused(node, lam, fname, hello_zip[: len(hello_zip) // 2], "Could not unzip")


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/evil.py", "a/../../../tmp/x"])
def test_zip_slip_is_refused(node, lam, fname, name):
    refused(node, lam, fname, entry_zip(name))


def test_symlink_pointing_outside_is_refused(node, lam, fname):
    refused(node, lam, fname, entry_zip("link", b"../../../etc/shadow", mode=0o120777))
    refused(node, lam, fname, entry_zip("link", b"/etc/shadow", mode=0o120777))


def test_symlink_inside_the_package_is_kept(node, lam, fname):
    z = entry_zip("link.py", b"app.py", mode=0o120777)
    c = create(lam, fname, z)
    tree = tree_of(node, c)
    assert os.path.islink(tree / "link.py")
    assert os.readlink(tree / "link.py") == "app.py"


def set_encrypted_flag(zip_bytes, name):
    """CPython's writer resets flag_bits, so set bit 0 (encrypted) in both headers by hand."""
    data = bytearray(zip_bytes)
    for sig, flags_at, name_len_at, header in ((b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)):
        i = data.find(sig)
        while i != -1:
            n = struct.unpack_from("<H", data, i + name_len_at)[0]
            if bytes(data[i + header:i + header + n]) == name.encode():
                data[i + flags_at] |= 0x1
            i = data.find(sig, i + 4)
    return bytes(data)


def test_encrypted_entry_is_refused(node, lam, fname):
    refused(node, lam, fname, set_encrypted_flag(entry_zip("secret.txt"), "secret.txt"), "encrypted")


def test_too_many_entries(node, lam, fname):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i in range(65_536):
            z.writestr(f"f{i}", b"")
    refused(node, lam, fname, buf.getvalue(), "entries")


@pytest.fixture(scope="module")
def bomb():
    """270 MB of zeros in one deflated entry: a few hundred KB zipped."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(270):
                f.write(chunk)
    return buf.getvalue()


def test_zip_bomb_by_declared_size(node, lam, fname, bomb):
    refused(node, lam, fname, bomb, "Unzipped size must be smaller than 262144000 bytes")


def test_zip_bomb_lying_about_its_size(node, lam, fname, bomb):
    # Rewrite every declared uncompressed size (zip64 extra fields) to 1 KB.
    data = bytearray(bomb)
    real = 270 * (1 << 20)
    needle = struct.pack("<Q", real)
    count = 0
    i = data.find(needle)
    while i != -1:
        data[i:i + 8] = struct.pack("<Q", 1024)
        count += 1
        i = data.find(needle, i + 8)
    assert count >= 1
    refused(node, lam, fname, bytes(data), ["Unzipped size", "Could not unzip"])


def tree_of(node, config):
    hexd = base64.b64decode(config["CodeSha256"]).hex()
    return node.data_dir / "code" / "trees" / hexd


def test_unix_modes_survive_and_the_tree_is_read_only(node, lam, fname):
    z = make_zip({"bootstrap": "#!/bin/sh\necho hi\n", "lib/data.txt": "x"}, modes={"bootstrap": 0o755})
    c = create(lam, fname, z, Runtime="provided.al2023", Handler="x")
    tree = tree_of(node, c)
    st = os.stat(tree / "bootstrap")
    assert st.st_mode & 0o111 == 0o111, oct(st.st_mode)
    assert st.st_mode & 0o222 == 0
    assert os.stat(tree / "lib" / "data.txt").st_mode & 0o333 == 0
    assert os.stat(tree / "lib").st_mode & 0o222 == 0


def test_same_code_is_stored_once(node, lam, fname, hello_zip):
    create(lam, fname + "-a", hello_zip)
    before = files_under(node.data_dir / "code")
    create(lam, fname + "-b", hello_zip)
    assert files_under(node.data_dir / "code") == before
