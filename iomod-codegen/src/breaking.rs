//! Breaking changes between two versions of a manifest, in the spirit of `buf breaking`: every change each
//! method's contract shows ([`iomod_sdk::contract::compare`]), plus what contracts cannot see (a method
//! removed or renamed, the coordinates), each mapped back to its place in both manifests; and the version
//! bump the changes need.
//!
//! ```
//! use iomod_codegen::{Manifest, breaking};
//!
//! let v1 = "[iomod]\ncoordinates = \"example.demo.greeter\"\nversion = \"1.0.0\"\n\n\
//!           [methods.greet]\ninput = { name = \"string\" }\noutput = { n = \"u32\" }\n";
//! let v2 = v1.replace("1.0.0", "1.1.0").replace("\"u32\"", "\"u64\"");
//! let old = breaking::Side::parse("v1/iomod.toml", v1).unwrap();
//! let new = breaking::Side::parse("v2/iomod.toml", &v2).unwrap();
//! let report = breaking::compare(&old, &new);
//! let change = &report.changes[0];
//! assert_eq!(change.category, breaking::Level::Wire);
//! assert!(change.message.contains("`u32` → `u64`"));
//! // The version must say so: a break needs a major version.
//! let problem = report.version_problem(breaking::Level::Json).unwrap();
//! assert!(problem.message.contains("needs version 2.0.0 or later"));
//! ```

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use iomod_sdk::contract::{self, Category, Contract, Subject};
use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::manifest::{Manifest, Method, TypeKind};

/// One manifest, with its name and text (for positions).
#[derive(Debug, Clone)]
pub struct Side {
    /// Its name in messages (a path, or `git:REF:path`).
    pub file: String,
    /// Its text.
    pub source: String,
    /// The parsed manifest.
    pub manifest: Manifest,
}

impl Side {
    /// Parses `source`; a manifest that does not parse gives its diagnostics.
    pub fn parse(file: &str, source: &str) -> Result<Side, Diagnostics> {
        Ok(Side {
            file: file.to_owned(),
            source: source.to_owned(),
            manifest: Manifest::parse(file, source)?,
        })
    }

    /// Reads a manifest from `spec`: a path, or `git:REF:path` (read with `git show REF:path` in the
    /// current directory's repository).
    pub fn load(spec: &str) -> Result<Side, LoadError> {
        let source = read_spec(spec)?;
        Side::parse(spec, &source).map_err(LoadError::Manifest)
    }

    /// Where `[iomod] key` is written.
    fn iomod_key(&self, key: &str) -> Option<Range<usize>> {
        let root = DeTable::parse(&self.source).ok()?;
        let root = root.into_inner();
        let iomod = root.get("iomod")?;
        let DeValue::Table(table) = iomod.get_ref() else {
            return None;
        };
        table.get(key).map(|v| v.span())
    }
}

/// Why a manifest to compare could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {spec}: {message}")]
    Read {
        /// What was asked for.
        spec: String,
        /// Why.
        message: String,
    },
    /// It is not a valid manifest (every problem is listed).
    #[error("{0}")]
    Manifest(Diagnostics),
}

/// The text of `spec`: a path, or `git:REF:path`.
pub fn read_spec(spec: &str) -> Result<String, LoadError> {
    let error = |message: String| LoadError::Read {
        spec: spec.to_owned(),
        message,
    };
    match spec.strip_prefix("git:") {
        Some(rest) => {
            let (reference, path) = rest.split_once(':').ok_or_else(|| {
                error("write git:REF:path, for example git:v1.0.0:iomod.toml".into())
            })?;
            let output = std::process::Command::new("git")
                .args(["show", &format!("{reference}:{path}")])
                .output()
                .map_err(|e| error(format!("cannot run git: {e}")))?;
            if !output.status.success() {
                return Err(error(format!(
                    "`git show {reference}:{path}` failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            String::from_utf8(output.stdout).map_err(|_| error("it is not UTF-8".into()))
        }
        None => std::fs::read_to_string(spec).map_err(|e| error(e.to_string())),
    }
}

/// How a change affects callers, as buf names its categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// An addition: both sides keep working (needs a minor version).
    Compatible,
    /// `WIRE_JSON`: the wire keeps working, JSON callers break (a rename).
    Json,
    /// `WIRE`: Cap'n Proto callers break.
    Wire,
}

impl Level {
    fn of(category: Category) -> Level {
        match category {
            Category::Compatible => Level::Compatible,
            Category::Json => Level::Json,
            Category::Wire => Level::Wire,
        }
    }

    /// The category's name in reports: `WIRE`, `WIRE_JSON` or `COMPATIBLE`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Compatible => "COMPATIBLE",
            Level::Json => "WIRE_JSON",
            Level::Wire => "WIRE",
        }
    }
}

/// One change between the two manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// How it affects callers.
    pub category: Level,
    /// What changed.
    pub message: String,
    /// Where it is in the old manifest (`None` when it is not there: an addition).
    pub old: Option<Range<usize>>,
    /// Where it is in the new manifest (`None` when it is not there: a removal).
    pub new: Option<Range<usize>>,
}

/// Every change from an old manifest to a new one.
#[derive(Debug, Clone)]
pub struct Report {
    /// The old manifest.
    pub old: Side,
    /// The new manifest.
    pub new: Side,
    /// The changes, breaking ones first (WIRE, then WIRE_JSON, then compatible), each in the new file's
    /// order.
    pub changes: Vec<Change>,
}

/// A version that does not match the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionProblem {
    /// What is wrong, and the version needed.
    pub message: String,
    /// Where `version` is written in the new manifest.
    pub span: Range<usize>,
}

/// Compares two manifests: every change, with its place in both.
pub fn compare(old: &Side, new: &Side) -> Report {
    let mut changes = Vec::new();
    let (om, nm) = (&old.manifest, &new.manifest);
    if om.coordinates != nm.coordinates {
        changes.push(Change {
            category: Level::Wire,
            message: format!(
                "the coordinates `{}` are now `{}`: callers find an IOmod by its coordinates",
                om.coordinates, nm.coordinates
            ),
            old: old.iomod_key("coordinates"),
            new: new.iomod_key("coordinates"),
        });
    }
    let mut matched_new = HashSet::new();
    for (ordinal, method) in om.methods.iter().enumerate() {
        let counterpart = nm
            .methods
            .iter()
            .find(|m| m.name == method.name)
            .or_else(|| {
                // Another name at the same ordinal, unknown to the old manifest: a rename.
                nm.methods
                    .get(ordinal)
                    .filter(|m| om.methods.iter().all(|o| o.name != m.name))
            });
        let Some(counterpart) = counterpart else {
            changes.push(Change {
                category: Level::Wire,
                message: format!("method `{}` was removed", method.name),
                old: Some(method.span.clone()),
                new: None,
            });
            continue;
        };
        matched_new.insert(counterpart.name.clone());
        let (Ok(oc), Ok(nc)) = (
            Contract::parse(&crate::method_contract(om, method)),
            Contract::parse(&crate::method_contract(nm, counterpart)),
        ) else {
            continue;
        };
        for c in contract::compare(&oc, &nc) {
            changes.push(Change {
                category: Level::of(c.category),
                old: subject_span(om, method, &c.old),
                new: subject_span(nm, counterpart, &c.new),
                message: c.message,
            });
        }
    }
    for (ordinal, method) in nm.methods.iter().enumerate() {
        if !matched_new.contains(&method.name) {
            changes.push(Change {
                category: Level::Compatible,
                message: format!("new method `{}` (ordinal {ordinal})", method.name),
                old: None,
                new: Some(method.span.clone()),
            });
        }
    }
    Report {
        old: old.clone(),
        new: new.clone(),
        changes: dedup(changes),
    }
}

/// Changes reported through several methods (a type many methods share) once.
fn dedup(changes: Vec<Change>) -> Vec<Change> {
    let mut seen = HashSet::new();
    let mut out: Vec<Change> = changes
        .into_iter()
        .filter(|c| {
            // A renamed type is reported with the place it was met first; one report is enough.
            let key = if c.message.starts_with("type `") {
                (c.category, c.old.clone(), c.new.clone(), String::new())
            } else {
                (c.category, c.old.clone(), c.new.clone(), c.message.clone())
            };
            seen.insert(key)
        })
        .collect();
    out.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.category),
            c.new.as_ref().or(c.old.as_ref()).map_or(0, |s| s.start),
        )
    });
    out
}

/// Where a contract's subject is in `m` (`method` is the method whose contract it is).
fn subject_span(m: &Manifest, method: &Method, subject: &Subject) -> Option<Range<usize>> {
    match subject {
        Subject::Absent => None,
        Subject::Method(_) => Some(method.span.clone()),
        Subject::Type(name) => type_span(m, name),
        Subject::Member { ty, name, index } => {
            let span = if let Some(def) = m.type_def(ty) {
                match &def.kind {
                    TypeKind::Struct(fields) | TypeKind::Union(fields) => fields
                        .get(*index)
                        .filter(|f| &f.name == name)
                        .map(|f| f.span.clone()),
                    TypeKind::Enum { values, .. } => values
                        .get(*index)
                        .filter(|v| &v.name == name)
                        .or_else(|| values.iter().find(|v| &v.name == name))
                        .map(|v| v.span.clone()),
                }
            } else {
                m.error_def(ty).and_then(|e| {
                    e.fields
                        .get(*index)
                        .filter(|f| &f.name == name)
                        .map(|f| f.span.clone())
                })
            };
            span.or_else(|| type_span(m, ty))
        }
        Subject::Error { name, index } => method
            .error_spans
            .get(*index)
            .filter(|_| method.errors.get(*index) == Some(name))
            .cloned()
            .or_else(|| m.error_def(name).map(|e| e.span.clone())),
    }
}

fn type_span(m: &Manifest, name: &str) -> Option<Range<usize>> {
    m.type_def(name)
        .map(|t| t.span.clone())
        .or_else(|| m.error_def(name).map(|e| e.span.clone()))
}

impl Report {
    /// The changes at `level` or above (`Level::Json`: WIRE and WIRE_JSON).
    pub fn breaking(&self, level: Level) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(move |c| c.category != Level::Compatible && c.category >= level)
    }

    /// The additions and, below `level`, the changes that do not count as breaking.
    pub fn compatible(&self, level: Level) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(move |c| c.category == Level::Compatible || c.category < level)
    }

    /// Whether the new manifest's version fits its changes (changes at `level` or above are breaking), by
    /// Cargo's semver conventions: a break needs a new major version (a new minor one for 0.x), any other
    /// change a new minor version (a new patch for 0.x).
    pub fn version_problem(&self, level: Level) -> Option<VersionProblem> {
        version_problem(self, level)
    }

    /// The report as text: the breaking changes by category, each with its place in both files, then the
    /// compatible changes, then the version's verdict.
    pub fn render(&self, level: Level) -> String {
        let mut text = String::new();
        let breaking: Vec<&Change> = self.breaking(level).collect();
        for category in [Level::Wire, Level::Json] {
            let group: Vec<&&Change> = breaking.iter().filter(|c| c.category == category).collect();
            if group.is_empty() {
                continue;
            }
            text.push_str(&format!(
                "{} ({}):\n",
                category.name(),
                match category {
                    Level::Wire => "breaks Cap'n Proto callers",
                    _ => "breaks JSON callers; the wire keeps working",
                }
            ));
            for change in group {
                text.push_str(&self.render_change(change));
            }
        }
        let compatible: Vec<&Change> = self.compatible(level).collect();
        if !compatible.is_empty() {
            text.push_str("compatible:\n");
            for change in compatible {
                let at = change
                    .new
                    .as_ref()
                    .map(|s| (&self.new, s))
                    .or(change.old.as_ref().map(|s| (&self.old, s)));
                match at {
                    Some((side, span)) => text.push_str(&format!(
                        "  {} ({})\n",
                        change.message,
                        position(side, span)
                    )),
                    None => text.push_str(&format!("  {}\n", change.message)),
                }
            }
            text.push('\n');
        }
        let (old_v, new_v) = (&self.old.manifest.version, &self.new.manifest.version);
        match self.version_problem(level) {
            Some(problem) => text.push_str(&format!(
                "version: {old_v} → {new_v}: {}\n  --> {}\n",
                problem.message,
                position(&self.new, &problem.span)
            )),
            None => text.push_str(&format!("version: {old_v} → {new_v}: fits the changes\n")),
        }
        let n = breaking.len();
        text.push_str(&format!(
            "{n} breaking change{} from {} to {}",
            if n == 1 { "" } else { "s" },
            self.old.file,
            self.new.file
        ));
        text
    }

    /// One breaking change, rendered by `annotate-snippets` with both places: the new one first.
    fn render_change(&self, change: &Change) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level as L, Renderer, Snippet};

        let level = L::ERROR.with_name(change.category.name());
        let mut group = Group::with_title(level.primary_title(change.message.as_str()));
        for (label, side, span) in [
            ("new", &self.new, &change.new),
            ("old", &self.old, &change.old),
        ] {
            group = match span {
                Some(span) => group.element(
                    Snippet::source(side.source.as_str())
                        .path(side.file.as_str())
                        .fold(true)
                        .annotation(
                            AnnotationKind::Primary
                                .span(clamp(&side.source, span))
                                .label(label),
                        ),
                ),
                None => group.element(
                    L::NOTE.message(format!("not in the {label} manifest, {}", side.file)),
                ),
            };
        }
        format!("{}\n\n", Renderer::plain().render(&[group]))
    }
}

/// `span` within `source`, on character boundaries.
fn clamp(source: &str, span: &Range<usize>) -> Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    start..fix(span.end).max(start)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Level::Json))
    }
}

/// `file:line:col` of `span` in `side`.
fn position(side: &Side, span: &Range<usize>) -> String {
    let (line, col) = side_diagnostics(side).line_col(span.start);
    format!("{}:{line}:{col}", side.file)
}

fn side_diagnostics(side: &Side) -> Diagnostics {
    Diagnostics {
        file: side.file.clone(),
        source: side.source.clone(),
        items: Vec::new(),
    }
}

fn version_problem(report: &Report, level: Level) -> Option<VersionProblem> {
    let span = report.new.iomod_key("version").unwrap_or(0..0);
    let problem = |message: String| {
        Some(VersionProblem {
            message,
            span: span.clone(),
        })
    };
    let (Ok(old), Ok(new)) = (
        iomod_sdk::parse_version(&report.old.manifest.version),
        iomod_sdk::parse_version(&report.new.manifest.version),
    ) else {
        return None;
    };
    let breaking = report.breaking(level).next().is_some();
    let changed = !report.changes.is_empty();
    let needed = if breaking {
        if old.major > 0 {
            semver::Version::new(old.major + 1, 0, 0)
        } else {
            semver::Version::new(0, old.minor + 1, 0)
        }
    } else if changed {
        if old.major > 0 {
            semver::Version::new(old.major, old.minor + 1, 0)
        } else {
            semver::Version::new(0, old.minor, old.patch + 1)
        }
    } else if new < old {
        return problem(format!(
            "version {new} is older than the previous version {old}"
        ));
    } else {
        return None;
    };
    if new >= needed {
        return None;
    }
    let (what, bump) = match (breaking, old.major > 0) {
        (true, true) => ("breaking changes", "a new major version"),
        (true, false) => (
            "breaking changes",
            "a new minor version (the major version is 0)",
        ),
        (false, true) => ("compatible changes", "a new minor version"),
        (false, false) => (
            "compatible changes",
            "a new patch version (the major version is 0)",
        ),
    };
    problem(format!(
        "{what} since version {old} need {bump}: version {new} is not enough, the manifest needs version {needed} or later"
    ))
}

impl VersionProblem {
    /// The problem as a diagnostic of the new manifest.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::new(self.span.clone(), self.message.clone()).hint(
            "see `iomod-codegen breaking NEW --against OLD` for the changes; semver: https://doc.rust-lang.org/cargo/reference/semver.html",
        )
    }
}

/// Checks the version of `new` against `previous` (changes at `level` or above are breaking): the
/// diagnostics of `new` when the version does not fit its changes.
pub fn check_version(previous: &Side, new: &Side, level: Level) -> Result<(), Diagnostics> {
    let report = compare(previous, new);
    match report.version_problem(level) {
        None => Ok(()),
        Some(problem) => Err(Diagnostics {
            file: new.file.clone(),
            source: new.source.clone(),
            items: vec![problem.diagnostic()],
        }),
    }
}
