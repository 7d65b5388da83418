//! Fuzzing of the manifest parser, validator and generator (the runner is `tests/fuzz_support`):
//!
//! - `manifest_bytes`: random bytes as a manifest;
//! - `manifest_mutated`: the checked-in manifests (fixtures, the DynamoDB and Python examples), mutated byte
//!   by byte and token by token, generated through the build-script builder into a directory that must
//!   stay untouched when the input is rejected;
//! - `manifest_structured`: random valid manifests (nested structs, lists, maps, options, closed and open
//!   enums, unions, named errors, keywords as names) through validation, generation, lock and breaking
//!   change checks against a random next version.
//!
//! Every parsed manifest must generate (an error from `generate` on a valid manifest is a bug), its lock
//! must verify against itself, its contracts must parse and accept themselves, and comparing it with itself
//! finds no change. Every rejected one must render its diagnostics. The budget per target is
//! `IOMOD_FUZZ_SECONDS` (default a few seconds); `scripts/fuzz-codegen.sh` runs long ones, and compiles a
//! larger sample of generated code (`generated_code_of_random_manifests_compiles` here compiles two).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod fuzz_support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fuzz_support::Bounds;
use iomod_codegen::breaking::{self, Level, Side};
use iomod_codegen::{GeneratedFiles, Manifest, Options, generate};

/// Manifests are text: a mutated one may be any bytes.
const MANIFEST_BOUNDS: Bounds = Bounds {
    // Generating the DynamoDB manifest (the long runs do) took 61 to 77 s in a debug build on the shared
    // 2-core machine; the bound catches a hang, not a slow input.
    time: Duration::from_secs(300),
    memory: 2 << 30,
    max_len: 256 * 1024,
};

/// The checked-in manifests.
fn manifests() -> Vec<(String, String)> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(here.join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path().join("iomod.toml"))
        .collect();
    paths.sort();
    paths.push(here.join("../iomods/dynamodb/iomod.toml"));
    paths.push(here.join("../examples/python-iomod/iomod.toml"));
    paths
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// What must hold for any text: parsed, or rejected with diagnostics that render. A parsed manifest is
/// generated (unless `files` already holds its output) and checked.
fn exercise(text: &str, files: Option<&GeneratedFiles>) -> Option<Manifest> {
    match Manifest::parse("fuzz.toml", text) {
        Err(diagnostics) => {
            assert!(
                !diagnostics.items.is_empty(),
                "a rejected manifest has no diagnostic"
            );
            let rendered = diagnostics.to_string();
            assert!(!rendered.is_empty());
            let _ = diagnostics.summary();
            None
        }
        Ok(manifest) => {
            check_valid(text, &manifest, files);
            Some(manifest)
        }
    }
}

/// What must hold for a manifest that parsed.
fn check_valid(text: &str, manifest: &Manifest, files: Option<&GeneratedFiles>) {
    if let Err(d) = manifest.validate() {
        panic!("a parsed manifest does not validate: {d}");
    }
    let generated;
    let files = match files {
        Some(files) => files,
        None => {
            generated = generate(manifest, &Options::default())
                .unwrap_or_else(|e| panic!("a valid manifest does not generate: {e}"));
            &generated
        }
    };
    assert!(files.is_empty() || files.keys().any(|p| p.starts_with("host")));
    // The lock of a manifest verifies against it, with nothing missing.
    let lock = iomod_codegen::lock::render(manifest);
    let verified = iomod_codegen::lock::verify("fuzz.toml", text, manifest, "iomod.lock", &lock)
        .unwrap_or_else(|d| panic!("a manifest does not verify against its own lock: {d}"));
    assert!(verified.missing.is_empty(), "{:?}", verified.missing);
    // Contracts parse, and a caller built from the same manifest is served.
    for method in &manifest.methods {
        let text = iomod_codegen::method_contract(manifest, method);
        let contract = iomod_sdk::contract::Contract::parse(&text)
            .unwrap_or_else(|e| panic!("the contract of `{}` does not parse: {e}", method.name));
        assert_eq!(
            iomod_sdk::contract::check_call(&contract, &contract),
            Ok(())
        );
    }
    // A manifest compared with itself has no change.
    let side = Side {
        file: "fuzz.toml".into(),
        source: text.to_owned(),
        manifest: manifest.clone(),
    };
    let report = breaking::compare(&side, &side);
    assert!(report.changes.is_empty(), "{}", report.render(Level::Json));
    let _ = report.render(Level::Wire);
}

#[test]
fn manifest_bytes() {
    let seeds = manifests()
        .into_iter()
        .map(|(_, t)| t.into_bytes())
        .collect();
    let stats = fuzz_support::run(
        "manifest_bytes",
        fuzz_support::budget(4.0),
        MANIFEST_BOUNDS,
        seeds,
        |bytes| {
            // Random bytes: most are not even TOML. What parses is checked but not generated (the other
            // targets generate).
            let text = String::from_utf8_lossy(bytes);
            if let Ok(manifest) = Manifest::parse("fuzz.toml", &text) {
                check_valid(&text, &manifest, Some(&GeneratedFiles::new()));
            }
        },
    );
    fuzz_support::check("manifest_bytes", &stats);
}

/// Pieces of manifests, spliced in by the token-level mutator.
const DICTIONARY: &[&str] = &[
    "[iomod]\n",
    "[types.A]\n",
    "[types.B]\n",
    "[errors.E]\n",
    "[methods.m]\n",
    "[process]\n",
    "[[types]]\n",
    "fields.a = \"A\"\n",
    "fields.b = \"list<B>\"\n",
    "fields.c = \"option<A>\"\n",
    "union.x = \"void\"\n",
    "union.y = \"A\"\n",
    "enum = [\"a\", \"b\"]\n",
    "enum = []\n",
    "open = true\n",
    "open = 1\n",
    "input = \"A\"\n",
    "output = { a = \"A\" }\n",
    "errors = [\"E\"]\n",
    "doc = \"\"\"\n",
    "coordinates = \"a.b.c\"\n",
    "version = \"1.0.0\"\n",
    "version = \"99999999999999999999.0.0\"\n",
    "list<",
    "map<string, ",
    "map<i32, ",
    "option<",
    "option<option<",
    "option<void>",
    ">",
    ">>>>",
    "\"",
    "'",
    "=",
    "{",
    "}",
    "[",
    "]",
    ",",
    ".",
    "#",
    "\n",
    "\\u0000",
    "\\U0010FFFF",
    "é",
    "\u{feff}",
    "\u{202e}",
    "𝔸",
    "type",
    "self",
    "Self",
    "super",
    "crate",
    "async",
    "Text",
    "Iomod",
    "Failed",
    "Client",
    "Unknown",
    "unknown",
    "ok",
    "failed",
    "new",
    "Entry",
    "StringEntry",
    "_",
    "__",
    "0",
    "-1",
    "1e999",
    "nan",
    "inf",
    "true",
    "1979-05-27T07:32:00Z",
];

/// A token-level mutation of manifest text: dictionary splices, line edits, nesting.
fn mutate_text(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    let lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    match rng.u8(..6) {
        0 | 1 => {
            let piece = DICTIONARY[rng.usize(..DICTIONARY.len())].as_bytes();
            let at = rng.usize(..=input.len());
            input.splice(at..at, piece.iter().copied());
        }
        2 if lines.len() > 1 => {
            // Delete a line.
            let i = rng.usize(..lines.len());
            let mut out: Vec<&[u8]> = lines.clone();
            out.remove(i);
            *input = out.join(&b'\n');
        }
        3 if lines.len() > 1 => {
            // Duplicate a line somewhere else (duplicate keys, members moved).
            let line = lines[rng.usize(..lines.len())];
            let mut out: Vec<&[u8]> = lines.clone();
            out.insert(rng.usize(..=out.len()), line);
            *input = out.join(&b'\n');
        }
        4 if lines.len() > 1 => {
            // Swap two lines.
            let mut out: Vec<&[u8]> = lines.clone();
            let (a, b) = (rng.usize(..out.len()), rng.usize(..out.len()));
            out.swap(a, b);
            *input = out.join(&b'\n');
        }
        _ => {
            // Deep nesting, of TOML or of a type expression.
            let depth = rng.usize(1..=200);
            let piece = match rng.u8(..4) {
                0 => format!("x = {}{}\n", "[".repeat(depth), "]".repeat(depth)),
                1 => format!("x = {}{}\n", "{a=".repeat(depth), "}".repeat(depth)),
                2 => format!(
                    "fields.deep = \"{}string{}\"\n",
                    "list<".repeat(depth),
                    ">".repeat(depth)
                ),
                _ => format!("fields.deep = \"{}A\"\n", "option<".repeat(depth)),
            };
            let at = rng.usize(..=input.len());
            input.splice(at..at, piece.into_bytes());
        }
    }
}

/// A directory holding a previous generation's output, and a snapshot of every file in it.
struct OutDir {
    root: PathBuf,
}

impl OutDir {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("iomod-fuzz-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::create_dir_all(root.join("guest")).unwrap();
        Self { root }
    }

    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    out.insert(path.clone(), Vec::new());
                    dirs.push(path);
                } else {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        out
    }

    /// Generates `text` through the build-script builder: a rejected manifest leaves the directory as it
    /// was; an accepted one leaves exactly its files.
    fn generate(&self, text: &str) -> Option<GeneratedFiles> {
        let manifest = self.root.join("iomod.toml");
        std::fs::write(&manifest, text).unwrap();
        let before = self.snapshot();
        let result = iomod_codegen::configure()
            .manifest(&manifest)
            .out_dir(self.root.join("out"))
            .guest_crate_dir(self.root.join("guest"))
            .emit_rerun_if_changed(false)
            .verify_lock(false)
            .generate();
        match result {
            Err(error) => {
                let _ = error.to_string();
                assert!(
                    self.snapshot() == before,
                    "a rejected manifest changed the output directory: {error}"
                );
                None
            }
            Ok(generated) => {
                for (path, contents) in &generated.files {
                    let target = match path.strip_prefix("guest") {
                        Ok(rest) => self.root.join("guest").join(rest),
                        Err(_) => match path.strip_prefix("host") {
                            Ok(rest) => self.root.join("out").join(rest),
                            Err(_) => self.root.join("out").join(path),
                        },
                    };
                    assert_eq!(
                        std::fs::read_to_string(&target).ok().as_deref(),
                        Some(contents.as_str()),
                        "{}",
                        target.display()
                    );
                }
                Some(generated.files)
            }
        }
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The largest manifest text `manifest_mutated` generates: `IOMOD_FUZZ_GENERATE_MAX` bytes (default 3,000:
/// every fixture but the keyword one; the long runs generate all).
fn generate_max() -> usize {
    std::env::var("IOMOD_FUZZ_GENERATE_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn manifest_mutated() {
    let dir = OutDir::new("mutated");
    // The directory starts with a previous generation's output in it.
    let (_, first) = &manifests()[0];
    dir.generate(first).unwrap();
    let seeds = manifests()
        .into_iter()
        .map(|(_, t)| t.into_bytes())
        .collect();
    let stats = fuzz_support::run_with(
        "manifest_mutated",
        fuzz_support::budget(12.0),
        MANIFEST_BOUNDS,
        seeds,
        |bytes| {
            let text = String::from_utf8_lossy(bytes);
            // Only a parsed manifest is generated, and only a small one unless the run is long (generating
            // the DynamoDB manifest takes tens of seconds in a debug build).
            match Manifest::parse("fuzz.toml", &text) {
                Ok(manifest) if text.len() > generate_max() => {
                    check_valid(&text, &manifest, Some(&GeneratedFiles::new()));
                }
                Ok(_) => {
                    let files = dir.generate(&text);
                    exercise(&text, files.as_ref());
                }
                Err(_) => {
                    exercise(&text, None);
                    assert!(dir.generate(&text).is_none());
                }
            }
        },
        mutate_text,
    );
    fuzz_support::check("manifest_mutated", &stats);
}

/// Random valid manifests, as TOML text, from a seed.
struct Gen {
    rng: fastrand::Rng,
    used: std::collections::BTreeSet<String>,
}

/// Names that stress the generator's escaping: Rust, Cap'n Proto and capnpc-rust keywords.
const KEYWORD_MEMBERS: &[&str] = &[
    "type",
    "self",
    "super",
    "crate",
    "async",
    "await",
    "dyn",
    "gen",
    "try",
    "union",
    "struct",
    "enum",
    "const",
    "match",
    "fn",
    "impl",
    "mod",
    "ref",
    "box",
    "once",
    "pure",
    "sizeof",
    "interface",
    "import",
    "annotation",
    "using",
    "group",
    "void",
    "inf",
    "nan",
    "true",
    "false",
    "raw",
    "safe",
    "macro_rules",
    "yield",
    "in",
    "as",
    "where",
    "static",
    "r",
    "a1",
    "x_2",
];
const KEYWORD_TYPES: &[&str] = &[
    "Type",
    "Self",
    "Struct",
    "Enum",
    "Async",
    "Dyn",
    "Box",
    "Once",
    "Impl",
    "Match",
    "Data",
    "List",
    "Bool",
    "Float64",
    "UInt8",
    "Capability",
    "AnyPointer",
    "Option",
    "Vec",
    "String",
    "Result",
    "Error",
    "Box2",
    "A",
    "Z9",
];

impl Gen {
    fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            used: Default::default(),
        }
    }

    fn word(&mut self) -> String {
        let len = self.rng.usize(1..=8);
        (0..len)
            .map(|i| {
                if i > 0 && self.rng.u8(..6) == 0 {
                    char::from(b'0' + self.rng.u8(..10))
                } else {
                    self.rng.lowercase()
                }
            })
            .collect()
    }

    /// A snake_case member name, unique within `taken`.
    fn member(&mut self, taken: &mut std::collections::BTreeSet<String>) -> String {
        loop {
            let name = if self.rng.u8(..4) == 0 {
                KEYWORD_MEMBERS[self.rng.usize(..KEYWORD_MEMBERS.len())].to_owned()
            } else if self.rng.u8(..3) == 0 {
                format!("{}_{}", self.word(), self.word())
            } else {
                self.word()
            };
            if taken.insert(name.clone()) {
                return name;
            }
        }
    }

    /// An UpperCamelCase type name, unique in the manifest.
    fn type_name(&mut self) -> String {
        loop {
            let name = if self.rng.u8(..4) == 0 {
                KEYWORD_TYPES[self.rng.usize(..KEYWORD_TYPES.len())].to_owned()
            } else {
                let mut w = self.word();
                let first = w.remove(0).to_ascii_uppercase();
                format!("{first}{w}{}", if self.rng.bool() { "Item" } else { "" })
            };
            if self.used.insert(name.clone()) {
                return name;
            }
        }
    }

    fn primitive(&mut self) -> &'static str {
        const P: &[&str] = &[
            "bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "string",
            "bytes",
        ];
        P[self.rng.usize(..P.len())]
    }

    /// A type expression for a field (`option` allowed at the top) or an element.
    fn ty(&mut self, named: &[String], depth: usize, field: bool) -> String {
        let pick = self.rng.u8(..10);
        if depth < 3 && pick == 0 {
            format!("list<{}>", self.ty(named, depth + 1, false))
        } else if depth < 3 && pick == 1 {
            format!("map<string, {}>", self.ty(named, depth + 1, false))
        } else if field && depth < 3 && pick == 2 {
            let inner = self.ty(named, depth + 1, false);
            format!("option<{inner}>")
        } else if !named.is_empty() && pick < 6 {
            named[self.rng.usize(..named.len())].clone()
        } else {
            self.primitive().to_owned()
        }
    }

    fn fields(&mut self, named: &[String], count: usize, variant: bool) -> String {
        let mut taken = Default::default();
        let mut out = String::new();
        for _ in 0..count {
            let name = self.member(&mut taken);
            let ty = if variant && self.rng.u8(..4) == 0 {
                "void".to_owned()
            } else {
                self.ty(named, 0, !variant)
            };
            if self.rng.u8(..3) == 0 {
                let _ = write!(
                    out,
                    "{name} = {{ type = \"{ty}\", doc = \"The {name}.\" }}, "
                );
            } else {
                let _ = write!(out, "{name} = \"{ty}\", ");
            }
        }
        out.trim_end_matches(", ").to_owned()
    }

    /// A manifest: types that may refer to any type (recursion goes through lists, maps and options
    /// only when the reference is to a later type; a direct cycle is a validation error, which is fine).
    fn manifest(&mut self) -> String {
        const MODULES: &[&str] = &[
            "echo", "iomod", "type", "self", "impl", "text", "data", "greeter", "store", "x",
        ];
        let module = if self.rng.bool() {
            MODULES[self.rng.usize(..MODULES.len())].to_owned()
        } else {
            self.word()
        };
        let mut out = format!(
            "[iomod]\ncoordinates = \"fuzz.gen.{module}\"\nversion = \"{}.{}.{}\"\ndoc = \"Generated.\"\n\n",
            self.rng.u8(..3),
            self.rng.u8(..10),
            self.rng.u8(..10)
        );
        let types: Vec<String> = (0..self.rng.usize(0..=7))
            .map(|_| self.type_name())
            .collect();
        let mut structs = Vec::new();
        for (i, name) in types.iter().enumerate() {
            // Later types only, directly; any type through a list or map.
            let later: Vec<String> = types[i + 1..].to_vec();
            let _ = writeln!(out, "[types.{name}]");
            match self.rng.u8(..4) {
                0 => {
                    let values: Vec<String> = {
                        let mut taken = Default::default();
                        (0..self.rng.usize(1..=5))
                            .map(|_| format!("\"{}\"", self.member(&mut taken)))
                            .collect()
                    };
                    let _ = writeln!(out, "enum = [{}]", values.join(", "));
                    if self.rng.bool() {
                        out.push_str("open = true\n");
                    }
                }
                1 => {
                    let n = self.rng.usize(2..=4);
                    let variants = self.fields(&later, n, true);
                    let _ = writeln!(out, "union = {{ {variants} }}");
                }
                _ => {
                    structs.push(name.clone());
                    let n = self.rng.usize(0..=6);
                    let mut fields = self.fields(&later, n, false);
                    if self.rng.u8(..3) == 0 {
                        // Recursion through an indirection.
                        let extra = format!(
                            "{} = \"{}\"",
                            "next_one",
                            match self.rng.u8(..3) {
                                0 => format!("option<{name}>"),
                                1 => format!("list<{name}>"),
                                _ => format!("map<string, {name}>"),
                            }
                        );
                        fields = if fields.is_empty() {
                            extra
                        } else {
                            format!("{fields}, {extra}")
                        };
                    }
                    let _ = writeln!(out, "fields = {{ {fields} }}");
                }
            }
            out.push('\n');
        }
        let errors: Vec<String> = (0..self.rng.usize(0..=3))
            .map(|_| self.type_name())
            .collect();
        for name in &errors {
            let n = self.rng.usize(0..=3);
            let fields = self.fields(&types, n, false);
            let _ = writeln!(out, "[errors.{name}]\ndoc = \"The {name} error.\"");
            if !fields.is_empty() {
                let _ = writeln!(out, "fields = {{ {fields} }}");
            }
            out.push('\n');
        }
        let mut taken = Default::default();
        for _ in 0..self.rng.usize(1..=4) {
            let name = self.member(&mut taken);
            let _ = writeln!(out, "[methods.{name}]\ndoc = \"The {name} method.\"");
            for key in ["input", "output"] {
                match self.rng.u8(..3) {
                    0 if !structs.is_empty() => {
                        let s = structs[self.rng.usize(..structs.len())].clone();
                        let _ = writeln!(out, "{key} = \"{s}\"");
                    }
                    1 => {}
                    _ => {
                        let n = self.rng.usize(0..=4);
                        let fields = self.fields(&types, n, false);
                        let _ = writeln!(out, "{key} = {{ {fields} }}");
                    }
                }
            }
            let errs: Vec<String> = errors
                .iter()
                .filter(|_| self.rng.bool())
                .map(|e| format!("\"{e}\""))
                .collect();
            if !errs.is_empty() {
                let _ = writeln!(out, "errors = [{}]", errs.join(", "));
            }
            out.push('\n');
        }
        out
    }
}

/// The seed of a structured input: its bytes, hashed.
fn seed_of(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// An edit of a manifest's text as a next version might make it: a field added at the end of a table, a
/// value or member removed, a type changed, the version bumped.
fn next_version(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.usize(1..=3) {
        let i = rng.usize(..lines.len());
        let line = lines[i].clone();
        lines[i] = match rng.u8(..5) {
            0 => line.replacen(", ", ", added_one = \"string\", ", 1),
            1 => line.replacen("\"u32\"", "\"u64\"", 1),
            2 => line.replacen("\"string\"", "\"bytes\"", 1),
            3 => match line.split_once(", ") {
                Some((a, b)) if a.contains('{') => {
                    format!("{a}, {}", b.split_once(", ").map_or(b, |(_, c)| c))
                }
                _ => line,
            },
            _ => line.replacen("version = \"", "version = \"1", 1),
        };
    }
    lines.join("\n") + "\n"
}

#[test]
fn manifest_structured() {
    let seeds = (0u64..4).map(|i| i.to_le_bytes().to_vec()).collect();
    let valid = std::cell::Cell::new(0u64);
    let stats = fuzz_support::run(
        "manifest_structured",
        fuzz_support::budget(10.0),
        MANIFEST_BOUNDS,
        seeds,
        |bytes| {
            let seed = seed_of(bytes);
            let text = Gen::new(seed).manifest();
            let Some(old) = exercise(&text, None) else {
                return;
            };
            valid.set(valid.get() + 1);
            // The next version: its report renders, the version check agrees with the report, and the old
            // lock verifies it unless a member moved.
            let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
            let next = next_version(&mut rng, &text);
            let Ok(new) = Manifest::parse("next.toml", &next) else {
                return;
            };
            let old_side = Side {
                file: "old.toml".into(),
                source: text.clone(),
                manifest: old.clone(),
            };
            let new_side = Side {
                file: "next.toml".into(),
                source: next.clone(),
                manifest: new.clone(),
            };
            let report = breaking::compare(&old_side, &new_side);
            for level in [Level::Wire, Level::Json] {
                let _ = report.render(level);
                assert_eq!(
                    breaking::check_version(&old_side, &new_side, level).is_ok(),
                    report.version_problem(level).is_none()
                );
            }
            for change in &report.changes {
                for (span, source) in [(&change.old, &text), (&change.new, &next)] {
                    if let Some(span) = span {
                        assert!(
                            span.end <= source.len() && span.start <= span.end,
                            "{change:?}"
                        );
                    }
                }
            }
            let lock = iomod_codegen::lock::render(&old);
            if let Err(d) =
                iomod_codegen::lock::verify("next.toml", &next, &new, "iomod.lock", &lock)
            {
                let _ = d.to_string();
            }
        },
    );
    println!(
        "fuzz manifest_structured: {} of {} generated manifests were valid",
        valid.get(),
        stats.executed
    );
    fuzz_support::check("manifest_structured", &stats);
    assert!(
        valid.get() * 4 >= stats.executed,
        "most generated manifests should be valid"
    );
}

/// A sample of random valid manifests (`IOMOD_FUZZ_COMPILE`, default 2) generated, and compiled in one
/// throwaway workspace: every host skeleton natively, in one crate, and every guest crate for
/// `wasm32-unknown-unknown`, without a warning. It shares the target directory of
/// `guest_crates_build_for_both_wasm_targets` (tests/guest_build.rs), so that the dependencies build once.
#[test]
fn generated_code_of_random_manifests_compiles() {
    let count: usize = std::env::var("IOMOD_FUZZ_COMPILE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../target/fuzz-builds");
    let target_dir = here.join("../target/guest-builds/target");
    let sdk = here.join("../iomod-sdk").canonicalize().unwrap();
    let seed = fuzz_support::seed();
    println!("fuzz compile: seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let _ = std::fs::remove_dir_all(root.join("host-check/src"));
    let mut members = vec!["\"host-check\"".to_owned()];
    let mut host_lib =
        String::from("//! Host skeletons of random manifests.\n#![allow(dead_code)]\n");
    let mut sources = String::new();
    let mut n = 0;
    while n < count {
        let text = Gen::new(rng.u64(..)).manifest();
        let Ok(manifest) = Manifest::parse("random.toml", &text) else {
            continue;
        };
        let module = format!("m{n}");
        let options = Options {
            host_parent_module: vec![module.clone()],
            guest_sdk_dependency: format!("{{ path = {:?} }}", sdk.display().to_string()),
            ..Options::default()
        };
        let files = generate(&manifest, &options).unwrap();
        let guest = format!("guest-{n}");
        for (path, contents) in &files {
            if let Ok(rest) = path.strip_prefix("guest") {
                let contents = if rest == Path::new("Cargo.toml") {
                    // Two manifests may share a name: one package name per sample.
                    let start = contents.find("name = \"").unwrap();
                    let end = start + contents[start..].find('\n').unwrap();
                    format!(
                        "{}name = \"fuzz-{guest}\"{}",
                        &contents[..start],
                        &contents[end..]
                    )
                } else {
                    contents.clone()
                };
                iomod_codegen::write_if_changed(&root.join(&guest).join(rest), &contents).unwrap();
            } else if let Ok(rest) = path.strip_prefix("host") {
                iomod_codegen::write_if_changed(
                    &root.join("host-check/src").join(&module).join(rest),
                    contents,
                )
                .unwrap();
                let _ = writeln!(
                    host_lib,
                    "pub mod {module} {{\n    include!(\"{module}/{}\");\n}}",
                    rest.display()
                );
            }
        }
        members.push(format!("\"{guest}\""));
        let _ = writeln!(sources, "--- {module} ---\n{text}");
        n += 1;
    }
    std::fs::write(root.join("manifests.txt"), &sources).unwrap();
    iomod_codegen::write_if_changed(&root.join("host-check/src/lib.rs"), &host_lib).unwrap();
    iomod_codegen::write_if_changed(
        &root.join("host-check/Cargo.toml"),
        &format!(
            "[package]\nname = \"host-check\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\ncapnp = \"0.27\"\niomod-sdk = {{ path = {:?} }}\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    iomod_codegen::write_if_changed(
        &root.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .unwrap();
    // The guest builds' resolution, when there is one: the same versions, nothing to build again.
    let lock = here.join("../target/guest-builds/Cargo.lock");
    if lock.is_file() && !root.join("Cargo.lock").is_file() {
        std::fs::copy(&lock, root.join("Cargo.lock")).unwrap();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = |args: &[&str]| {
        let output = std::process::Command::new(&cargo)
            .arg("build")
            .args(args)
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stderr.contains("warning:"),
            "generated code of random manifests (in {}) did not build cleanly:\n{stderr}",
            root.join("manifests.txt").display()
        );
    };
    build(&["-p", "host-check"]);
    build(&[
        "--workspace",
        "--exclude",
        "host-check",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    println!("fuzz compile: {count} random manifests' host skeletons and guest crates compiled");
}
