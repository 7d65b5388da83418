//! IOmod coordinates (`organization.namespace.name`), method paths and versions.

use std::fmt;
use std::str::FromStr;

/// The longest identifier allowed in coordinates and method names.
pub const MAX_IDENTIFIER_LEN: usize = 64;

/// Why a string is not valid coordinates, a method path, a method name or a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{input}` is invalid: {reason}")]
pub struct ParseError {
    what: &'static str,
    input: String,
    reason: String,
}

impl ParseError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            input: input.chars().take(200).collect(),
            reason: reason.into(),
        }
    }
}

/// The name of an IOmod: three identifiers, `organization.namespace.name` (for example
/// `example.aws.dynamodb`).
///
/// Each identifier starts with a lowercase ASCII letter and continues with lowercase letters, digits, `_` or
/// `-`, at most 64 characters long.
///
/// ```
/// let c: iomod_sdk::Coordinates = "example.aws.dynamodb".parse().unwrap();
/// assert_eq!(c.name(), "dynamodb");
/// assert!("Example.aws".parse::<iomod_sdk::Coordinates>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinates {
    text: String,
    dots: [usize; 2],
}

impl Coordinates {
    /// The organization (`example` in `example.aws.dynamodb`).
    pub fn organization(&self) -> &str {
        &self.text[..self.dots[0]]
    }

    /// The namespace (`aws` in `example.aws.dynamodb`).
    pub fn namespace(&self) -> &str {
        &self.text[self.dots[0] + 1..self.dots[1]]
    }

    /// The name (`dynamodb` in `example.aws.dynamodb`).
    pub fn name(&self) -> &str {
        &self.text[self.dots[1] + 1..]
    }

    /// The coordinates as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Coordinates {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 {
            return Err(ParseError::new(
                "coordinates",
                s,
                format!(
                    "expected three dot-separated identifiers (organization.namespace.name), found {}",
                    parts.len()
                ),
            ));
        }
        for part in &parts {
            check_identifier(part, false)
                .map_err(|reason| ParseError::new("coordinates", s, reason))?;
        }
        let first = parts[0].len();
        Ok(Self {
            text: s.to_owned(),
            dots: [first, first + 1 + parts[1].len()],
        })
    }
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Checks a method name: a lowercase ASCII letter, then lowercase letters, digits and `_` (snake_case).
pub fn check_method_name(name: &str) -> Result<(), ParseError> {
    check_identifier(name, true).map_err(|reason| ParseError::new("method name", name, reason))
}

fn check_identifier(id: &str, method: bool) -> Result<(), String> {
    let mut chars = id.chars();
    match chars.next() {
        None => return Err("an identifier is empty".into()),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err(format!("`{id}` must start with a lowercase ASCII letter"));
        }
        Some(_) => {}
    }
    if id.len() > MAX_IDENTIFIER_LEN {
        return Err(format!(
            "`{id}` is longer than {MAX_IDENTIFIER_LEN} characters"
        ));
    }
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (!method && c == '-');
    if let Some(bad) = chars.find(|c| !allowed(*c)) {
        let set = if method {
            "a-z, 0-9 and _"
        } else {
            "a-z, 0-9, _ and -"
        };
        return Err(format!("`{id}` contains {bad:?}; only {set} are allowed"));
    }
    Ok(())
}

/// A method path: coordinates and a method name, `organization.namespace.name.method`.
///
/// ```
/// let p: iomod_sdk::MethodPath = "example.aws.dynamodb.put_item".parse().unwrap();
/// assert_eq!(p.coordinates().as_str(), "example.aws.dynamodb");
/// assert_eq!(p.method(), "put_item");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodPath {
    coordinates: Coordinates,
    method: String,
}

impl MethodPath {
    /// The IOmod the method belongs to.
    pub fn coordinates(&self) -> &Coordinates {
        &self.coordinates
    }

    /// The method's name.
    pub fn method(&self) -> &str {
        &self.method
    }
}

impl FromStr for MethodPath {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let Some((coordinates, method)) = s.rsplit_once('.') else {
            return Err(ParseError::new(
                "method path",
                s,
                "expected organization.namespace.name.method",
            ));
        };
        let coordinates = coordinates
            .parse()
            .map_err(|e: ParseError| ParseError::new("method path", s, e.reason))?;
        check_identifier(method, true)
            .map_err(|reason| ParseError::new("method path", s, reason))?;
        Ok(Self {
            coordinates,
            method: method.to_owned(),
        })
    }
}

impl fmt::Display for MethodPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.coordinates, self.method)
    }
}

/// Checks that `version` is a semantic version (by the rules of semver 2.0: `MAJOR.MINOR.PATCH`, numbers
/// without leading zeros, optionally followed by `-pre.release` and `+build`).
///
/// ```
/// assert!(iomod_sdk::check_version("1.2.3-beta.1+build.5").is_ok());
/// assert!(iomod_sdk::check_version("1.2").is_err());
/// ```
pub fn check_version(version: &str) -> Result<(), ParseError> {
    parse_version(version).map(|_| ())
}

/// Parses a semantic version, for comparing versions by semver's precedence rules.
///
/// ```
/// let older = iomod_sdk::parse_version("1.0.0-beta.2").unwrap();
/// let newer = iomod_sdk::parse_version("1.0.0").unwrap();
/// assert!(older < newer);
/// ```
pub fn parse_version(version: &str) -> Result<semver::Version, ParseError> {
    semver::Version::parse(version).map_err(|e| {
        ParseError::new(
            "version",
            version,
            format!("not a semantic version MAJOR.MINOR.PATCH[-PRE][+BUILD] ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_accept_and_split() {
        let c: Coordinates = "my-org.aws_2.dynamodb".parse().unwrap();
        assert_eq!(
            (c.organization(), c.namespace(), c.name()),
            ("my-org", "aws_2", "dynamodb")
        );
        assert_eq!(c.to_string(), "my-org.aws_2.dynamodb");
    }

    #[test]
    fn coordinates_reject_with_reasons() {
        for (input, needle) in [
            ("", "three dot-separated"),
            ("a.b", "found 2"),
            ("a.b.c.d", "found 4"),
            ("a..c", "empty"),
            ("A.b.c", "lowercase"),
            ("a.b.1c", "lowercase"),
            ("a.b.c d", "' '"),
            ("a.b.ünï", "ü"),
        ] {
            let err = input.parse::<Coordinates>().unwrap_err().to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
        let long = format!("a.b.{}", "x".repeat(65));
        assert!(
            long.parse::<Coordinates>()
                .unwrap_err()
                .to_string()
                .contains("longer than 64")
        );
    }

    #[test]
    fn method_paths() {
        let p: MethodPath = "example.test.echo.echo_twice".parse().unwrap();
        assert_eq!(p.method(), "echo_twice");
        assert_eq!(p.to_string(), "example.test.echo.echo_twice");
        assert!("example.test.echo".parse::<MethodPath>().is_err());
        assert!("example.test.echo.Echo".parse::<MethodPath>().is_err());
        assert!("example.test.echo.with-dash".parse::<MethodPath>().is_err());
        assert!("echo".parse::<MethodPath>().is_err());
    }

    #[test]
    fn versions() {
        for ok in [
            "0.0.0",
            "1.2.3",
            "10.20.30-rc.1",
            "1.0.0+sha.abc",
            "1.0.0-alpha-1+b.2",
        ] {
            check_version(ok).unwrap();
        }
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.x",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "99999999999999999999.0.0",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }
}
