"""File discovery: ignore rules, skipped content, symlinks, and check_path agreeing with discover."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ragls.filetypes import language_for_path
from ragls.indexing.config import IndexConfig, index_dir_for
from ragls.indexing.discovery import IgnoreRules, check_path, discover


def paths(root: Path, config: IndexConfig | None = None) -> set[str]:
    return {f.path for f in discover(root, config or IndexConfig()).files}


def test_finds_sources_with_size_and_mtime(write_workspace) -> None:
    root = write_workspace({"a.py": "x = 1\n", "pkg/b.ts": "export const b = 1\n", "README.md": "# hi\n"})
    result = discover(root, IndexConfig())
    assert [f.path for f in result.files] == ["a.py", "pkg/b.ts"]
    a = result.files[0]
    assert a.size == 6
    assert a.mtime_ns == (root / "a.py").stat().st_mtime_ns
    assert result.skipped == []  # README.md is not source, and not a skip either


def test_nested_gitignore_with_negation(write_workspace) -> None:
    root = write_workspace(
        {
            ".gitignore": "*.gen.py\ngenerated/\n/top_only.py\n",
            "top_only.py": "",
            "keep.py": "",
            "x.gen.py": "",
            "generated/a.py": "",
            "sub/top_only.py": "",  # anchored pattern applies to the root only
            "sub/.gitignore": "!special.gen.py\nlocal_*.py\n",
            "sub/special.gen.py": "",
            "sub/other.gen.py": "",
            "sub/local_x.py": "",
            "sub/deeper/local_y.py": "",  # sub/.gitignore applies below sub/ too
            "other/local_z.py": "",  # ...but not to siblings
        }
    )
    assert paths(root) == {"keep.py", "sub/top_only.py", "sub/special.gen.py", "other/local_z.py"}


def test_file_in_ignored_dir_cannot_be_reincluded(write_workspace) -> None:
    root = write_workspace({".gitignore": "logs/\n!logs/keep.py\n", "logs/keep.py": "", "ok.py": ""})
    assert paths(root) == {"ok.py"}
    assert check_path(root, "logs/keep.py", IndexConfig()) == "ignored"


def test_ragignore_exclude_and_config_ignore(write_workspace) -> None:
    root = write_workspace(
        {
            ".gitignore": "!wanted.py\n",
            ".ragignore": "fixtures/\nwanted.py\n",  # .ragignore wins over .gitignore
            ".git/info/exclude": "scratch.py\n",
            "scratch.py": "",
            "wanted.py": "",
            "fixtures/f.py": "",
            "docs/conf.py": "",
            "main.py": "",
        }
    )
    assert paths(root) == {"docs/conf.py", "main.py"}
    assert paths(root, IndexConfig(ignore=["docs/", "*.py", "!main.py"])) == {"main.py"}


def test_always_skipped_dirs(write_workspace) -> None:
    files = {
        f"{d}/x.py": "" for d in ("node_modules/p", ".venv/lib", "build", "dist", "target", "__pycache__")
    }
    files |= {"src/deep/node_modules/y.js": "", ".ragls/z.py": "", "src/app.py": ""}
    root = write_workspace(files)
    assert paths(root) == {"src/app.py"}
    assert check_path(root, "src/deep/node_modules/y.js", IndexConfig()) == "ignored"


def test_skips_binary_large_minified(write_workspace) -> None:
    root = write_workspace({"ok.js": "let a = 1;\n" * 100})
    (root / "bin.py").write_bytes(b"x = 1\n\x00\x01\x02")
    (root / "big.py").write_text("x = 1\n" * 2000)
    (root / "long.js").write_text("var a=1;" * 400 + "\n")  # one 3,200-char line
    (root / "lib.min.js").write_text("var a = 1;\n")
    late_long = "x = 1\n" * 100 + "y = '" + "z" * 2500 + "'\n"
    (root / "late.py").write_text(late_long)
    config = IndexConfig(max_file_bytes=10_000)
    result = discover(root, config)
    assert [f.path for f in result.files] == ["ok.js"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons == {
        "bin.py": "binary",
        "big.py": "too-large",
        "long.js": "minified",
        "lib.min.js": "minified",
        "late.py": "minified",
    }
    assert result.skip_reasons() == {"binary": 1, "too-large": 1, "minified": 3}


def test_languages_filter(write_workspace) -> None:
    root = write_workspace({"a.py": "", "b.go": "package b\n", "c.rs": ""})
    assert paths(root, IndexConfig(languages=["go", "rust"])) == {"b.go", "c.rs"}
    assert check_path(root, "a.py", IndexConfig(languages=["go"])) == "not-source"


def test_symlink_loop_terminates_and_no_duplicates(write_workspace) -> None:
    root = write_workspace({"pkg/a.py": "", "pkg/sub/b.py": ""})
    os.symlink(root / "pkg", root / "pkg" / "sub" / "loop")  # dir -> its ancestor
    os.symlink(root, root / "pkg" / "to_root")
    start = time.perf_counter()
    assert paths(root) == {"pkg/a.py", "pkg/sub/b.py"}
    assert time.perf_counter() - start < 2


def test_symlinked_dirs_inside_followed_outside_not(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.py").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("")
    os.symlink(outside, root / "ext")
    (root / ".hidden_src").mkdir()
    (root / ".hidden_src" / "h.py").write_text("")
    (root / ".gitignore").write_text(".hidden_src/\n")
    os.symlink(root / ".hidden_src", root / "alias")  # link to an ignored dir: not a way around it
    os.symlink(root / "nowhere.py", root / "dangling.py")
    result = discover(root, IndexConfig())
    assert [f.path for f in result.files] == ["real/a.py"]
    assert [(s.path, s.reason) for s in result.skipped] == [("dangling.py", "broken-symlink")]
    assert check_path(root, "dangling.py", IndexConfig()) == "broken-symlink"
    assert check_path(root, "ext/secret.py", IndexConfig()) == "outside-workspace"


def test_symlinked_dir_is_indexed_under_its_real_path_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "zdata").mkdir(parents=True)
    (root / "zdata" / "m.py").write_text("")
    os.symlink(root / "zdata", root / "alink")  # listed before its target
    assert paths(root) == {"zdata/m.py"}
    assert check_path(root, "alink/m.py", IndexConfig()) == "ignored"
    assert check_path(root, "zdata/m.py", IndexConfig()) is None


def test_file_vanishing_between_listing_and_reading(write_workspace) -> None:
    root = write_workspace({"a.py": "", "gone.py": "", "z.py": ""})

    def language_deleting_gone(path: str) -> str | None:
        if path == "gone.py":  # asked after listing, before the content is read
            (root / "gone.py").unlink()
        return language_for_path(path)

    result = discover(root, IndexConfig(), language_for_path=language_deleting_gone)
    assert [f.path for f in result.files] == ["a.py", "z.py"]
    assert result.skipped == []
    assert check_path(root, "gone.py", IndexConfig()) == "missing"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(write_workspace) -> None:
    root = write_workspace({"secret.py": "x = 1\n"})
    os.chmod(root / "secret.py", 0)
    skipped = discover(root, IndexConfig()).skipped
    assert [(s.path, s.reason) for s in skipped] == [("secret.py", "unreadable")]


def test_check_path_agrees_with_discover(write_workspace) -> None:
    root = write_workspace(
        {
            ".gitignore": "ignored/\n*.tmp.py\n",
            "a/b.py": "",
            "a/c.tmp.py": "",
            "ignored/d.py": "",
            "e.ts": "",
            "notes.txt": "",
            "m/.ragignore": "x.go\n",
            "m/x.go": "",
            "m/y.go": "",
        }
    )
    (root / "bin.rs").write_bytes(b"\x00" * 10)
    config = IndexConfig()
    result = discover(root, config)
    for f in result.files:
        assert check_path(root, f.path, config) is None, f.path
    for s in result.skipped:
        assert check_path(root, s.path, config) == s.reason
    assert {f.path for f in result.files} == {"a/b.py", "e.ts", "m/y.go"}
    assert check_path(root, "a/c.tmp.py", config) == "ignored"
    assert check_path(root, "ignored/d.py", config) == "ignored"
    assert check_path(root, "m/x.go", config) == "ignored"
    assert check_path(root, "notes.txt", config) == "not-source"
    assert check_path(root, "a/new.py", config) == "missing"
    assert check_path(root, str(root / "a" / "b.py"), config) is None  # absolute inside root
    assert check_path(root, "../elsewhere.py", config) == "outside-workspace"
    assert check_path(root, "./a/../a/b.py", config) is None


def test_check_path_sees_edited_gitignore(write_workspace) -> None:
    root = write_workspace({"a.py": "", "b.py": ""})
    config = IndexConfig()
    assert check_path(root, "b.py", config) is None
    (root / ".gitignore").write_text("b.py\n")
    assert check_path(root, ".gitignore", config) == "not-source"  # the event reloads the rules
    assert check_path(root, "b.py", config) == "ignored"


def test_ignore_rules_directly(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\n!important.log\nout/\n[invalid\n")
    rules = IgnoreRules(tmp_path, IndexConfig())
    assert rules.is_ignored("x.log", False)
    assert not rules.is_ignored("important.log", False)
    assert rules.is_ignored("a/out", True)
    assert not rules.is_ignored("a/out", False)  # `out/` matches directories only
    assert rules.path_ignored("a/out/file.py")


def test_index_dir_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    assert index_dir_for(root, IndexConfig(in_workspace=True)) == root / ".ragls"
    custom = index_dir_for(root, IndexConfig(cache_dir=tmp_path / "c"))
    assert custom.parent == tmp_path / "c" and custom.name.startswith("proj-")
    monkeypatch.setenv("RAGLS_CACHE_DIR", str(tmp_path / "env"))
    env_dir = index_dir_for(root, IndexConfig())
    assert env_dir.parent == tmp_path / "env"
    assert env_dir == custom.parent.parent / "env" / custom.name  # same name, stable hash
    other = tmp_path / "x" / "proj"
    other.mkdir(parents=True)
    assert index_dir_for(other, IndexConfig()) != env_dir  # same basename, different root


def test_discovery_is_fast_on_many_files(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for d in range(40):
        pkg = root / f"pkg{d}"
        pkg.mkdir(parents=True)
        (pkg / ".gitignore").write_text("*.tmp\n!keep.tmp\n")
        for i in range(40):
            (pkg / f"m{i}.py").write_text("def f():\n    return 1\n" * 20)
    start = time.perf_counter()
    result = discover(root, IndexConfig())
    elapsed = time.perf_counter() - start
    assert len(result.files) == 1600
    assert elapsed < 1.0, elapsed


def test_known_unchanged_files_are_not_reopened(write_workspace, monkeypatch) -> None:
    from ragls.indexing import discovery
    from ragls.indexing.config import IndexConfig

    root = write_workspace({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    first = discovery.discover(root, IndexConfig())
    known = {f.path: (f.size, f.mtime_ns) for f in first.files if f.path == "a.py"}
    opened: list[str] = []
    real = discovery.content_reason
    monkeypatch.setattr(discovery, "content_reason", lambda p, *a: opened.append(p) or real(p, *a))
    again = discovery.discover(root, IndexConfig(), known=known)
    assert [f.path for f in again.files] == ["a.py", "b.py"]
    assert [p.rsplit("/", 1)[-1] for p in opened] == ["b.py"]  # a.py kept its size and mtime


def test_virtualenvs_are_skipped_by_content_not_by_name(write_workspace) -> None:
    from ragls.indexing.config import IndexConfig
    from ragls.indexing.discovery import check_path, discover

    root = write_workspace({
        "env/settings.py": "DEBUG = True\n",  # a package that happens to be called env
        "venv/helpers.py": "x = 1\n",
        "myenv/pyvenv.cfg": "home = /usr/bin\n",
        "myenv/lib/site.py": "y = 2\n",
    })
    found = [f.path for f in discover(root, IndexConfig()).files]
    assert found == ["env/settings.py", "venv/helpers.py"]
    assert check_path(root, "myenv/lib/site.py", IndexConfig()) == "ignored"
    assert check_path(root, "env/settings.py", IndexConfig()) is None
