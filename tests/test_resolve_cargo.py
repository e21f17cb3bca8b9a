"""Cargo.toml is read as TOML: package names in any spelling TOML allows are found."""

from __future__ import annotations

from pathlib import Path

from ragls.indexing.records import Import
from ragls.indexing.resolve import ImportResolver
from ragls.indexing.resolve.rust import cargo_package_name


def test_cargo_package_name_spellings() -> None:
    assert cargo_package_name('[package]\nname = "my-lib"\nversion = "0.1.0"\n') == "my-lib"
    assert cargo_package_name("package.name = 'quoted'  # a comment\n") == "quoted"
    assert cargo_package_name('[package]\nversion = "1"\n[lib]\nname = "not_the_package"\n') is None
    assert cargo_package_name('[package\nname = "broken"') is None
    assert cargo_package_name("") is None


def test_a_workspace_crate_used_by_another_resolves(tmp_path: Path) -> None:
    (tmp_path / "util").mkdir()
    (tmp_path / "util" / "Cargo.toml").write_text("package.name = 'my-util'\n", encoding="utf-8")
    files = ["util/src/lib.rs", "util/src/math.rs", "app/src/main.rs"]
    resolver = ImportResolver(tmp_path, files)
    imp = Import(module="my_util::math", names=("add",), line=1)
    assert resolver.resolve("app/src/main.rs", "rust", imp) == ("util/src/math.rs",)
