//! Maps key paths to line/column and byte offsets to key paths, using toml_edit's span-keeping
//! parse of the same text.
//!
//! Why not `toml::Spanned<T>` on every raw field: validation needs the location of values that
//! are absent (a default that conflicts, a missing key: point at the table) and of keys inside
//! arrays of tables, and serde's own errors carry a span but no key path. One span-preserving
//! tree answers all three from the path the validator already builds.

use std::fmt;
use std::ops::Range;

use smallvec::SmallVec;
use toml_edit::{ImDocument, Item, Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// Static for the keys validation names (no allocation per checked key), owned for keys
    /// read back from the document.
    Key(std::borrow::Cow<'static, str>),
    Index(usize),
}

/// A key path such as `peers[0].hold_time`.
///
/// Validation builds one for every key it checks, about a dozen per service, nearly all
/// never used (no error there): up to four steps (`services[7].nexthops[1]`) are kept inline,
/// so building one allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FieldPath(pub SmallVec<[Seg; 4]>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(SmallVec::new())
    }

    fn with(&self, seg: Seg) -> FieldPath {
        let mut p = FieldPath(SmallVec::with_capacity(self.0.len() + 1));
        p.0.extend(self.0.iter().cloned());
        p.0.push(seg);
        p
    }

    pub fn key(&self, k: &'static str) -> FieldPath {
        self.with(Seg::Key(k.into()))
    }

    /// [`FieldPath::key`] for a name from the file (a profile's name).
    pub fn key_owned(&self, k: &str) -> FieldPath {
        self.with(Seg::Key(k.to_string().into()))
    }

    pub fn index(&self, i: usize) -> FieldPath {
        self.with(Seg::Index(i))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

pub(crate) struct Locator<'a> {
    text: &'a str,
    // Parsed on first use: most files are valid and never need a location, and a span-keeping
    // tree of a 100k-service file costs hundreds of megabytes.
    doc: std::cell::OnceCell<Option<ImDocument<&'a str>>>,
    // Byte offset of each line's start, built on first use: a file with a warning per
    // service (100k) must not count newlines from the top for each of them.
    line_starts: std::cell::OnceCell<Vec<usize>>,
    // The lean path's `[[services]]` header offsets (`fast.rs`): keys of a service are found
    // by reading its few lines, so a warning does not build the tree of a 100k-service file.
    service_starts: Option<std::rc::Rc<std::cell::RefCell<Vec<usize>>>>,
}

#[derive(Clone, Copy)]
enum Node<'d> {
    Item(&'d Item),
    Table(&'d Table),
    Value(&'d Value),
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Locator<'a> {
        Locator {
            text,
            doc: std::cell::OnceCell::new(),
            line_starts: std::cell::OnceCell::new(),
            service_starts: None,
        }
    }

    /// A locator that finds `services[i]...` from the lean reader's header offsets.
    pub fn with_service_starts(
        mut self,
        starts: std::rc::Rc<std::cell::RefCell<Vec<usize>>>,
    ) -> Locator<'a> {
        self.service_starts = Some(starts);
        self
    }

    fn doc(&self) -> Option<&ImDocument<&'a str>> {
        self.doc
            .get_or_init(|| ImDocument::parse(self.text).ok())
            .as_ref()
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // The last line start at or before `offset` (`starts[0]` is 0).
        let line = starts.partition_point(|&s| s <= offset);
        let line_start = starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, column)
    }

    /// Line and column of the value at `path`, or of the deepest part of it that exists
    /// (e.g. the `[[peers]]` header when the key is missing); 1:1 when nothing does.
    pub fn locate(&self, path: &FieldPath) -> (usize, usize) {
        if let Some(offset) = self.service_offset(path) {
            return self.line_col(offset);
        }
        self.line_col(self.span_of(path).map_or(0, |r| r.start))
    }

    /// What [`Locator::span_of`] would start at for `services[i]`, `services[i].KEY` and
    /// `services[i].KEY[j]`, read from the service's own lines (the lean path only takes
    /// tables of `KEY = value` lines): the value, the array element, or else the header.
    fn service_offset(&self, path: &FieldPath) -> Option<usize> {
        let starts = self.service_starts.as_ref()?.borrow();
        let (Seg::Key(services), Seg::Index(i)) = (path.0.first()?, path.0.get(1)?) else {
            return None;
        };
        if services != "services" {
            return None;
        }
        let start = *starts.get(*i)?;
        let header_line = self.text.get(start..)?.split_inclusive('\n').next()?;
        let header = start + (header_line.len() - header_line.trim_start().len());
        let key = match path.0.get(2) {
            None => return Some(header),
            Some(Seg::Key(k)) => k,
            Some(Seg::Index(_)) => return None,
        };
        let index = match path.0.get(3) {
            None => None,
            Some(Seg::Index(j)) if path.0.len() == 4 => Some(*j),
            Some(_) => return None,
        };
        let mut at = start + header_line.len();
        for line in self.text.get(at..)?.split_inclusive('\n') {
            if crate::fast::is_services_header(line) {
                break;
            }
            let line_at = at;
            at += line.len();
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.trim() != key.as_ref() || line.trim_start().starts_with('#') {
                continue;
            }
            let value_at = line_at + k.len() + 1 + (v.len() - v.trim_start().len());
            let Some(j) = index else {
                return Some(value_at);
            };
            // The j-th element of a one-line array of strings.
            let mut rest = v.trim_start().strip_prefix('[').unwrap_or("");
            let mut elem_at = value_at + 1;
            for n in 0.. {
                let skip = rest.len() - rest.trim_start().len();
                rest = &rest[skip..];
                elem_at += skip;
                if rest.is_empty() || rest.starts_with(']') {
                    break;
                }
                if n == j {
                    return Some(elem_at);
                }
                let Some((_, after)) = crate::fast::string(rest) else {
                    break;
                };
                elem_at += rest.len() - after.len();
                let after_ws = after.trim_start();
                elem_at += after.len() - after_ws.len();
                rest = match after_ws.strip_prefix(',') {
                    Some(r) => {
                        elem_at += 1;
                        r
                    }
                    None => after_ws,
                };
            }
            return Some(value_at);
        }
        Some(header)
    }

    fn span_of(&self, path: &FieldPath) -> Option<Range<usize>> {
        let doc = self.doc()?;
        let mut node = Node::Table(doc.as_table());
        let mut best = None;
        for seg in &path.0 {
            let next = match (node, seg) {
                (Node::Table(t), Seg::Key(k)) => t
                    .get_key_value(k.as_ref())
                    .map(|(key, it)| (Node::Item(it), it.span().or_else(|| key.span()))),
                (Node::Item(Item::Table(t)), Seg::Key(k)) => t
                    .get_key_value(k.as_ref())
                    .map(|(key, it)| (Node::Item(it), it.span().or_else(|| key.span()))),
                (Node::Item(Item::Value(Value::InlineTable(t))), Seg::Key(k))
                | (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => t
                    .get_key_value(k.as_ref())
                    .map(|(key, it)| (Node::Item(it), it.span().or_else(|| key.span()))),
                (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => {
                    a.get(*i).map(|t| (Node::Table(t), t.span()))
                }
                (Node::Item(Item::Value(Value::Array(a))), Seg::Index(i))
                | (Node::Value(Value::Array(a)), Seg::Index(i)) => {
                    a.get(*i).map(|v| (Node::Value(v), v.span()))
                }
                _ => None,
            };
            match next {
                Some((n, span)) => {
                    node = n;
                    if span.is_some() {
                        best = span;
                    }
                }
                None => break,
            }
        }
        best
    }

    /// The key path of the innermost key or value whose span holds `offset` (for serde
    /// errors, which carry a span but no path).
    pub fn path_at(&self, offset: usize) -> FieldPath {
        let mut path = FieldPath::root();
        if let Some(doc) = self.doc() {
            find_in_table(doc.as_table(), offset, &mut path);
        }
        path
    }
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|r| r.contains(&offset) || (r.is_empty() && r.start == offset))
}

fn find_in_table(t: &Table, offset: usize, path: &mut FieldPath) -> bool {
    for (k, item) in t.iter() {
        path.0.push(Seg::Key(k.to_owned().into()));
        let key_span = t.key(k).and_then(|key| key.span());
        if find_in_item(item, offset, path) || contains(key_span, offset) {
            return true;
        }
        path.0.pop();
    }
    false
}

fn find_in_item(item: &Item, offset: usize, path: &mut FieldPath) -> bool {
    match item {
        Item::Table(t) => find_in_table(t, offset, path) || contains(t.span(), offset),
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                path.0.push(Seg::Index(i));
                if find_in_table(t, offset, path) || contains(t.span(), offset) {
                    return true;
                }
                path.0.pop();
            }
            false
        }
        Item::Value(v) => find_in_value(v, offset, path),
        Item::None => false,
    }
}

fn find_in_value(v: &Value, offset: usize, path: &mut FieldPath) -> bool {
    match v {
        Value::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                path.0.push(Seg::Index(i));
                if find_in_value(e, offset, path) {
                    return true;
                }
                path.0.pop();
            }
            contains(v.span(), offset)
        }
        Value::InlineTable(t) => {
            for (k, e) in t.iter() {
                path.0.push(Seg::Key(k.to_owned().into()));
                let key_span = t.key(k).and_then(|key| key.span());
                if find_in_value(e, offset, path) || contains(key_span, offset) {
                    return true;
                }
                path.0.pop();
            }
            contains(v.span(), offset)
        }
        _ => contains(v.span(), offset),
    }
}
