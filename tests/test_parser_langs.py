"""Parsing JavaScript, TypeScript/TSX, Go, Rust and Java: definitions, references, imports."""

from __future__ import annotations

import pytest

from ragls.indexing.parser import parse_source
from ragls.indexing.records import Import, Reference


def defs(pf):
    return {d.qualname: d for d in pf.definitions}


TS = b"""import d, {a as b, c} from './x';
import * as ns from "y";
import './side';
export {q} from './q';
export * from './all';
const m = require('./req');
import t = require('tr');
/** Adds numbers. */
export function add(a: number, b: number): number {
  return helper(a) + ns.mul(b);
}
export const arrow = (x: Foo) => x.bar;
const LIMIT = 3;
let counter = 0;
// The shape.
interface Shape { area(): number; }
type Id = string | number;
enum Color { Red, Green }
export class Circle extends Base implements Shape {
  r: number;
  constructor(r: number) { super(); this.r = r; }
  area(): number { return Math.PI * this.r; }
}
async function load() { const mod = await import('./lazy'); return new Circle(1); }
"""


def test_typescript_definitions() -> None:
    got = defs(parse_source("src/a.ts", TS))
    assert got["add"].kind == "function"
    assert (got["add"].start_line, got["add"].end_line) == (9, 11)
    assert got["add"].signature == "function add(a: number, b: number): number"
    assert got["add"].doc == "Adds numbers."
    assert got["arrow"].kind == "function"
    assert got["arrow"].signature == "const arrow = (x: Foo) =>"
    assert (got["LIMIT"].kind, got["counter"].kind) == ("constant", "variable")
    assert (got["Shape"].kind, got["Shape"].doc) == ("interface", "The shape.")
    assert got["Shape.area"].kind == "method"
    assert (got["Id"].kind, got["Color"].kind) == ("type", "enum")
    assert got["Circle"].signature == "class Circle extends Base implements Shape"
    assert got["Circle.area"].kind == "method" and got["Circle.area"].parent == "Circle"
    assert "Circle.constructor" in got


def test_typescript_imports() -> None:
    assert parse_source("src/a.ts", TS).imports == [
        Import("./x", ("d", "a", "c"), 1),
        Import("y", ("*",), 2, "ns"),
        Import("./side", (), 3),
        Import("./q", ("q",), 4),
        Import("./all", ("*",), 5),
        Import("./req", (), 6, "m"),
        Import("tr", (), 7, "t"),
        Import("./lazy", (), 24),
    ]


def test_typescript_references() -> None:
    refs = set(parse_source("src/a.ts", TS).references)
    assert Reference("helper", 10, "call", "add") in refs
    assert Reference("mul", 10, "call", "add") in refs
    assert Reference("Foo", 12, "type", "arrow") in refs
    assert Reference("bar", 12, "attribute", "arrow") in refs
    assert Reference("Circle", 24, "type", "load") in refs
    assert Reference("PI", 22, "attribute", "Circle.area") in refs
    assert Reference("LIMIT", 13, "name", None) not in refs  # its own definition


def test_javascript_and_jsx() -> None:
    src = b"""import React from 'react';
const util = require("./util");
// Renders the app.
function App(props) {
  return <Button onClick={go}>{props.title}</Button>;
}
export default App;
"""
    pf = parse_source("web/app.jsx", src)
    assert pf.language == "javascript"
    app = defs(pf)["App"]
    assert (app.kind, app.signature, app.doc, app.start_line, app.end_line) == (
        "function", "function App(props)", "Renders the app.", 4, 6
    )  # fmt: skip
    assert pf.imports == [Import("react", ("React",), 1), Import("./util", (), 2, "util")]
    refs = set(pf.references)
    assert Reference("Button", 5, "type", "App") in refs
    assert Reference("go", 5, "name", "App") in refs
    assert not [r for r in refs if r.name == "Button" and r.kind == "name"]
    assert pf.syntax_errors == 0


def test_tsx_uses_typescript_and_jsx() -> None:
    src = b"interface P { n: number }\nexport const View = (p: P) => <Item n={p.n} />;\n"
    pf = parse_source("ui/view.tsx", src)
    got = defs(pf)
    assert got["P"].kind == "interface" and got["View"].kind == "function"
    refs = set(pf.references)
    assert Reference("P", 2, "type", "View") in refs
    assert Reference("Item", 2, "type", "View") in refs


GO = b"""package main

import (
    "fmt"
    str "strings"
)
import "os"

// Answer is the answer.
const Answer = 42
var debug = false

// Point is a point.
type Point struct {
    X, Y int
}
type Reader interface {
    Read(p []byte) (int, error)
}

// Dist returns the distance.
func (p *Point) Dist(q Point) float64 {
    return fmt.Sprint(str.ToUpper("x"))
}
func main() { p := Point{}; p.Dist(Point{}); os.Exit(0) }
"""


def test_go() -> None:
    pf = parse_source("cmd/main.go", GO)
    got = defs(pf)
    packages = [d for d in pf.definitions if d.kind == "package"]
    assert [(d.name, d.start_line) for d in packages] == [("main", 1)]
    assert (got["Answer"].kind, got["Answer"].doc, got["Answer"].signature) == (
        "constant", "Answer is the answer.", "const Answer = 42"
    )  # fmt: skip
    assert got["debug"].kind == "variable"
    assert (got["Point"].kind, got["Point"].doc, got["Point"].start_line, got["Point"].end_line) == (
        "struct", "Point is a point.", 14, 16
    )  # fmt: skip
    assert got["Reader"].kind == "interface" and got["Reader.Read"].kind == "method"
    dist = got["Point.Dist"]
    assert (dist.kind, dist.parent, dist.signature) == (
        "method",
        "Point",
        "func (p *Point) Dist(q Point) float64",
    )
    assert dist.doc == "Dist returns the distance."
    assert [d for d in pf.definitions if d.name == "main" and d.kind == "function"]
    assert pf.imports == [Import("fmt", (), 4), Import("strings", (), 5, "str"), Import("os", (), 7)]
    refs = set(pf.references)
    assert Reference("Sprint", 23, "call", "Point.Dist") in refs
    assert Reference("Dist", 25, "call", "main") in refs
    assert Reference("Point", 22, "type", "Point.Dist") in refs


RUST = b"""use crate::a::b::{c, d as e};
use super::x::Y;
use std::collections::*;
use std::io::Result as IoResult;
use a::{b::{c2, d2}, e2};
mod inner;
extern crate serde;

/// A point.
/// Second line.
#[derive(Debug)]
pub struct Point { x: u8 }
pub enum E { A, B }
pub trait T { fn t(&self) -> u8; }
const MAX: u32 = 3;
static NAME: &str = "n";
impl<G> Point<G> {
    pub fn new(x: u8) -> Self { Point { x } }
}
impl T for Point { fn t(&self) -> u8 { helper(self.x); Vec::new() } }
pub fn f(x: u8) -> u8 { x }
mod m { pub fn g() {} }
"""


def test_rust() -> None:
    pf = parse_source("src/lib.rs", RUST)
    got = defs(pf)
    assert (got["Point"].kind, got["Point"].doc, got["Point"].start_line) == (
        "struct",
        "A point.\nSecond line.",
        12,
    )
    assert (got["E"].kind, got["T"].kind, got["MAX"].kind, got["NAME"].kind) == (
        "enum", "trait", "constant", "variable"
    )  # fmt: skip
    assert got["T.t"].kind == "method"
    assert (got["Point.new"].kind, got["Point.new"].parent) == ("method", "Point")
    assert got["Point.new"].signature == "pub fn new(x: u8) -> Self"
    assert got["Point.t"].parent == "Point"  # trait impl methods belong to the implementing type
    assert got["f"].signature == "pub fn f(x: u8) -> u8"
    assert got["m"].kind == "module" and got["m.g"].kind == "function"
    assert "inner" not in got
    assert pf.imports == [
        Import("crate::a::b", ("c", "d"), 1),
        Import("super::x", ("Y",), 2),
        Import("std::collections", ("*",), 3),
        Import("std::io", ("Result",), 4, "IoResult"),
        Import("a::b", ("c2", "d2"), 5),
        Import("a", ("e2",), 5),
        Import("self::inner", (), 6, "mod"),
        Import("serde", (), 7),
    ]
    refs = set(pf.references)
    assert Reference("helper", 20, "call", "Point.t") in refs
    assert Reference("new", 20, "call", "Point.t") in refs
    assert Reference("Self", 18, "type", "Point.new") in refs


JAVA = b"""package com.acme.util;

import com.a.B;
import com.a.*;
import static com.a.B.method;
import static com.a.C.*;

/** A calculator. */
public class Calc extends Base {
    public static final int MAX = 10;
    private int count;
    /** Adds. */
    public int add(int a, int b) {
        return helper(a) + new Other().go(b) + this.count;
    }
    interface Inner { void run(); }
    enum Mode { A, B }
    record Pair(int a, int b) {}
}
"""


def test_java() -> None:
    pf = parse_source("src/main/java/com/acme/util/Calc.java", JAVA)
    got = defs(pf)
    assert got["com.acme.util"].kind == "package" and got["com.acme.util"].start_line == 1
    calc = got["Calc"]
    assert (calc.kind, calc.doc, calc.start_line, calc.end_line) == ("class", "A calculator.", 9, 19)
    assert got["Calc.MAX"].kind == "constant" and got["Calc.count"].kind == "field"
    add = got["Calc.add"]
    assert (add.kind, add.signature, add.doc) == ("method", "public int add(int a, int b)", "Adds.")
    assert (got["Calc.Inner"].kind, got["Calc.Inner.run"].kind) == ("interface", "method")
    assert (got["Calc.Mode"].kind, got["Calc.Pair"].kind) == ("enum", "record")
    assert pf.imports == [
        Import("com.a.B", ("B",), 3),
        Import("com.a", ("*",), 4),
        Import("com.a.B", ("method",), 5),
        Import("com.a.C", ("*",), 6),
    ]
    refs = set(pf.references)
    assert Reference("helper", 14, "call", "Calc.add") in refs
    assert Reference("Other", 14, "type", "Calc.add") in refs
    assert Reference("go", 14, "call", "Calc.add") in refs
    assert Reference("count", 14, "attribute", "Calc.add") in refs
    assert Reference("Base", 9, "type", "Calc") in refs
    assert not [r for r in refs if r.name in ("acme", "util")]  # package line is not a reference


@pytest.mark.parametrize(
    ("path", "src", "survivor"),
    [
        ("a.js", b"function ok() { return 1; }\nfunction bad( { \nconst z = ;\n", "ok"),
        ("a.go", b"package p\nfunc ok() int { return 1 }\nfunc bad( {\n", "ok"),
        ("a.rs", b"fn ok() -> u8 { 1 }\nfn bad( {\n", "ok"),
        ("A.java", b"class A { int ok() { return 1; } void bad( { }\n", "ok"),
        ("a.ts", b"function ok(): number { return 1 }\nlet = = ;\n", "ok"),
    ],
)
def test_syntax_errors_keep_definitions(path: str, src: bytes, survivor: str) -> None:
    pf = parse_source(path, src)
    assert pf.syntax_errors >= 1
    assert survivor in {d.name for d in pf.definitions}


@pytest.mark.parametrize("path", ["a.js", "a.ts", "a.tsx", "a.go", "a.rs", "A.java"])
def test_empty_and_invalid_utf8(path: str) -> None:
    assert parse_source(path, b"").definitions == []
    pf = parse_source(path, b"// caf\xe9 \xff\n")
    assert pf.line_count == 1 and pf.chunks and "\ufffd" in pf.chunks[0].text
