"""Unit tests of tlpipe.layout's tree hasher: what data preparation and training record."""

from __future__ import annotations

import hashlib

from tlpipe.layout import file_hashes, manifest_sha256, tree_sha256

FILES = {
    "train/ants/a.jpg": b"a",
    "train/ants/sub/b.jpg": b"b",
    "val/bees/c d.png": b"c",
    "val/bees/.hidden.jpg": b"h",
    ".snakemake_timestamp": b"",
    ".cache/inside.txt": b"i",  # a hidden folder's files are kept
}


def make_tree(root):
    for name, data in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "empty").mkdir()
    return root


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_file_hashes_lists_every_file_in_path_order(tmp_path):
    hashes = file_hashes(make_tree(tmp_path))
    assert hashes == {name: sha(data) for name, data in FILES.items()}
    assert list(hashes) == sorted(hashes)


def test_tree_sha256_is_the_hash_of_a_sha256sum_manifest_without_hidden_files(tmp_path):
    make_tree(tmp_path)
    visible = sorted(n for n in FILES if not n.rsplit("/", 1)[-1].startswith("."))
    manifest = "".join(f"{sha(FILES[n])}  {n}\n" for n in visible)
    assert tree_sha256(tmp_path) == sha(manifest.encode())
    assert file_hashes(tmp_path, hidden=False) == {n: sha(FILES[n]) for n in visible}
    # data preparation hashes hidden files too (the manifest check must see them)
    assert manifest_sha256(file_hashes(tmp_path)) != tree_sha256(tmp_path)
