//! The lean path for large files: the `[[services]]` tables read line by line, one service at a
//! time, without a document tree.
//!
//! A file of 100k services is almost all `[[services]]` tables of `key = value` lines. Parsed as
//! one TOML document it costs a tree of every key, value and span plus serde's copy of it, about
//! 900 MB at its peak for 21 MB of text, most of the time spent in the allocator. Here the part
//! before the first `[[services]]` line (`[global]`, `[[peers]]`) still goes through `toml`,
//! and each following service becomes a [`RawService`] that validation turns into a
//! [`crate::Service`] before the next one is read.
//!
//! The line reader only accepts forms whose meaning is plain: a bare known key, `=`, then a
//! basic string without escapes, a literal string, a decimal integer or a one-line array of
//! such strings, each optionally followed by a comment. Anything else (a
//! `[services.health]` table, a multi-line array, an escape, a repeated key, a type serde
//! would refuse) gives up, and so does any error found by validation: the file is then parsed
//! again as one document by the general path, so every error message and location is the one
//! that path has always given. A line split that falls inside a multi-line construct leaves
//! the part before it unterminated, so `toml` refuses that part and the general path runs.

use std::cell::RefCell;
use std::rc::Rc;

use crate::raw::{Int, RawHealth, RawService};

/// `text` split before its first `[[services]]` header line: the head (global and peers, for
/// `toml`) and a reader of the services from that line on. `None` when there is no such line.
pub(crate) fn split(text: &str) -> Option<(&str, ServiceLines<'_>)> {
    let mut offset = 0;
    for line in Lines(text) {
        if is_services_header(line) {
            let (head, rest) = text.split_at(offset);
            return Some((
                head,
                ServiceLines {
                    lines: Lines(&rest[line.len()..]),
                    pos: offset + line.len(),
                    starts: Rc::new(RefCell::new(vec![offset])),
                    in_table: true,
                    gave_up: false,
                    // An estimate, so that the list of services is allocated once.
                    expected: rest.matches("[[services]]").count(),
                },
            ));
        }
        offset += line.len();
    }
    None
}

/// One `[[services]]` table as written, borrowed from the file's text (the lean reader makes
/// one without allocating) or from a [`RawService`]: what validation reads.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ServiceFields<'a> {
    pub name: Option<&'a str>,
    pub prefix: Option<&'a str>,
    pub nexthops: Option<StrList<'a>>,
    pub communities: Option<StrList<'a>>,
    pub large_communities: Option<StrList<'a>>,
    pub med: Option<i64>,
    pub local_pref: Option<i64>,
    pub as_path_prepend: Option<i64>,
    pub weight: Option<i64>,
    pub peers: Option<StrList<'a>>,
    /// Only the document path reads `[services.health]`.
    pub health: Option<&'a RawHealth>,
}

impl<'a> ServiceFields<'a> {
    /// The same fields with a shorter lifetime (what a `dyn Iterator` of them cannot give by
    /// itself when chained with fields borrowed for less).
    pub(crate) fn shorter<'b>(self) -> ServiceFields<'b>
    where
        'a: 'b,
    {
        self
    }
}

impl RawService {
    /// The fields of this service, borrowed.
    pub(crate) fn fields(&self) -> ServiceFields<'_> {
        fn list(l: &Option<Vec<String>>) -> Option<StrList<'_>> {
            l.as_deref().map(StrList::Owned)
        }
        ServiceFields {
            name: self.name.as_deref(),
            prefix: self.prefix.as_deref(),
            nexthops: list(&self.nexthops),
            communities: list(&self.communities),
            large_communities: list(&self.large_communities),
            med: self.med.map(Int::get),
            local_pref: self.local_pref.map(Int::get),
            as_path_prepend: self.as_path_prepend.map(Int::get),
            weight: self.weight.map(Int::get),
            peers: list(&self.peers),
            health: self.health.as_ref(),
        }
    }
}

/// A list of strings: owned by a [`RawService`], or the inside of a one-line array in the
/// text (`"self", "10.0.0.1"`), checked once by the lean reader and read again on demand.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StrList<'a> {
    Owned(&'a [String]),
    Lean { inner: &'a str, len: usize },
}

impl<'a> StrList<'a> {
    pub fn len(&self) -> usize {
        match self {
            StrList::Owned(l) => l.len(),
            StrList::Lean { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> StrListIter<'a> {
        match *self {
            StrList::Owned(l) => StrListIter::Owned(l.iter()),
            StrList::Lean { inner, .. } => StrListIter::Lean(inner),
        }
    }
}

/// The items of a [`StrList`], in order.
pub(crate) enum StrListIter<'a> {
    Owned(std::slice::Iter<'a, String>),
    Lean(&'a str),
}

impl<'a> Iterator for StrListIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            StrListIter::Owned(it) => it.next().map(String::as_str),
            StrListIter::Lean(rest) => {
                let (item, after) = next_item(rest)?;
                *rest = after;
                Some(item)
            }
        }
    }
}

/// The first string of the inside of a one-line array and what follows its comma; `None` at
/// the end or at anything that is not a plain string.
fn next_item(inner: &str) -> Option<(&str, &str)> {
    let inner = trim_blank_start(inner);
    if inner.is_empty() {
        return None;
    }
    let (item, rest) = string(inner)?;
    let rest = trim_blank_start(rest);
    match rest.strip_prefix(',') {
        Some(r) => Some((item, r)),
        None if rest.is_empty() => Some((item, rest)),
        None => None,
    }
}

/// The services after the head, one [`ServiceFields`] per `[[services]]` table. Stops early,
/// with [`ServiceLines::gave_up`] set, at the first line it does not take.
pub(crate) struct ServiceLines<'a> {
    lines: Lines<'a>,
    /// Byte offset of the next line in the whole text.
    pos: usize,
    /// Byte offset of each `[[services]]` header line read so far, by service index: the
    /// locator finds a service's keys from these (see [`ServiceLines::starts`]).
    starts: Rc<RefCell<Vec<usize>>>,
    /// A header has been read and its table not returned yet.
    in_table: bool,
    gave_up: bool,
    expected: usize,
}

impl ServiceLines<'_> {
    /// True when a line was not of the plain forms: what was read must not be used.
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// Where each service's header line starts, filled in as the services are read.
    pub fn starts(&self) -> Rc<RefCell<Vec<usize>>> {
        self.starts.clone()
    }
}

impl<'a> Iterator for ServiceLines<'a> {
    type Item = ServiceFields<'a>;

    fn next(&mut self) -> Option<ServiceFields<'a>> {
        if self.gave_up || !self.in_table {
            return None;
        }
        let mut service = ServiceFields::default();
        for line in self.lines.by_ref() {
            let at = self.pos;
            self.pos += line.len();
            let trimmed = trim_line(line);
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if is_services_header(line) {
                self.starts.borrow_mut().push(at);
                return Some(service);
            }
            let taken = match split_at_byte(trimmed, b'=') {
                Some((key, value)) if !trimmed.starts_with('[') => {
                    Value::parse(trim_blank_start(value))
                        .and_then(|v| set(&mut service, trim_blank_end(key), v))
                }
                _ => None,
            };
            if taken.is_none() {
                self.gave_up = true;
                return None;
            }
        }
        self.in_table = false;
        Some(service)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.expected))
    }
}

/// The lines of a text, each with its `\n` (as `str::split_inclusive('\n')`).
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() {
            return None;
        }
        let end = self
            .0
            .bytes()
            .position(|b| b == b'\n')
            .map_or(self.0.len(), |i| i + 1);
        let (line, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(line)
    }
}

/// `s` split around the first `byte` (an ASCII byte, so both halves are `str`s).
fn split_at_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == byte)?;
    Some((&s[..i], &s[i + 1..]))
}

/// TOML's whitespace: space and tab (TOML 1.0, "Whitespace"). Anything else around a key or
/// a value makes the reader give up, and toml decides.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_blank_start(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| is_blank(b)).count();
    &s[n..]
}

fn trim_blank_end(s: &str) -> &str {
    let n = s.bytes().rev().take_while(|&b| is_blank(b)).count();
    &s[..s.len() - n]
}

/// A line without its newline (`\n` or `\r\n`) and the blanks around it.
fn trim_line(line: &str) -> &str {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    trim_blank_end(trim_blank_start(line))
}

/// `[[services]]`, alone on its line but for blanks and a comment.
pub(crate) fn is_services_header(line: &str) -> bool {
    line.trim_start()
        .strip_prefix("[[services]]")
        .is_some_and(|rest| {
            let rest = rest.trim();
            rest.is_empty() || rest.starts_with('#')
        })
}

/// A value of a form the line reader takes.
enum Value<'a> {
    Str(&'a str),
    Int(i64),
    List(StrList<'a>),
}

impl<'a> Value<'a> {
    fn parse(s: &'a str) -> Option<Value<'a>> {
        if let Some(after) = s.strip_prefix('[') {
            let (inner, rest) = split_at_byte(after, b']')?;
            if !is_end(rest) {
                return None;
            }
            // Checked here once; validation reads it again without allocating.
            let mut len = 0;
            let mut left = inner;
            while !trim_blank_start(left).is_empty() {
                left = next_item(left)?.1;
                len += 1;
            }
            return Some(Value::List(StrList::Lean { inner, len }));
        }
        if s.starts_with('"') || s.starts_with('\'') {
            let (v, rest) = string(s)?;
            return is_end(rest).then_some(Value::Str(v));
        }
        let v = trim_blank_end(split_at_byte(s, b'#').map_or(s, |(v, _)| v));
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        // TOML: decimal digits, no leading zero; underscores and other bases are left to toml.
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if plain {
            return v.parse().ok().map(Value::Int);
        }
        None
    }
}

/// A basic string without escapes or a literal string at the start of `s`; the rest after it.
pub(crate) fn string(s: &str) -> Option<(&str, &str)> {
    let quote = *s
        .as_bytes()
        .first()
        .filter(|c| **c == b'"' || **c == b'\'')?;
    let (v, rest) = split_at_byte(&s[1..], quote)?;
    // Escapes, control characters and multi-line strings (`"""`, `'''`) go to toml.
    if v.is_empty() && rest.as_bytes().first() == Some(&quote) {
        return None;
    }
    // Printable ASCII (and tabs) is plain; anything else is looked at character by character.
    let plain_ascii = v
        .bytes()
        .all(|b| b == b'\t' || ((0x20..0x7f).contains(&b) && b != b'\\'));
    if !plain_ascii
        && v.chars()
            .any(|c| c == '\\' || (c.is_control() && c != '\t'))
    {
        return None;
    }
    Some((v, rest))
}

/// Nothing but blanks and a comment.
fn is_end(rest: &str) -> bool {
    let rest = trim_blank_start(rest);
    rest.is_empty() || rest.starts_with('#')
}

/// Sets `key` of `s`; `None` for an unknown or repeated key or a value of the wrong type.
fn set<'a>(s: &mut ServiceFields<'a>, key: &str, value: Value<'a>) -> Option<()> {
    fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(v);
        Some(())
    }
    match (key, value) {
        ("name", Value::Str(v)) => once(&mut s.name, v),
        ("prefix", Value::Str(v)) => once(&mut s.prefix, v),
        ("nexthops", Value::List(v)) => once(&mut s.nexthops, v),
        ("communities", Value::List(v)) => once(&mut s.communities, v),
        ("large_communities", Value::List(v)) => once(&mut s.large_communities, v),
        ("peers", Value::List(v)) => once(&mut s.peers, v),
        ("med", Value::Int(v)) => once(&mut s.med, v),
        ("local_pref", Value::Int(v)) => once(&mut s.local_pref, v),
        ("as_path_prepend", Value::Int(v)) => once(&mut s.as_path_prepend, v),
        ("weight", Value::Int(v)) => once(&mut s.weight, v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(text: &str) -> Option<(String, Vec<ServiceFields<'_>>)> {
        let (head, mut lines) = split(text)?;
        let list: Vec<ServiceFields<'_>> = lines.by_ref().collect();
        (!lines.gave_up()).then(|| (head.to_owned(), list))
    }

    fn items<'a>(l: Option<StrList<'a>>) -> Option<Vec<&'a str>> {
        l.map(|l| l.iter().collect())
    }

    #[test]
    fn reads_plain_services() {
        let text =
            "[global]\nasn = 1\n\n[[services]] # web\nname = \"web\"\nprefix = '192.0.2.1/32'\n\
                    nexthops = [\"self\", \"10.0.0.1\",] # two\nmed = 10\n\n[[services]]\n\
                    prefix = \"192.0.2.2/32\"\npeers = []\n";
        let (head, list) = services(text).unwrap();
        assert_eq!(head, "[global]\nasn = 1\n\n");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, Some("web"));
        assert_eq!(list[0].prefix, Some("192.0.2.1/32"));
        assert_eq!(items(list[0].nexthops), Some(vec!["self", "10.0.0.1"]));
        assert_eq!(list[0].nexthops.map(|l| l.len()), Some(2));
        assert_eq!(list[0].med, Some(10));
        assert_eq!(list[1].prefix, Some("192.0.2.2/32"));
        assert_eq!(items(list[1].peers), Some(vec![]));
    }

    /// The lean path gives what the document path gives: services, defaults and warnings.
    #[test]
    fn same_config_as_the_document_path() {
        let text = "[global]\nasn = 65001\nrouter_id = \"10.0.0.1\"\nlisten = []\n\n\
                    [[peers]]\nname = \"a\"\naddress = \"10.0.0.2\"\nasn = 65002\n\n\
                    [[peers]]\naddress = \"2001:db8::2\"\nasn = 65003\n\n\
                    [[services]]\nname = \"web\"\nprefix = \"192.0.2.1/32\"\n\
                    nexthops = [\"self\", \"10.0.0.9\"]\ncommunities = [\"65001:1\", \"no-export\"]\n\
                    large_communities = ['65001:1:1']\nmed = 0\nlocal_pref = 200\n\
                    as_path_prepend = 2\npeers = [\"a\"] # only a\n\n\
                    # a comment\n[[services]]\nprefix = \"2001:db8::10/128\"\n";
        let lean = crate::validate::parse_lean(text, "t.toml", &crate::host::TestHost)
            .expect("the lean path");
        let document =
            crate::validate::parse_document(text, "t.toml", &crate::host::TestHost).unwrap();
        assert_eq!(lean, document);
        assert_eq!(lean.services.len(), 2);
        assert!(
            !lean.warnings.is_empty(),
            "local_pref without iBGP peer warns"
        );
    }

    /// Locations read from the services' own lines are the ones the document tree gives.
    #[test]
    fn lean_locations_match_the_document() {
        use crate::locate::{FieldPath, Locator};
        let text =
            "[global]\nasn = 1\n\n[[services]]\nname = \"a\"\n  prefix  =   \"192.0.2.1/32\" # x\n\
                    nexthops = [ \"self\" ,\"10.0.0.1\",  '10.0.0.2' ]\n\n  [[services]]\n\
                    med=5\npeers = []\n# nexthops = [\"x\"]\n[[services]]\n";
        let (_, mut lines) = split(text).unwrap();
        let n = lines.by_ref().count();
        assert!(!lines.gave_up());
        assert_eq!(n, 3);
        let lean = Locator::new(text).with_service_starts(lines.starts());
        let document = Locator::new(text);
        let s = |i| FieldPath::root().key("services").index(i);
        for path in [
            s(0),
            s(0).key("name"),
            s(0).key("prefix"),
            s(0).key("nexthops"),
            s(0).key("nexthops").index(0),
            s(0).key("nexthops").index(1),
            s(0).key("nexthops").index(2),
            s(0).key("nexthops").index(3),
            s(0).key("med"),
            s(1),
            s(1).key("med"),
            s(1).key("peers"),
            s(1).key("peers").index(0),
            s(1).key("nexthops"),
            s(2),
            s(2).key("prefix"),
        ] {
            assert_eq!(lean.locate(&path), document.locate(&path), "{path}");
        }
    }

    /// `services` in the head makes the whole file invalid: the lean path must not take it.
    #[test]
    fn services_in_the_head_is_left_to_toml() {
        let text = "services = []\n[global]\nasn = 65001\nrouter_id = \"10.0.0.1\"\n\
                    listen = []\n\n[[services]]\nprefix = \"192.0.2.1/32\"\n";
        assert!(crate::validate::parse_lean(text, "t.toml", &crate::host::TestHost).is_none());
        assert!(crate::Config::parse(text, "t.toml", &crate::host::TestHost).is_err());
    }

    #[test]
    fn an_empty_last_table_is_a_service() {
        let (_, list) = services("[[services]]\n").unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].prefix.is_none());
    }

    #[test]
    fn gives_up_on_anything_not_plain() {
        for text in [
            "[[services]]\nprefix = \"a\"\n[services.health]\ntype = \"tcp\"\n",
            "[[services]]\nprefix = \"a\\u0041\"\n",
            "[[services]]\nprefix = \"\"\"a\"\"\"\n",
            "[[services]]\nprefix = \"a\"\nprefix = \"b\"\n",
            "[[services]]\nmed = \"10\"\n",
            "[[services]]\nmed = 010\n",
            "[[services]]\nmed = 1_000\n",
            "[[services]]\nbogus = 1\n",
            "[[services]]\nnexthops = [\n\"self\"]\n",
            "[[services]]\nprefix = \"a\" \"b\"\n",
            "[[services]]\nhealth.type = \"tcp\"\n",
            "[[services]]\n[global]\n",
            // Only space and tab are TOML whitespace; a lone CR is not a newline.
            "[[services]]\nprefix = \"a\"\u{a0}\n",
            "[[services]]\n\u{2003}prefix = \"a\"\n",
            "[[services]]\nprefix = \"a\"\r\n\r",
            "[[services]]\nprefix = \"a\"\rmed = 1\n",
            "[[services]]\npeers = [\"a\" \"b\"]\n",
            "[[services]]\npeers = [\"a\",, \"b\"]\n",
        ] {
            assert!(services(text).is_none(), "{text:?}");
        }
        assert!(split("[global]\nasn = 1\n").is_none());
    }

    #[test]
    fn crlf_lines_are_plain() {
        let (_, list) =
            services("[[services]]\r\nprefix = \"a\"\r\nnexthops = ['self', \"b\"]\r\n").unwrap();
        assert_eq!(list[0].prefix, Some("a"));
        assert_eq!(items(list[0].nexthops), Some(vec!["self", "b"]));
    }

    proptest::proptest! {
        /// Whatever the lean reader takes, it reads as the document path does; whatever it
        /// gives up on (or finds wrong), the document path decides. Random services with the
        /// forms a user writes: both quote styles, comments, blank lines, shuffled keys, and
        /// now and then a form the lean reader must refuse (escapes, inline tables, bad
        /// values).
        #[test]
        fn lean_and_document_paths_agree(
            services in proptest::collection::vec(
                (
                    0u8..=255,
                    proptest::collection::vec(0usize..9, 0..9),
                    proptest::bool::ANY,
                    0u8..12,
                ),
                1..12,
            ),
        ) {
            let mut text = String::from(
                "[global]\nasn = 65001\nrouter_id = \"10.0.0.1\"\nlisten = []\n\n\
                 [[peers]]\nname = \"a\"\naddress = \"10.0.0.2\"\nasn = 65002\n",
            );
            for (i, (octet, keys, single, odd)) in services.iter().enumerate() {
                let q = |v: &str| if *single { format!("'{v}'") } else { format!("\"{v}\"") };
                text.push_str("\n[[services]]");
                if *odd == 0 {
                    text.push_str(" # a comment on the header");
                }
                text.push('\n');
                text.push_str(&format!("prefix = {}\n", q(&format!("198.51.{i}.{octet}/32"))));
                for k in keys {
                    let line = match k {
                        0 => format!("name = {}", q(&format!("svc-{i}-{octet}"))),
                        1 => format!("nexthops = [{}, {}]", q("self"), q("10.0.0.9")),
                        2 => format!("communities = [{}]  # trailing", q("65001:7")),
                        3 => format!("large_communities = [{}]", q("65001:1:7")),
                        4 => format!("med = {octet}"),
                        5 => format!("as_path_prepend = {}", octet % 4),
                        6 => format!("peers = [{}]", q("a")),
                        7 => String::new(),
                        _ => "# only a comment".to_string(),
                    };
                    text.push_str(&line);
                    text.push('\n');
                }
                match odd {
                    1 => text.push_str("local_pref = 200\n"),
                    2 => text.push_str("communities = [\"bad\\tescape\"]\n"),
                    3 => text.push_str("med = { value = 1 }\n"),
                    4 => text.push_str("med = -3\n"),
                    5 => text.push_str("peers = [\"nobody\"]\n"),
                    _ => {}
                }
            }
            let document = crate::validate::parse_document(&text, "t.toml", &crate::host::TestHost);
            if let Some(lean) = crate::validate::parse_lean(&text, "t.toml", &crate::host::TestHost) {
                proptest::prop_assert_eq!(Some(&lean), document.as_ref().ok(), "{}", text);
            }
            // And the public entry point gives exactly what the document path gives.
            let parsed = crate::validate::parse(&text, "t.toml", &crate::host::TestHost);
            proptest::prop_assert_eq!(
                parsed.as_ref().map_err(ToString::to_string),
                document.as_ref().map_err(ToString::to_string),
                "{}",
                text
            );
        }
    }
}
