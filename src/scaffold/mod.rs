//! Scaffolding (`iomod new`): a new IOmod crate, or a new function crate calling an IOmod, that build, run
//! and test as they are.
//!
//! An IOmod crate holds `iomod.toml` (one example method with a named error), the `build.rs` that
//! generates its code, `src/lib.rs` implementing the generated trait, `src/main.rs` serving it, a test
//! calling it in process, and a README. A function crate depends on an IOmod's generated guest crate
//! (`guest/`, written when the IOmod builds), and holds `function.toml`, `src/lib.rs` calling one of the
//! IOmod's methods, and a native test with an in-process stand-in for the IOmod.
//!
//! Scaffolds depend on this project's crates (`iomod-sdk`, `iomod-codegen`) as [`Crates`] says: by path
//! (a checkout), by git, or by version from crates.io. Nothing is ever overwritten: the target directory
//! must not exist or be empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

/// Where scaffolds get this project's crates from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crates {
    /// A checkout of the repository: `{ path = "<dir>/iomod-sdk" }`.
    Path(PathBuf),
    /// A git repository: `{ git = "<url>", rev = "<rev>" }` (without `rev`, its default branch).
    Git {
        /// The repository's URL.
        url: String,
        /// A commit, tag or branch.
        rev: Option<String>,
    },
    /// crates.io, at this version (`"0.1.0"`).
    Registry(String),
}

impl Crates {
    /// Reads `path:DIR`, `git:URL[#REV]`, `registry` (this tool's version) or `registry:VERSION`.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        match kind {
            "path" if !rest.is_empty() => {
                let dir = std::path::absolute(rest)
                    .with_context(|| format!("cannot resolve the path {rest}"))?;
                ensure!(
                    dir.join("iomod-sdk/Cargo.toml").is_file(),
                    "{} is not a checkout of the iomod repository (no iomod-sdk/Cargo.toml in it)",
                    dir.display()
                );
                Ok(Self::Path(dir))
            }
            "git" if !rest.is_empty() => {
                let (url, rev) = match rest.rsplit_once('#') {
                    Some((url, rev)) if !rev.is_empty() => (url, Some(rev.to_owned())),
                    _ => (rest, None),
                };
                Ok(Self::Git {
                    url: url.to_owned(),
                    rev,
                })
            }
            "registry" if rest.is_empty() => Ok(Self::Registry(env!("CARGO_PKG_VERSION").into())),
            "registry" => {
                iomod_sdk::check_version(rest).map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(Self::Registry(rest.to_owned()))
            }
            _ => bail!(
                "`{spec}`: expected path:DIR (a checkout of the iomod repository), git:URL[#REV], \
                 registry or registry:VERSION"
            ),
        }
    }

    /// The default: the checkout this tool was built from, while it exists; else crates.io at this
    /// tool's version.
    pub fn default_source() -> Self {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
        if checkout.join("iomod-sdk/Cargo.toml").is_file() {
            Self::Path(checkout.to_owned())
        } else {
            Self::Registry(env!("CARGO_PKG_VERSION").into())
        }
    }

    /// The dependency on `krate` (`iomod-sdk` or `iomod-codegen`), as a TOML value.
    pub fn dependency(&self, krate: &str) -> String {
        match self {
            Self::Path(dir) => format!(
                "{{ path = {} }}",
                toml_string(&dir.join(krate).to_string_lossy())
            ),
            Self::Git {
                url,
                rev: Some(rev),
            } => {
                format!(
                    "{{ git = {}, rev = {} }}",
                    toml_string(url),
                    toml_string(rev)
                )
            }
            Self::Git { url, rev: None } => format!("{{ git = {} }}", toml_string(url)),
            Self::Registry(version) => toml_string(version),
        }
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// What was created.
#[derive(Debug)]
pub struct Created {
    /// The new crate's directory.
    pub dir: PathBuf,
    /// Its files, relative to `dir`.
    pub files: Vec<PathBuf>,
}

/// Checks a crate name for a scaffold: lowercase words of letters and digits, joined by `-` or `_`.
fn check_name(name: &str) -> anyhow::Result<()> {
    let words_ok = name.split(['-', '_']).all(|w| {
        w.starts_with(|c: char| c.is_ascii_lowercase())
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    ensure!(
        !name.is_empty() && name.len() <= 64 && words_ok,
        "`{name}` is not a usable name: use lowercase words of letters and digits, each starting with a \
         letter, joined by `-` or `_` (for example `greeter` or `order-store`)"
    );
    Ok(())
}

fn upper_camel(name: &str) -> String {
    name.split(['-', '_'])
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Replaces each `{{key}}` of `template`.
fn render(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// Writes `files` into `dir`, which must not exist or be empty. On failure, what was written is removed.
fn write_crate(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<Created> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("{} exists and cannot be read", dir.display()))?;
        ensure!(
            entries.next().is_none(),
            "{} exists and is not empty: nothing was written",
            dir.display()
        );
    }
    let written = (|| -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for (path, text) in files {
            let file = dir.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
            written.push(PathBuf::from(path));
        }
        Ok(written)
    })();
    match written {
        Ok(files) => Ok(Created {
            dir: dir.to_owned(),
            files,
        }),
        Err(e) => {
            for (path, _) in files {
                let _ = std::fs::remove_file(dir.join(path));
            }
            Err(e)
        }
    }
}

/// Creates an IOmod crate named `name` in `dir`, with `coordinates` (default `example.demo.<name>`).
pub fn new_iomod(
    name: &str,
    dir: &Path,
    coordinates: Option<&str>,
    crates: &Crates,
) -> anyhow::Result<Created> {
    check_name(name)?;
    let coordinates = coordinates
        .map(str::to_owned)
        .unwrap_or_else(|| format!("example.demo.{name}"));
    let parsed: iomod_sdk::Coordinates = coordinates
        .parse()
        .map_err(|e| anyhow::anyhow!("coordinates `{coordinates}`: {e}"))?;
    let last = parsed.as_str().rsplit('.').next().unwrap_or(name);
    check_name(last).context("the last part of the coordinates names the generated module")?;
    let module = last.replace('-', "_");
    let values = BTreeMap::from([
        ("name", name.to_owned()),
        ("crate", name.replace('-', "_")),
        ("coordinates", coordinates.clone()),
        ("module", module.clone()),
        ("interface", upper_camel(&module)),
        ("sdk", crates.dependency("iomod-sdk")),
        ("codegen", crates.dependency("iomod-codegen")),
    ]);
    let t = |template: &str| render(template, &values);
    write_crate(
        dir,
        &[
            (
                "Cargo.toml",
                t(include_str!("templates/iomod/Cargo.toml.tmpl")),
            ),
            ("iomod.toml", t(include_str!("templates/iomod/iomod.toml"))),
            ("iomod.lock", t(include_str!("templates/iomod/iomod.lock"))),
            ("build.rs", t(include_str!("templates/iomod/build.rs"))),
            ("src/lib.rs", t(include_str!("templates/iomod/src/lib.rs"))),
            (
                "src/main.rs",
                t(include_str!("templates/iomod/src/main.rs")),
            ),
            (
                "tests/greet.rs",
                t(include_str!("templates/iomod/tests/greet.rs")),
            ),
            ("README.md", t(include_str!("templates/iomod/README.md"))),
            (".gitignore", t(include_str!("templates/iomod/gitignore"))),
        ],
    )
}

/// What `new_function` reads of an IOmod crate.
#[derive(Debug)]
struct IomodCrate {
    coordinates: String,
    version: String,
    /// The binary's name (the package's).
    binary: String,
    /// The generated guest crate's package name.
    guest: String,
    /// The method the function calls (the first in the manifest's order).
    method: String,
    /// A sample of its input and output as JSON, when every field is a scalar, list or map.
    sample_input: Option<String>,
    sample_output: Option<String>,
}

fn read_toml(path: &Path) -> anyhow::Result<toml::Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

fn package_name(cargo_toml: &Path) -> anyhow::Result<String> {
    read_toml(cargo_toml)?
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no [package] name", cargo_toml.display()))
}

impl IomodCrate {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let manifest = read_toml(&dir.join("iomod.toml"))?;
        let iomod = manifest
            .get("iomod")
            .and_then(|i| i.as_table())
            .context("iomod.toml has no [iomod] table")?;
        let text = |key: &str| {
            iomod
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .with_context(|| format!("iomod.toml has no [iomod] {key}"))
        };
        let (coordinates, version) = (text("coordinates")?, text("version")?);
        let methods = manifest
            .get("methods")
            .and_then(|m| m.as_table())
            .filter(|m| !m.is_empty())
            .context("iomod.toml declares no methods")?;
        let (method, definition) = methods.iter().next().context("no methods")?;
        let types = manifest.get("types").and_then(|t| t.as_table());
        let sample = |key: &str| {
            definition
                .get(key)
                .and_then(|t| sample_struct(t, types, 0))
                .map(|v| v.to_string())
        };
        let guest_toml = dir.join("guest/Cargo.toml");
        ensure!(
            guest_toml.is_file(),
            "{} has no generated guest crate yet: build the IOmod first (`cargo build` in {})",
            dir.display(),
            dir.display()
        );
        Ok(Self {
            coordinates,
            version,
            binary: package_name(&dir.join("Cargo.toml"))?,
            guest: package_name(&guest_toml)?,
            method: method.clone(),
            sample_input: sample("input"),
            sample_output: sample("output"),
        })
    }
}

/// A sample JSON value of a struct given inline (`{ name = "string" }`) or by name (`"Account"`, a
/// `[types.Account]` with `fields`); `None` when a field is not a scalar, list or map.
fn sample_struct(
    definition: &toml::Value,
    types: Option<&toml::Table>,
    depth: usize,
) -> Option<serde_json::Value> {
    let fields = match definition {
        toml::Value::Table(fields) => fields,
        toml::Value::String(name) if depth < 4 => {
            return types?
                .get(name)?
                .get("fields")
                .and_then(|f| sample_struct(f, types, depth + 1));
        }
        _ => return None,
    };
    let mut sample = serde_json::Map::new();
    for (field, ty) in fields {
        let ty = match ty {
            toml::Value::String(ty) => ty.as_str(),
            toml::Value::Table(t) => t.get("type")?.as_str()?,
            _ => return None,
        };
        if ty.starts_with("option<") {
            continue;
        }
        let value = match ty {
            "string" => serde_json::json!("example"),
            "bool" => serde_json::json!(true),
            "f32" | "f64" => serde_json::json!(1.5),
            t if t.starts_with("list<") || t == "bytes" => serde_json::json!([]),
            t if t.starts_with("map<") => serde_json::json!({}),
            t if t.starts_with('i') || t.starts_with('u') => {
                t[1..].parse::<u8>().ok()?;
                serde_json::json!(1)
            }
            _ => return None,
        };
        sample.insert(field.clone(), value);
    }
    Some(serde_json::Value::Object(sample))
}

/// Creates a function crate named `name` in `dir`, calling the IOmod crate at `iomod_dir` through its
/// generated guest crate.
pub fn new_function(
    name: &str,
    dir: &Path,
    iomod_dir: &Path,
    crates: &Crates,
) -> anyhow::Result<Created> {
    check_name(name)?;
    let iomod = IomodCrate::read(iomod_dir)?;
    let dir_abs = std::path::absolute(dir)?;
    let iomod_abs = std::path::absolute(iomod_dir)?;
    let relative = relative_path(&dir_abs, &iomod_abs);
    let lib = name.replace('-', "_");
    let guest_lib = iomod.guest.replace('-', "_");
    let method = &iomod.method;
    let sample_input = iomod.sample_input.clone().unwrap_or_else(|| "{}".into());
    let (stand_in_body, ok_test) = match (&iomod.sample_input, &iomod.sample_output) {
        (Some(input), Some(output)) => (
            format!(
                "        let _ = input;\n        Ok(serde_json::from_value(json!({output})).expect(\"an output of `{method}`\"))"
            ),
            format!(
                "#[test]\nfn calls_the_iomod_and_answers_its_output() {{\n    native::install(StandIn);\n    \
                     let answer = run(json!({input}));\n    assert_eq!(answer, json!({{ \"ok\": {output} }}));\n}}\n\n"
            ),
        ),
        _ => (
            "        let _ = input;\n        Err(iomod_sdk::Error::new(iomod_sdk::ErrorCode::Internal, \"the stand-in has no answer yet\").into())".to_owned(),
            String::new(),
        ),
    };
    let values = BTreeMap::from([
        ("name", name.to_owned()),
        ("lib", lib.clone()),
        ("coordinates", iomod.coordinates.clone()),
        ("version", iomod.version.clone()),
        (
            "dependency",
            iomod
                .coordinates
                .rsplit('.')
                .next()
                .unwrap_or("iomod")
                .replace('-', "_"),
        ),
        (
            "entrypoint",
            relative
                .join("target/debug")
                .join(&iomod.binary)
                .to_string_lossy()
                .into_owned(),
        ),
        ("guest_crate", iomod.guest.clone()),
        (
            "guest_path",
            relative.join("guest").to_string_lossy().into_owned(),
        ),
        ("guest_lib", guest_lib),
        ("method", method.clone()),
        ("sample_input", sample_input),
        ("stand_in_body", stand_in_body),
        ("ok_test", ok_test),
        ("sdk", crates.dependency("iomod-sdk")),
    ]);
    let t = |template: &str| render(template, &values);
    write_crate(
        dir,
        &[
            (
                "Cargo.toml",
                t(include_str!("templates/function/Cargo.toml.tmpl")),
            ),
            (
                "function.toml",
                t(include_str!("templates/function/function.toml")),
            ),
            (
                "src/lib.rs",
                t(include_str!("templates/function/src/lib.rs")),
            ),
            (
                "tests/native.rs",
                t(include_str!("templates/function/tests/native.rs")),
            ),
            (
                ".gitignore",
                t(include_str!("templates/function/gitignore")),
            ),
        ],
    )
}

/// `to` relative to the directory `from` (both absolute), through `..` where needed.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part.as_os_str());
    }
    if path.as_os_str().is_empty() {
        path.push(".");
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_sources_parse_and_render() {
        assert_eq!(
            Crates::parse("registry:1.2.3")
                .map(|c| c.dependency("iomod-sdk"))
                .ok(),
            Some("\"1.2.3\"".to_owned())
        );
        let git = Crates::parse("git:https://example.invalid/iomod.git#v0.1.0").expect("git");
        assert_eq!(
            git.dependency("iomod-sdk"),
            "{ git = \"https://example.invalid/iomod.git\", rev = \"v0.1.0\" }"
        );
        assert!(Crates::parse("registry:latest").is_err());
        assert!(Crates::parse("path:/nonexistent/iomod").is_err());
        assert!(Crates::parse("svn:x").is_err());
        let checkout = Crates::parse(concat!("path:", env!("CARGO_MANIFEST_DIR"))).expect("path");
        assert!(checkout.dependency("iomod-sdk").contains("iomod-sdk\" }"));
    }

    #[test]
    fn names_are_checked() {
        for good in ["greeter", "order-store", "s3_bucket"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Greeter",
            "1x",
            "a--b",
            "a.b",
            "a/b",
            "x_1",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(upper_camel("order_store"), "OrderStore");
    }

    #[test]
    fn samples_come_from_scalar_fields_only() {
        let manifest: toml::Table = r#"
            [types.Account]
            fields.id = "string"
            fields.balance = { type = "i64", doc = "cents" }
            fields.note = "option<string>"
            [types.Deep]
            fields.account = "Account"
        "#
        .parse()
        .expect("toml");
        let types = manifest.get("types").and_then(|t| t.as_table());
        let account = sample_struct(&toml::Value::String("Account".into()), types, 0);
        assert_eq!(
            account,
            Some(serde_json::json!({"id": "example", "balance": 1}))
        );
        assert_eq!(
            sample_struct(&toml::Value::String("Deep".into()), types, 0),
            None
        );
        assert_eq!(
            sample_struct(&toml::Value::String("Missing".into()), types, 0),
            None
        );
    }

    #[test]
    fn nothing_is_overwritten() {
        let dir = std::env::temp_dir().join(format!("iomod-scaffold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("keep.txt"), "mine").expect("file");
        let crates = Crates::Registry("0.1.0".into());
        let error = new_iomod("greeter", &dir, None, &crates).expect_err("not empty");
        assert!(error.to_string().contains("not empty"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.join("keep.txt"))
                .ok()
                .as_deref(),
            Some("mine")
        );
        let error = new_function("caller", &dir.join("f"), &dir, &crates).expect_err("no iomod");
        assert!(error.to_string().contains("iomod.toml"), "{error:#}");
        assert!(!dir.join("f").exists());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(
            relative_path(Path::new("/a/b/fn"), Path::new("/a/b/greeter")),
            PathBuf::from("../greeter")
        );
        assert_eq!(
            relative_path(Path::new("/a/x/y"), Path::new("/a/z")),
            PathBuf::from("../../z")
        );
    }
}
