"""Import resolution per language on small fixture workspaces."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ragls.indexing.config import IndexConfig
from ragls.indexing.discovery import discover
from ragls.indexing.records import Import
from ragls.indexing.resolve import ImportResolver, strip_json_comments


def resolver(root: Path) -> ImportResolver:
    files = [f.path for f in discover(root, IndexConfig()).files]
    return ImportResolver(root, files)


# ---- Python ---------------------------------------------------------------------------------

PY = {
    "src/shop/__init__.py": "",
    "src/shop/models.py": "",
    "src/shop/cart/__init__.py": "",
    "src/shop/cart/core.py": "",
    "src/shop/cart/pricing.py": "",
    "src/shop/util.pyi": "",
    "services/api/app/__init__.py": "",
    "services/api/app/main.py": "",
    "nspkg/inner/mod.py": "",  # namespace packages, no __init__.py
    "tests/helpers.py": "",
    "tests/test_cart.py": "",
}


def test_python_absolute_against_detected_roots(write_workspace) -> None:
    r = resolver(write_workspace(PY))
    f = "tests/test_cart.py"
    assert r.resolve(f, "python", Import("shop.models")) == ("src/shop/models.py",)
    assert r.resolve(f, "python", Import("shop", alias="s")) == ("src/shop/__init__.py",)
    assert r.resolve(f, "python", Import("shop.cart")) == ("src/shop/cart/__init__.py",)
    assert r.resolve(f, "python", Import("app.main")) == ("services/api/app/main.py",)
    assert r.resolve(f, "python", Import("nspkg.inner.mod")) == ("nspkg/inner/mod.py",)
    assert r.resolve(f, "python", Import("shop.util")) == ("src/shop/util.pyi",)
    assert r.resolve(f, "python", Import("helpers")) == ("tests/helpers.py",)  # next to the importer
    assert r.resolve(f, "python", Import("shop.models.Thing")) == ("src/shop/models.py",)


def test_python_from_imports_submodules_and_names(write_workspace) -> None:
    r = resolver(write_workspace(PY))
    f = "tests/test_cart.py"
    # both names are submodules: the package itself is not a target
    assert r.resolve(f, "python", Import("shop.cart", ("core", "pricing"))) == (
        "src/shop/cart/core.py",
        "src/shop/cart/pricing.py",
    )
    # a mix: the package (for `Cart`) and the submodule
    assert r.resolve(f, "python", Import("shop.cart", ("Cart", "core"))) == (
        "src/shop/cart/__init__.py",
        "src/shop/cart/core.py",
    )
    assert r.resolve(f, "python", Import("shop.models", ("Item",))) == ("src/shop/models.py",)
    assert r.resolve(f, "python", Import("shop.models", ("*",))) == ("src/shop/models.py",)


def test_python_relative_imports(write_workspace) -> None:
    r = resolver(write_workspace(PY))
    core = "src/shop/cart/core.py"
    assert r.resolve(core, "python", Import(".", ("pricing",))) == ("src/shop/cart/pricing.py",)
    assert r.resolve(core, "python", Import(".pricing", ("price",))) == ("src/shop/cart/pricing.py",)
    assert r.resolve(core, "python", Import("..models", ("Item",))) == ("src/shop/models.py",)
    assert r.resolve(core, "python", Import("..", ("models", "util"))) == (
        "src/shop/models.py",
        "src/shop/util.pyi",
    )
    assert r.resolve(core, "python", Import("..", ("VERSION",))) == ("src/shop/__init__.py",)
    init = "src/shop/cart/__init__.py"  # an __init__'s package is its own folder
    assert r.resolve(init, "python", Import(".core", ("Cart",))) == ("src/shop/cart/core.py",)
    assert r.resolve(core, "python", Import("......x", ("y",))) == ()


def test_python_external_and_self(write_workspace) -> None:
    r = resolver(write_workspace(PY))
    f = "src/shop/models.py"
    assert r.resolve(f, "python", Import("os.path")) == ()
    assert r.resolve(f, "python", Import("numpy", alias="np")) == ()
    assert r.resolve(f, "python", Import("requests", ("get",))) == ()
    assert r.resolve(f, "python", Import("shop.models")) == ()  # a file never imports itself


# ---- JavaScript / TypeScript ----------------------------------------------------------------

TSCONFIG = """
{
  // comment with "quotes" and a url: http://x/y
  "compilerOptions": {
    "baseUrl": ".",
    /* block
       comment */
    "paths": {
      "@/*": ["src/*"],
      "@lib/*": ["libs/shared/*", "libs/fallback/*"],
      "config": ["src/config/index.ts"],
    },
  },
  "include": ["src/**/*",],
}
"""


def test_ts_relative_index_and_paths(write_workspace) -> None:
    root = write_workspace(
        {
            "tsconfig.json": TSCONFIG,
            "src/app.tsx": "",
            "src/components/Button.tsx": "",
            "src/components/index.ts": "",
            "src/utils/format.ts": "",
            "src/utils/esm.ts": "",
            "src/types.d.ts": "",
            "src/config/index.ts": "",
            "src/legacy/old.js": "",
            "libs/fallback/strings.ts": "",
            "utils/top.js": "",
        }
    )
    r = resolver(root)
    app = "src/app.tsx"
    assert r.resolve(app, "tsx", Import("./components")) == ("src/components/index.ts",)
    assert r.resolve(app, "tsx", Import("./components/Button", ("Button",))) == ("src/components/Button.tsx",)
    assert r.resolve(app, "tsx", Import("./utils/esm.js")) == ("src/utils/esm.ts",)
    assert r.resolve(app, "tsx", Import("./types")) == ("src/types.d.ts",)
    assert r.resolve(app, "tsx", Import("./legacy/old.js")) == ("src/legacy/old.js",)
    assert r.resolve(app, "tsx", Import("@/utils/format", ("fmt",))) == ("src/utils/format.ts",)
    assert r.resolve(app, "tsx", Import("@lib/strings")) == ("libs/fallback/strings.ts",)
    assert r.resolve(app, "tsx", Import("config")) == ("src/config/index.ts",)
    assert r.resolve(app, "tsx", Import("utils/top")) == ("utils/top.js",)  # via baseUrl
    assert r.resolve("src/utils/format.ts", "typescript", Import("../../utils/top")) == ("utils/top.js",)
    assert r.resolve(app, "tsx", Import("react", ("useState",))) == ()
    assert r.resolve(app, "tsx", Import("node:fs")) == ()
    assert r.resolve(app, "tsx", Import("./missing")) == ()
    assert r.resolve(app, "tsx", Import("../../outside")) == ()


def test_js_nested_jsconfig_and_extends(write_workspace) -> None:
    root = write_workspace(
        {
            "tsconfig.base.json": """
                {"compilerOptions": {"baseUrl": "packages/web", "paths": {"~/*": ["lib/*"]}}}
            """,
            "packages/web/jsconfig.json": '{"extends": "../../tsconfig.base.json", "compilerOptions": {}}',
            "packages/web/lib/api.js": "",
            "packages/web/pages/home.jsx": "",
            "packages/web/pages/about.mjs": "",
        }
    )
    r = resolver(root)
    home = "packages/web/pages/home.jsx"
    assert r.resolve(home, "javascript", Import("~/api")) == ("packages/web/lib/api.js",)
    assert r.resolve(home, "javascript", Import("./about")) == ("packages/web/pages/about.mjs",)


def test_strip_json_comments_keeps_strings() -> None:
    text = '{"a": "// not a comment", "b": "/* nor this */", "c": [1, 2,], } // end'
    assert json.loads(strip_json_comments(text)) == {
        "a": "// not a comment",
        "b": "/* nor this */",
        "c": [1, 2],
    }


# ---- Go -------------------------------------------------------------------------------------


def test_go_module_packages(write_workspace) -> None:
    root = write_workspace(
        {
            "go.mod": "module github.com/acme/app\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.0\n",
            "cmd/app/main.go": "package main\n",
            "internal/util/strings.go": "package util\n",
            "internal/util/math.go": "package util\n",
            "internal/util/math_test.go": "package util\n",
            "tools/go.mod": "module github.com/acme/app/tools\n",
            "tools/gen/gen.go": "package gen\n",
        }
    )
    r = resolver(root)
    main = "cmd/app/main.go"
    assert r.resolve(main, "go", Import("github.com/acme/app/internal/util")) == (
        "internal/util/math.go",
        "internal/util/strings.go",
    )
    # nested module: the longest module path wins
    assert r.resolve(main, "go", Import("github.com/acme/app/tools/gen")) == ("tools/gen/gen.go",)
    assert r.resolve(main, "go", Import("fmt")) == ()
    assert r.resolve(main, "go", Import("golang.org/x/text/language")) == ()
    assert r.resolve(main, "go", Import("github.com/acme/app/missing")) == ()


# ---- Rust -----------------------------------------------------------------------------------

RUST = {
    "Cargo.toml": '[package]\nname = "my-crate"\nversion = "0.1.0"\n',
    "src/lib.rs": "mod net;\nmod store;\n",
    "src/main.rs": "",
    "src/net/mod.rs": "mod http;\n",
    "src/net/http.rs": "",
    "src/net/tcp.rs": "",
    "src/store.rs": "mod disk;\n",  # 2018 style: children live in src/store/
    "src/store/disk.rs": "",
    "src/store/cache/mod.rs": "",
    "src/bin/tool.rs": "",
    "tests/common/mod.rs": "",
    "tests/it.rs": "mod common;\n",
}


def test_rust_crate_paths(write_workspace) -> None:
    r = resolver(write_workspace(RUST))
    http = "src/net/http.rs"
    assert r.resolve(http, "rust", Import("crate::store", ("Store",))) == ("src/store.rs",)
    assert r.resolve(http, "rust", Import("crate::store::disk", ("write",))) == ("src/store/disk.rs",)
    # the last segment is an item, not a module: fall back to the module that defines it
    assert r.resolve(http, "rust", Import("crate::store::disk::Writer")) == ("src/store/disk.rs",)
    # names that are modules themselves
    assert r.resolve(http, "rust", Import("crate::store", ("disk", "cache"))) == (
        "src/store/disk.rs",
        "src/store/cache/mod.rs",
    )
    assert r.resolve(http, "rust", Import("crate::store", ("disk", "Store"))) == (
        "src/store.rs",
        "src/store/disk.rs",
    )
    assert r.resolve(http, "rust", Import("crate", ("net",))) == ("src/net/mod.rs",)
    assert r.resolve(http, "rust", Import("crate::net", ("*",))) == ("src/net/mod.rs",)


def test_rust_super_self_and_mod_declarations(write_workspace) -> None:
    r = resolver(write_workspace(RUST))
    http = "src/net/http.rs"
    assert r.resolve(http, "rust", Import("super", ("tcp",))) == ("src/net/tcp.rs",)
    assert r.resolve(http, "rust", Import("super::tcp", ("connect",))) == ("src/net/tcp.rs",)
    assert r.resolve(http, "rust", Import("super::super::store", ("Store",))) == ("src/store.rs",)
    assert r.resolve("src/net/mod.rs", "rust", Import("self::tcp", ("x",))) == ("src/net/tcp.rs",)
    mod = "mod"
    assert r.resolve("src/lib.rs", "rust", Import("self::net", alias=mod)) == ("src/net/mod.rs",)
    assert r.resolve("src/lib.rs", "rust", Import("self::store", alias=mod)) == ("src/store.rs",)
    assert r.resolve("src/net/mod.rs", "rust", Import("self::http", alias=mod)) == ("src/net/http.rs",)
    assert r.resolve("src/store.rs", "rust", Import("self::disk", alias=mod)) == ("src/store/disk.rs",)
    assert r.resolve("src/store.rs", "rust", Import("mod:cache")) == ("src/store/cache/mod.rs",)
    assert r.resolve("src/store.rs", "rust", Import("self::nope", alias=mod)) == ()  # not itself
    assert r.resolve("tests/it.rs", "rust", Import("self::common", alias=mod)) == ("tests/common/mod.rs",)


def test_rust_2018_relative_crate_name_and_external(write_workspace) -> None:
    r = resolver(write_workspace(RUST))
    assert r.resolve("src/lib.rs", "rust", Import("net::http", ("get",))) == ("src/net/http.rs",)
    assert r.resolve("src/bin/tool.rs", "rust", Import("my_crate::store", ("Store",))) == ("src/store.rs",)
    assert r.resolve("src/lib.rs", "rust", Import("std::collections", ("HashMap",))) == ()
    assert r.resolve("src/lib.rs", "rust", Import("serde", ("Serialize",))) == ()
    assert r.resolve("src/lib.rs", "rust", Import("tokio")) == ()


# ---- Java -----------------------------------------------------------------------------------

JAVA = {
    "core/src/main/java/com/acme/util/Strings.java": "package com.acme.util;\n",
    "core/src/main/java/com/acme/util/Numbers.java": "package com.acme.util;\n",
    "core/src/main/java/com/acme/model/Order.java": "package com.acme.model;\n",
    "app/src/main/java/com/acme/app/Main.java": "package com.acme.app;\n",
    "app/src/test/java/com/acme/app/MainTest.java": "package com.acme.app;\n",
}


def test_java_classes_wildcards_and_static(write_workspace) -> None:
    r = resolver(write_workspace(JAVA))
    main = "app/src/main/java/com/acme/app/Main.java"
    strings = "core/src/main/java/com/acme/util/Strings.java"
    numbers = "core/src/main/java/com/acme/util/Numbers.java"
    assert r.resolve(main, "java", Import("com.acme.util.Strings", ("Strings",))) == (strings,)
    assert r.resolve(main, "java", Import("com.acme.util", ("*",))) == (numbers, strings)
    assert r.resolve(main, "java", Import("com.acme.util.Strings", ("max",))) == (strings,)  # static
    assert r.resolve(main, "java", Import("com.acme.util.Strings", ("*",))) == (strings,)  # static *
    assert r.resolve(main, "java", Import("com.acme.util.Strings.Inner", ("Inner",))) == (strings,)
    test = "app/src/test/java/com/acme/app/MainTest.java"
    assert r.resolve(test, "java", Import("com.acme.app.Main", ("Main",))) == (main,)
    assert r.resolve(main, "java", Import("java.util.List", ("List",))) == ()
    assert r.resolve(main, "java", Import("org.junit", ("*",))) == ()


def test_unknown_language_and_garbage_never_raise(write_workspace) -> None:
    r = resolver(write_workspace(PY))
    assert r.resolve("a.rb", "ruby", Import("foo")) == ()
    for lang in ("python", "javascript", "go", "rust", "java"):
        for module in ("", ".", "::", "....", "*", "a..b", "/"):
            assert isinstance(r.resolve("src/shop/models.py", lang, Import(module, ("*", ""))), tuple)


def test_resolving_many_imports_is_fast() -> None:
    files = [f"pkg{d}/__init__.py" for d in range(100)]
    files += [f"pkg{d}/mod{i}.py" for d in range(100) for i in range(100)]
    files += [f"web/src/m{i}.ts" for i in range(2000)] + ["main.py", "web/src/main.ts"]
    start = time.perf_counter()
    r = ImportResolver(Path("/nonexistent-root"), files)
    built = time.perf_counter() - start
    imports = [("main.py", "python", Import(f"pkg{i % 100}.mod{i % 97}", ("x",))) for i in range(10_000)]
    imports += [("pkg1/__init__.py", "python", Import(".", (f"mod{i % 100}",))) for i in range(5_000)]
    imports += [("web/src/main.ts", "typescript", Import(f"./m{i % 2000}")) for i in range(5_000)]
    start = time.perf_counter()
    resolved = [r.resolve(*args) for args in imports]
    elapsed = time.perf_counter() - start
    assert all(resolved)
    assert built < 1.0 and elapsed < 1.0, (built, elapsed)
