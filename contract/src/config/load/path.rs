//! Where in a config a problem is: `tables[1].snapshot.max_interval`.

use std::fmt;

/// One step of a [`ConfigPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A mapping key (a field, or a name such as a credential profile's).
    Key(String),
    /// A position in a list.
    Index(usize),
}

/// The path of a key in the config, from the root; displayed as
/// `tables[1].snapshot.max_interval`, the root as `(root)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigPath(Vec<Segment>);

impl ConfigPath {
    /// The root of the document.
    pub fn root() -> Self {
        Self::default()
    }

    /// A path from its segments.
    pub fn from_segments(segments: Vec<Segment>) -> Self {
        Self(segments)
    }

    /// This path followed by the mapping key `key` (taken whole: a
    /// credential profile may be named `a.b`).
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    /// This path followed by list position `index`.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// This path followed by `relative`, written as displayed
    /// (`source.filters[0]`); for fixed field names only.
    pub fn join(&self, relative: &str) -> Self {
        let mut next = self.clone();
        for part in relative.split('.').filter(|p| !p.is_empty()) {
            let (key, indexes) = part
                .split_once('[')
                .map_or((part, ""), |(k, rest)| (k, rest));
            if !key.is_empty() {
                next.0.push(Segment::Key(key.to_owned()));
            }
            for index in indexes.split('[') {
                if let Ok(index) = index.trim_end_matches(']').parse() {
                    next.0.push(Segment::Index(index));
                }
            }
        }
        next
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path without its last segment (the root stays the root).
    pub fn parent(&self) -> Self {
        let mut parent = self.clone();
        parent.0.pop();
        parent
    }

    /// Whether `self` is `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &ConfigPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The path below `prefix`, if it lies there.
    pub fn strip_prefix(&self, prefix: &ConfigPath) -> Option<ConfigPath> {
        self.0
            .strip_prefix(prefix.0.as_slice())
            .map(|rest| Self(rest.to_vec()))
    }
}

impl fmt::Display for ConfigPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_as_written_and_join_back() {
        let path = ConfigPath::root()
            .key("tables")
            .index(1)
            .join("snapshot.max_interval");
        assert_eq!(path.to_string(), "tables[1].snapshot.max_interval");
        assert_eq!(
            ConfigPath::root().join("tables[1].snapshot.max_interval"),
            path
        );
        assert_eq!(ConfigPath::root().to_string(), "(root)");
        assert_eq!(ConfigPath::root().join("a[2][3]").to_string(), "a[2][3]");
        assert_eq!(
            ConfigPath::root().key("credentials").key("a.b").to_string(),
            "credentials.a.b"
        );
    }
}
