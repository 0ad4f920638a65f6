//! Lambda runtime identifiers (the `Runtime` enum of the service model) and their families.

use std::fmt;

/// Every runtime identifier the Lambda API accepts, current and deprecated.
pub const KNOWN_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "nodejs26.x",
    "nodejs4.3-edge",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "java8.al2023",
    "java11.al2023",
    "java17.al2023",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "python3.15",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes AWS refuses for creating or updating a function (past their "Block function
/// update" date in AWS's runtime deprecation table, and the retired ones before them).
/// Functions already stored with one keep running; they can only be updated to another runtime.
pub const BLOCKED_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "java8",
    "python2.7",
    "python3.6",
    "python3.7",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "provided",
];

/// What kind of interpreter a runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeFamily {
    /// `python3.N`: a host `python3.N` runs Ignis's Python bootstrap.
    Python { minor: u32 },
    /// `nodejsN.x`: a host `node` of major N runs Ignis's Node.js bootstrap.
    Node { major: u32 },
    /// `provided*`: the package's own `bootstrap` executable.
    Provided,
    /// A runtime Ignis has no way to run (Java, .NET, Ruby, Go, retired ones).
    Other,
}

/// A runtime identifier that is in the service model's enum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Runtime(String);

impl Runtime {
    /// Accepts any identifier the Lambda API knows; `None` for anything else.
    pub fn parse(s: &str) -> Option<Runtime> {
        KNOWN_RUNTIMES.contains(&s).then(|| Runtime(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn family(&self) -> RuntimeFamily {
        let s = self.0.as_str();
        if let Some(Ok(minor)) = s.strip_prefix("python3.").map(str::parse) {
            return RuntimeFamily::Python { minor };
        }
        let node_major = s.strip_prefix("nodejs").and_then(|v| v.strip_suffix(".x"));
        if let Some(Ok(major)) = node_major.map(str::parse) {
            return RuntimeFamily::Node { major };
        }
        if s.starts_with("provided") {
            return RuntimeFamily::Provided;
        }
        RuntimeFamily::Other
    }

    /// Whether AWS refuses this runtime for creating or updating a function.
    pub fn is_blocked(&self) -> bool {
        BLOCKED_RUNTIMES.contains(&self.0.as_str())
    }

    /// Whether a handler string is required (every managed runtime; not `provided*`).
    pub fn needs_handler(&self) -> bool {
        self.family() != RuntimeFamily::Provided
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        let fam = |s| Runtime::parse(s).unwrap().family();
        assert_eq!(fam("python3.11"), RuntimeFamily::Python { minor: 11 });
        assert_eq!(fam("nodejs20.x"), RuntimeFamily::Node { major: 20 });
        assert_eq!(fam("provided.al2023"), RuntimeFamily::Provided);
        assert_eq!(fam("java21"), RuntimeFamily::Other);
        assert!(Runtime::parse("cobol").is_none());
    }

    #[test]
    fn blocked_runtimes_are_known_ones() {
        for r in BLOCKED_RUNTIMES {
            assert!(Runtime::parse(r).unwrap().is_blocked(), "{r}");
        }
        for r in ["python3.12", "nodejs20.x", "provided.al2023", "java8.al2"] {
            assert!(!Runtime::parse(r).unwrap().is_blocked(), "{r}");
        }
    }
}
