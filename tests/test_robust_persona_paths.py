"""Persona files stay inside the personas folder, are not huge, and cannot run code."""

from __future__ import annotations

import os

import pytest

from voicetrainer.errors import PersonaError
from voicetrainer.persona.paths import read_text_inside, resolve_inside


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "personas"
    (root / "voices").mkdir(parents=True)
    (root / "angry.yaml").write_text("id: angry\n")
    (root / "voices" / "line.wav").write_bytes(b"RIFF")
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n")
    return root, secret


def test_files_inside_resolve(tree):
    root, _ = tree
    assert resolve_inside("angry.yaml", root) == (root / "angry.yaml").resolve()
    assert resolve_inside(root / "voices" / "line.wav", root) == (root / "voices" / "line.wav").resolve()
    assert resolve_inside("voices/../angry.yaml", root).name == "angry.yaml"  # ".." that stays inside
    os.symlink(root / "angry.yaml", root / "alias.yaml")  # a symlink that stays inside is fine
    assert resolve_inside("alias.yaml", root) == (root / "angry.yaml").resolve()


@pytest.mark.parametrize("ref", ["../secret.txt", "voices/../../secret.txt", "ABS"])
def test_paths_outside_are_refused(tree, ref):
    root, secret = tree
    ref = str(secret) if ref == "ABS" else ref
    with pytest.raises(PersonaError, match="outside the personas folder") as e:
        resolve_inside(ref, root)
    assert e.value.exit_code == 2 and ref in str(e.value)


def test_symlink_pointing_out_is_refused(tree):
    root, secret = tree
    os.symlink(secret, root / "innocent.yaml")
    with pytest.raises(PersonaError, match=r"is a symlink .* pointing outside the personas folder"):
        resolve_inside("innocent.yaml", root)
    os.symlink(secret.parent, root / "linkdir")  # a linked folder is the same escape
    with pytest.raises(PersonaError, match="symlink"):
        resolve_inside("linkdir/secret.txt", root)
    with pytest.raises(PersonaError, match="symlink"):
        read_text_inside("innocent.yaml", root)


def test_oversized_file_is_refused(tree):
    root, _ = tree
    (root / "huge.yaml").write_text("a: " + "x" * 300_000 + "\n")
    with pytest.raises(PersonaError, match=r"300004 bytes, over the 256000-byte limit"):
        resolve_inside("huge.yaml", root)
    assert read_text_inside("angry.yaml", root) == "id: angry\n"


def test_missing_folder_fifo_and_nul_are_refused(tree):
    root, _ = tree
    with pytest.raises(PersonaError, match="file not found"):
        resolve_inside("nobody.yaml", root)
    with pytest.raises(PersonaError, match="is a folder"):
        resolve_inside("voices", root)
    os.mkfifo(root / "pipe.yaml")  # reading a FIFO would hang the app: refused before opening
    with pytest.raises(PersonaError, match="not a regular file"):
        resolve_inside("pipe.yaml", root)
    with pytest.raises(PersonaError, match="NUL byte"):
        resolve_inside("angry.yaml\0.txt", root)
    with pytest.raises(PersonaError, match="not UTF-8"):
        (root / "bin.yaml").write_bytes(b"\xff\xfe\x00id")
        read_text_inside("bin.yaml", root)


def test_persona_yaml_cannot_execute_code(tmp_path):
    """The loader parses with safe_load: a python tag is an error, and nothing runs."""
    yaml = pytest.importorskip("yaml")
    marker = tmp_path / "pwned"
    doc = f"!!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(doc)
    loader = pytest.importorskip("voicetrainer.persona.loader")
    p = tmp_path / "evil.yaml"
    p.write_text(doc)
    with pytest.raises(PersonaError):
        loader.load_persona_file(p)
    assert not marker.exists()


def test_loader_refuses_an_id_whose_file_points_outside_the_folder(tmp_path):
    """Wired into the loader: lookup by id and the folder listing both refuse escaping symlinks."""
    from voicetrainer.persona.loader import load_persona, persona_files

    folder = tmp_path / "personas"
    folder.mkdir()
    outside = tmp_path / "secret.yaml"
    outside.write_text("id: secret\n")
    (folder / "secret.yaml").symlink_to(outside)
    with pytest.raises(PersonaError, match="outside the personas folder"):
        load_persona("secret", folder)
    assert persona_files(folder) == []
