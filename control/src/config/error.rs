//! [`ConfigError`], and the translation of `toml`'s errors into it.
//!
//! An operator who mistypes the config must get one line that names the key and the problem.
//! `toml`'s own errors carry a message and a byte span but not the key, and display as a
//! multi-line source snippet. On the (rare) error path this module re-reads the document into a
//! small tree of keys and value spans, finds the key the span belongs to, and turns serde's
//! wording ("unknown field", "missing field", "invalid type") into the config's own wording.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Everything that can be wrong with a config file. Display is always a single line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("io: cannot read {}: {reason}", path.display())]
    Io {
        /// The path as given to [`Config::load`](super::Config::load).
        path: PathBuf,
        /// What kind of I/O failure.
        kind: std::io::ErrorKind,
        /// The OS's description, without the "(os error N)" suffix.
        reason: String,
    },
    /// The text is not valid TOML (or has a duplicate key).
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// A key or section the config does not know (often a typo).
    #[error("{}", fmt_unknown(key, *line, valid))]
    UnknownKey {
        /// Full dotted path of the unknown key, e.g. `pool.foo`.
        key: String,
        /// 1-based line of the key, when known.
        line: Option<usize>,
        /// The keys that are accepted at that place.
        valid: Vec<String>,
    },
    /// A required key or section is absent.
    #[error("{}", fmt_missing(key, *line))]
    MissingKey {
        /// Full dotted path of the missing key, e.g. `inside.device`, or the section, e.g. `pool`.
        key: String,
        /// 1-based line of the table that lacks the key, when known.
        line: Option<usize>,
    },
    /// A value has the wrong type or an unacceptable value.
    #[error("{key}: {message}{}", fmt_line(*line))]
    Invalid {
        /// Full dotted path of the key, e.g. `pool.block_size`.
        key: String,
        /// The problem, e.g. `must be between 8 and 64512 (got 3)`.
        message: String,
        /// 1-based line of the value for errors found while reading the file; `None` for
        /// errors found by semantic validation.
        line: Option<usize>,
    },
}

impl ConfigError {
    /// The dotted key the error is about (`pool.block_size`, `inside.device`, `pool.foo`), or
    /// `None` for I/O and syntax errors.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Io { .. } | ConfigError::Syntax { .. } => None,
            ConfigError::UnknownKey { key, .. }
            | ConfigError::MissingKey { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
        }
    }

    /// The 1-based line in the file the error points at, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { line, .. } => Some(*line),
            ConfigError::UnknownKey { line, .. }
            | ConfigError::MissingKey { line, .. }
            | ConfigError::Invalid { line, .. } => *line,
        }
    }

    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
            line: None,
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        let text = e.to_string();
        let reason = match text.rfind(" (os error ") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        ConfigError::Io {
            path: path.to_owned(),
            kind: e.kind(),
            reason,
        }
    }
}

fn fmt_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('.').unwrap_or(("", key))
}

fn fmt_unknown(key: &str, line: Option<usize>, valid: &[String]) -> String {
    let (table, name) = split_key(key);
    let (what, list) = if table.is_empty() {
        (format!("unknown section [{name}]"), "valid sections")
    } else {
        (format!("unknown key \"{name}\" in [{table}]"), "valid keys")
    };
    let mut s = format!("{what}{}", fmt_line(line));
    if !valid.is_empty() {
        s.push_str(&format!("; {list}: {}", valid.join(", ")));
    }
    s
}

fn fmt_missing(key: &str, line: Option<usize>) -> String {
    match split_key(key) {
        ("", name) => format!("missing required section [{name}]"),
        (table, name) => format!(
            "missing required key \"{name}\" in [{table}]{}",
            fmt_line(line)
        ),
    }
}

/// Which required keys each table has, for locating "missing field" errors in tables that have
/// no span (dotted keys such as `inside.device = "x"`). Checked against the structs by a test.
pub(crate) const REQUIRED: &[(&str, &[&str])] = &[
    ("", &["eal", "inside", "outside", "pool"]),
    ("eal", &["args"]),
    ("inside", &["device", "address"]),
    ("outside", &["device", "address"]),
    ("pool", &["prefixes"]),
];

/// Translates an error from deserializing `src` into a [`ConfigError`].
pub(crate) fn from_toml(src: &str, err: &toml::de::Error) -> ConfigError {
    let span = err.span();
    let tree = match toml::from_str::<Node>(src) {
        Ok(tree) => tree,
        // Not even a tree of keys: a syntax error (the same one `err` reports).
        Err(e) => {
            let (line, column) = e.span().or(span).map_or((1, 1), |s| line_col(src, s.start));
            return ConfigError::Syntax {
                line,
                column,
                message: tidy(e.message()),
            };
        }
    };
    let message = err.message();
    let line = span.as_ref().map(|s| line_col(src, s.start).0);
    let ticked = backticked(message);

    if let (true, Some(name)) = (message.starts_with("unknown field `"), ticked.first()) {
        let table = locate_unknown(&tree, name, span.as_ref()).unwrap_or_default();
        return ConfigError::UnknownKey {
            key: join(&table, name),
            line,
            valid: ticked[1..].to_vec(),
        };
    }
    if let (true, Some(name)) = (message.starts_with("missing field `"), ticked.first()) {
        let (table, table_span) = locate_missing(&tree, name, span.as_ref());
        let line = if table.is_empty() {
            None
        } else {
            table_span.map(|s| line_col(src, s.start).0)
        };
        return ConfigError::MissingKey {
            key: join(&table, name),
            line,
        };
    }
    let path = span
        .as_ref()
        .map(|s| tree.deepest_containing(s.start))
        .unwrap_or_default();
    ConfigError::Invalid {
        key: if path.is_empty() {
            "config".to_owned()
        } else {
            path.join(".")
        },
        message: tidy(message),
        line,
    }
}

fn join(table: &[String], name: &str) -> String {
    let mut parts: Vec<&str> = table.iter().map(String::as_str).collect();
    parts.push(name);
    parts.join(".")
}

/// 1-based (line, column) of byte offset `at`.
fn line_col(src: &str, at: usize) -> (usize, usize) {
    let at = at.min(src.len());
    let before = src.get(..at).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The `backticked` parts of a serde message, in order.
fn backticked(msg: &str) -> Vec<String> {
    msg.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// One line, in the config's vocabulary rather than Rust's.
fn tidy(msg: &str) -> String {
    let one = msg
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    one.replace("expected u16", "expected an integer between 0 and 65535")
        .replace(
            "expected u32",
            "expected an integer between 0 and 4294967295",
        )
        .replace("expected a sequence", "expected an array")
}

/// The table holding the unknown key `name`: the one whose entry `name` has its value right
/// after the error span (the span is the key's); failing that, any table with such an entry.
fn locate_unknown(tree: &Node, name: &str, span: Option<&Range<usize>>) -> Option<Vec<String>> {
    let mut found: Vec<(Vec<String>, Option<usize>)> = Vec::new();
    tree.walk_tables(&mut Vec::new(), &mut |path, _, entries| {
        for (k, v) in entries {
            if k == name {
                found.push((path.to_vec(), v.span.as_ref().map(|s| s.start)));
            }
        }
    });
    let after = span.map(|s| s.end);
    let best = found
        .iter()
        .filter_map(|(p, start)| match (after, start) {
            (Some(a), Some(s)) if *s >= a => Some((s - a, p)),
            _ => None,
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, p)| p.clone());
    best.or_else(|| found.into_iter().next().map(|(p, _)| p))
}

/// The table that lacks the required key `name`, with its span: the one whose span is the error
/// span; failing that (tables made by dotted keys have no span), a present table that requires
/// `name` and lacks it; failing that, the root.
fn locate_missing(
    tree: &Node,
    name: &str,
    span: Option<&Range<usize>>,
) -> (Vec<String>, Option<Range<usize>>) {
    if let Some(span) = span {
        let mut exact = None;
        tree.walk_tables(&mut Vec::new(), &mut |path, table, _| {
            if exact.is_none() && table.span.as_ref() == Some(span) {
                exact = Some(path.to_vec());
            }
        });
        if let Some(p) = exact {
            return (p, Some(span.clone()));
        }
    }
    for (table, keys) in REQUIRED {
        if !keys.contains(&name) {
            continue;
        }
        let path: Vec<String> = if table.is_empty() {
            Vec::new()
        } else {
            table.split('.').map(str::to_owned).collect()
        };
        if let Some(
            node @ Node {
                kind: Kind::Table(entries),
                ..
            },
        ) = tree.get(&path)
        {
            if !entries.iter().any(|(k, _)| k == name) {
                return (path, node.span.clone());
            }
        }
    }
    (Vec::new(), None)
}

// ---- a tree of keys and value spans, read with toml's span support ----

// `toml::Spanned` is requested through a struct with these reserved names; `toml` answers with
// a map of start, end and value when the item has a span, and with the plain value when it has
// none (tables made by dotted keys, datetimes). `toml::Spanned` itself rejects the latter, so
// the tree asks for spans the same way but accepts both answers.
const SPANNED_NAME: &str = "$__serde_spanned_private_Spanned";
const SPANNED_START: &str = "$__serde_spanned_private_start";
const SPANNED_END: &str = "$__serde_spanned_private_end";
const SPANNED_VALUE: &str = "$__serde_spanned_private_value";
const SPANNED_FIELDS: &[&str] = &[SPANNED_START, SPANNED_END, SPANNED_VALUE];

/// A TOML item with its byte span, if the parser reported one.
#[derive(Debug)]
struct Node {
    span: Option<Range<usize>>,
    kind: Kind,
}

/// The entries of a table, in file order.
type Entries = [(String, Node)];

#[derive(Debug)]
enum Kind {
    Table(Vec<(String, Node)>),
    Array(Vec<Node>),
    Leaf,
}

impl Node {
    fn unspanned(kind: Kind) -> Self {
        Node { span: None, kind }
    }

    fn get(&self, path: &[String]) -> Option<&Node> {
        let mut node = self;
        for k in path {
            let Kind::Table(entries) = &node.kind else {
                return None;
            };
            node = entries.iter().find(|(n, _)| n == k).map(|(_, v)| v)?;
        }
        Some(node)
    }

    /// Calls `f(path, table, entries)` for every table, the root first. Tables inside arrays
    /// have their index in the path (`timeouts.port[1]`), counted from 0.
    fn walk_tables(&self, path: &mut Vec<String>, f: &mut dyn FnMut(&[String], &Node, &Entries)) {
        match &self.kind {
            Kind::Table(entries) => {
                f(path, self, entries);
                for (k, v) in entries {
                    path.push(k.clone());
                    v.walk_tables(path, f);
                    path.pop();
                }
            }
            Kind::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    with_index(path, i, |path| v.walk_tables(path, f));
                }
            }
            Kind::Leaf => {}
        }
    }

    /// The longest key path whose value span contains `at`. Tables inside arrays have their
    /// index in the path (`timeouts.port[1].timeout`); an element of an array of plain values
    /// is reported as the array (`eal.args`).
    fn deepest_containing(&self, at: usize) -> Vec<String> {
        fn go(node: &Node, at: usize, path: &mut Vec<String>, best: &mut Vec<String>) {
            match &node.kind {
                Kind::Table(entries) => {
                    for (k, v) in entries {
                        path.push(k.clone());
                        if v.span
                            .as_ref()
                            .is_some_and(|s| s.contains(&at) || s.start == at)
                            && path.len() > best.len()
                        {
                            best.clone_from(path);
                        }
                        go(v, at, path, best);
                        path.pop();
                    }
                }
                Kind::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        with_index(path, i, |path| go(v, at, path, best));
                    }
                }
                Kind::Leaf => {}
            }
        }
        let mut best = Vec::new();
        go(self, at, &mut Vec::new(), &mut best);
        best
    }
}

/// Runs `f` with `[i]` appended to the last component of `path` (an array's key), then
/// restores it.
fn with_index(path: &mut Vec<String>, i: usize, f: impl FnOnce(&mut Vec<String>)) {
    let Some(last) = path.last_mut() else {
        return f(path);
    };
    let len = last.len();
    last.push_str(&format!("[{i}]"));
    f(path);
    if let Some(last) = path.last_mut() {
        last.truncate(len);
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, NodeVisitor)
    }
}

/// The unspanned content of an item (what a spanned item wraps).
struct Content(Kind);

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ContentVisitor).map(Content)
    }
}

macro_rules! leaf_visits {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    leaf_visits!(Kind::Leaf);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Node>()? {
            items.push(v);
        }
        Ok(Kind::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            entries.push((k, map.next_value::<Node>()?));
        }
        Ok(Kind::Table(entries))
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    leaf_visits!(Node::unspanned(Kind::Leaf));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        ContentVisitor.visit_seq(seq).map(Node::unspanned)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Node::unspanned(Kind::Table(Vec::new())));
        };
        if first != SPANNED_START {
            // An item without a span: a plain table whose first key we already hold.
            let mut entries = vec![(first, map.next_value::<Node>()?)];
            while let Some(k) = map.next_key::<String>()? {
                entries.push((k, map.next_value::<Node>()?));
            }
            return Ok(Node::unspanned(Kind::Table(entries)));
        }
        let start: usize = map.next_value()?;
        let mut end = start;
        let mut kind = Kind::Leaf;
        while let Some(k) = map.next_key::<String>()? {
            if k == SPANNED_END {
                end = map.next_value()?;
            } else if k == SPANNED_VALUE {
                kind = map.next_value::<Content>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Node {
            span: Some(start..end.max(start)),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_handles_every_table_form() {
        let src =
            "a = 1\n[t]\nb = [1, {c = 2}]\n[t.u]\nd = 1979-05-27\nx.y.z = 'q'\n[[arr]]\ne = 1\n";
        let tree: Node = toml::from_str(src).unwrap();
        let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert!(tree.get(&path("t.u.x.y.z")).is_some());
        assert!(tree.get(&path("t.b")).unwrap().span.is_some());
        let at = src.find("'q'").unwrap();
        assert_eq!(tree.deepest_containing(at), path("t.u.x.y.z"));
        // Tables inside arrays carry their index; plain array elements are the array.
        let at = src.find("e = 1").unwrap() + 4;
        assert_eq!(tree.deepest_containing(at), path("arr[0].e"));
        let at = src.find("{c = 2}").unwrap() + 5;
        assert_eq!(tree.deepest_containing(at), path("t.b[1].c"));
        let at = src.find("[1,").unwrap() + 1;
        assert_eq!(tree.deepest_containing(at), path("t.b"));
        let mut tables = Vec::new();
        tree.walk_tables(&mut Vec::new(), &mut |p, _, _| tables.push(p.join(".")));
        // (A datetime reaches serde as a one-entry table.)
        let want = [
            "", "t", "t.b[1]", "t.u", "t.u.d", "t.u.x", "t.u.x.y", "arr[0]",
        ];
        assert_eq!(tables, want);
    }

    /// `REQUIRED` must match the structs: with dotted keys the tables have no span, so a
    /// missing key can only be located through it.
    #[test]
    fn required_table_matches_the_structs() {
        let doc = "eal.args = [\"--no-huge\"]\n\
                   inside.device = \"a\"\n\
                   inside.address = \"100.64.0.1/10\"\n\
                   outside.device = \"b\"\n\
                   outside.address = \"198.51.100.1/24\"\n\
                   pool.prefixes = [\"203.0.113.0/24\"]\n\
                   pool.block_size = 512\n";
        super::super::Config::from_toml_str(doc).unwrap();
        for (table, keys) in REQUIRED {
            for key in *keys {
                let (prefix, want) = if table.is_empty() {
                    (format!("{key}."), (*key).to_owned())
                } else {
                    (format!("{table}.{key} ="), format!("{table}.{key}"))
                };
                let text: String = doc
                    .lines()
                    .filter(|l| !l.starts_with(&prefix))
                    .map(|l| format!("{l}\n"))
                    .collect();
                // A table whose only key was removed is gone altogether.
                let want = if text.contains(&format!("{table}.")) || table.is_empty() {
                    want
                } else {
                    (*table).to_owned()
                };
                let e = super::super::Config::from_toml_str(&text).unwrap_err();
                assert!(matches!(e, ConfigError::MissingKey { .. }), "{e}");
                assert_eq!(e.key(), Some(want.as_str()), "{e}");
            }
        }
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd\n", 0), (1, 1));
        assert_eq!(line_col("ab\ncd\n", 4), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn tidy_is_one_line() {
        assert_eq!(
            tidy("invalid table header\nexpected `.`, `]`\n"),
            "invalid table header; expected `.`, `]`"
        );
        assert_eq!(
            tidy("invalid value: integer `70000`, expected u16"),
            "invalid value: integer `70000`, expected an integer between 0 and 65535"
        );
    }
}
