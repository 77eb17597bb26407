"""The disk cache (``autopact.data.cache``): computes once, reads after; off with AUTOPACT_CACHE=off;
a corrupt entry, or one (or a folder) that someone else may write, is computed again, never loaded;
entries of other code are removed when one is written, and at most KEEP of a kind are kept."""

import os
import pickle

import pytest

from autopact.data import cache


class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("AUTOPACT_CACHE", str(path))
    return path


def entries(folder):
    return sorted(p.name for p in folder.glob("*.pickle"))


def test_computes_once_then_reads_the_entry(folder):
    compute = Counter({"delta": [1.0, 2.5], "name": "market"})
    first = cache.cached("kind", {"year": 2025}, compute)
    second = cache.cached("kind", {"year": 2025}, compute)
    assert first == second == compute.value and compute.calls == 1
    assert second is not compute.value  # a fresh copy from the file: callers may change what they get
    cache.cached("kind", {"year": 2026}, compute)
    assert compute.calls == 2 and len(entries(folder)) == 2
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)


@pytest.mark.parametrize("value", ["off", "0", ""])
def test_off_computes_every_time_and_writes_nothing(tmp_path, monkeypatch, value):
    monkeypatch.setenv("AUTOPACT_CACHE", value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    compute = Counter(1)
    cache.cached("kind", {}, compute)
    cache.cached("kind", {}, compute)
    assert compute.calls == 2 and not any(tmp_path.rglob("*.pickle"))


def test_default_folder_is_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOPACT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "autopact"


def test_a_corrupt_entry_is_computed_again_and_replaced(folder):
    compute = Counter([1, 2, 3])
    cache.cached("kind", {}, compute)
    (path,) = folder.glob("*.pickle")
    path.write_bytes(b"\x80\x05 truncated")
    assert cache.cached("kind", {}, compute) == [1, 2, 3] and compute.calls == 2
    assert pickle.loads(path.read_bytes()) == [1, 2, 3]


class Payload:
    """Loading this pickle would run code (os.system here stands for anything)."""

    def __reduce__(self):
        return (os.system, ("echo loaded > /dev/null",))


def test_an_entry_others_may_write_is_never_loaded(folder):
    compute = Counter("computed")
    cache.cached("kind", {}, compute)
    (path,) = folder.glob("*.pickle")
    path.write_bytes(pickle.dumps(Payload()))
    path.chmod(0o666)  # writable by anyone: someone else may have put it there
    assert cache.cached("kind", {}, compute) == "computed" and compute.calls == 2


def test_a_folder_others_may_write_is_not_used(folder):
    compute = Counter("computed")
    cache.cached("kind", {}, compute)
    folder.chmod(0o777)
    assert cache.cached("kind", {}, compute) == "computed" and compute.calls == 2


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_an_entry_of_another_user_is_never_loaded(folder):
    compute = Counter("computed")
    cache.cached("kind", {}, compute)
    (path,) = folder.glob("*.pickle")
    os.chown(path, 12345, -1)
    assert cache.cached("kind", {}, compute) == "computed" and compute.calls == 2


def test_other_code_s_entries_go_and_at_most_keep_stay(folder, monkeypatch):
    folder.mkdir(mode=0o700)
    (folder / "kind-0123456789abcdef-old.pickle").write_bytes(pickle.dumps("from other code"))
    (folder / "other-0123456789abcdef-old.pickle").write_bytes(pickle.dumps("another kind"))
    for year in range(cache.KEEP + 3):
        cache.cached("kind", {"year": year}, Counter(year))
    names = entries(folder)
    assert "kind-0123456789abcdef-old.pickle" not in names and "other-0123456789abcdef-old.pickle" in names
    assert len([n for n in names if n.startswith("kind-")]) == cache.KEEP
    assert not list(folder.glob(".partial-*"))


def test_a_kind_may_keep_another_number_of_entries(folder):
    for year in range(5):
        cache.cached("few", {"year": year}, Counter(year), keep=2)
        cache.cached("many", {"year": year}, Counter(year), keep=4)
    names = entries(folder)
    assert len([n for n in names if n.startswith("few-")]) == 2
    assert len([n for n in names if n.startswith("many-")]) == 4


def test_the_digest_follows_every_file_but_bytecode(tmp_path):
    (tmp_path / "bundled").mkdir()
    (tmp_path / "model.py").write_text("ALPHA = 1\n")
    (tmp_path / "bundled" / "products.csv").write_text("id,units\na,1\n")
    before = cache.tree_digest(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"compiled")
    assert cache.tree_digest(tmp_path) == before
    (tmp_path / "bundled" / "products.csv").write_text("id,units\na,2\n")
    changed_data = cache.tree_digest(tmp_path)
    (tmp_path / "model.py").write_text("ALPHA = 2\n")
    assert len({before, changed_data, cache.tree_digest(tmp_path)}) == 3


def test_entry_names_carry_the_kind_the_code_and_the_key():
    name = cache.entry_name("kind", {"year": 2025})
    assert name.startswith(f"kind-{cache.code_digest()[:16]}-") and name.endswith(".pickle")
    assert name == cache.entry_name("kind", {"year": 2025}) != cache.entry_name("kind", {"year": 2026})


def package(tmp_path):
    root = tmp_path / "package"
    (root / "bundled").mkdir(parents=True)
    (root / "model.py").write_text("ALPHA = 1\n")
    (root / "bundled" / "products.csv").write_text("id,units\na,1\n")
    return root


def test_the_package_digest_is_remembered_until_a_file_changes(folder, tmp_path, monkeypatch):
    """A warm run hashed the package's 4.3 MB every time (10-40 ms, issue 13); now its files' stat
    signature finds the digest remembered, and any write gives another signature."""
    root = package(tmp_path)
    hashed, real = [], cache.tree_digest
    monkeypatch.setattr(cache, "tree_digest", lambda path: hashed.append(path) or real(path))
    monkeypatch.setattr(cache, "RACY_SECONDS", -60.0)  # the files were written just now: count them as old
    first = cache.package_digest(root)
    assert first == cache.package_digest(root) == real(root) and len(hashed) == 1
    assert len(list(folder.glob("tree-*.digest"))) == 1
    data = root / "bundled" / "products.csv"
    data.write_text("id,units\na,2\n")  # the same size; within one clock tick (what RACY_SECONDS guards
    os.utime(data, ns=(10**18, 10**18))  # against, here off) only the times set apart tell the change
    changed = cache.package_digest(root)
    assert changed != first and len(hashed) == 2
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"compiled")
    assert cache.package_digest(root) == changed and len(hashed) == 2


def test_a_package_changed_just_now_is_hashed_and_not_remembered(folder, tmp_path):
    root = package(tmp_path)
    assert cache.package_digest(root) == cache.tree_digest(root)
    assert not list(folder.glob("tree-*.digest")) if folder.exists() else True


def test_a_remembered_digest_that_someone_else_may_write_is_not_read(folder, tmp_path, monkeypatch):
    root = package(tmp_path)
    monkeypatch.setattr(cache, "RACY_SECONDS", -60.0)
    digest = cache.package_digest(root)
    (memo,) = folder.glob("tree-*.digest")
    memo.write_text("0" * 64)
    os.chmod(memo, 0o666)
    assert cache.package_digest(root) == digest
