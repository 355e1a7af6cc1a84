//! `google.api.http` path templates: parsing, matching a request path, percent-decoding the
//! captured values, and the specificity order the route table sorts by.
//!
//! Grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! `{x}` is `{x=*}`. `**` may appear once, as the last segment. A `*` matches one non-empty
//! path segment, `**` zero or more. Values of single-segment variables are fully
//! percent-decoded; values spanning several segments keep `%2F` encoded, so a `/` inside a
//! segment stays distinguishable from a separator.

use std::cmp::Ordering;

/// One segment of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Must equal the request segment (after percent-decoding).
    Literal(String),
    /// `*`: exactly one non-empty segment.
    Single,
    /// `**`: every remaining segment (zero or more); always last.
    Multi,
}

/// A `{field.path=...}` capture: the template segments `start..end` it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    /// The dotted field path, split on `.`.
    pub(crate) field_path: Vec<String>,
    /// First template segment covered.
    pub(crate) start: usize,
    /// One past the last template segment covered.
    pub(crate) end: usize,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    pub(crate) segments: Vec<Segment>,
    pub(crate) variables: Vec<Variable>,
    pub(crate) verb: Option<String>,
}

/// Where a variable's value lies in the request path: segment indexes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capture {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// A request path split for matching: the segments (still percent-encoded) with the text after
/// the last segment's final `:` kept aside, because a route may read it as a verb.
#[derive(Debug)]
pub(crate) struct SplitPath<'a> {
    segments: Vec<&'a str>,
    /// `(last segment without the verb, verb)` when the last segment contains a `:`.
    verb_split: Option<(&'a str, &'a str)>,
}

impl<'a> SplitPath<'a> {
    /// Splits an absolute path (no query). `None` when it does not start with `/`.
    pub(crate) fn new(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let segments: Vec<&str> = rest.split('/').collect();
        let verb_split = segments.last().and_then(|last| last.rsplit_once(':'));
        Some(Self {
            segments,
            verb_split,
        })
    }

    /// The raw (still encoded) segments `start..end` joined with `/`.
    fn joined(&self, capture: Capture, strip_verb: bool) -> String {
        let mut out = String::new();
        for index in capture.start..capture.end {
            if index > capture.start {
                out.push('/');
            }
            out.push_str(self.segment(index, strip_verb));
        }
        out
    }

    fn segment(&self, index: usize, strip_verb: bool) -> &'a str {
        match (strip_verb, self.verb_split) {
            (true, Some((head, _))) if index + 1 == self.segments.len() => head,
            _ => self.segments.get(index).copied().unwrap_or_default(),
        }
    }
}

/// Why a template did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TemplateError(String);

fn err<T>(message: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(message.into()))
}

/// A captured value that could not be percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("invalid percent-encoding")]
    Escape,
    #[error("percent-decoded value is not UTF-8")]
    Utf8,
}

impl PathTemplate {
    /// Parses `template` (see the module doc for the grammar).
    pub(crate) fn parse(template: &str) -> Result<Self, TemplateError> {
        let Some(body) = template.strip_prefix('/') else {
            return err("must start with '/'");
        };
        let mut parser = Parser {
            input: body.as_bytes(),
            pos: 0,
            segments: Vec::new(),
            variables: Vec::new(),
        };
        parser.segments(false)?;
        let verb = if parser.eat(b':') {
            let verb = parser.literal()?;
            Some(verb)
        } else {
            None
        };
        if parser.pos != parser.input.len() {
            return err(format!("unexpected character at offset {}", parser.pos + 1));
        }
        let Parser {
            segments,
            variables,
            ..
        } = parser;
        if let Some(index) = segments.iter().position(|s| *s == Segment::Multi)
            && index + 1 != segments.len()
        {
            return err("'**' must be the last segment");
        }
        for (i, var) in variables.iter().enumerate() {
            if variables[..i]
                .iter()
                .any(|v| v.field_path == var.field_path)
            {
                return err(format!(
                    "variable `{}` bound twice",
                    var.field_path.join(".")
                ));
            }
        }
        Ok(Self {
            segments,
            variables,
            verb,
        })
    }

    /// Matches a split request path; on success, one [`Capture`] per variable, in order.
    pub(crate) fn matches(&self, path: &SplitPath<'_>) -> Option<Vec<Capture>> {
        let strip_verb = match (&self.verb, path.verb_split) {
            (Some(verb), Some((_, given))) if verb == given => true,
            (Some(_), _) => return None,
            (None, _) => false,
        };
        let count = path.segments.len();
        let multi = self.segments.last() == Some(&Segment::Multi);
        let fixed = self.segments.len() - usize::from(multi);
        if count < fixed || (!multi && count != fixed) {
            return None;
        }
        for index in 0..count {
            let raw = path.segment(index, strip_verb);
            if raw.is_empty() {
                return None;
            }
            match self.segments.get(index) {
                Some(Segment::Literal(literal)) if !literal_eq(literal, raw) => return None,
                _ => {}
            }
        }
        Some(
            self.variables
                .iter()
                .map(|var| {
                    let end = if var.end == self.segments.len() && multi {
                        count
                    } else {
                        var.end
                    };
                    Capture {
                        start: var.start,
                        end,
                    }
                })
                .collect(),
        )
    }

    /// Percent-decodes the value of variable `index` captured at `capture`.
    pub(crate) fn decode(
        &self,
        index: usize,
        path: &SplitPath<'_>,
        capture: Capture,
    ) -> Result<String, DecodeError> {
        let single = self.variables.get(index).is_some_and(|v| {
            v.end == v.start + 1 && self.segments.get(v.start) == Some(&Segment::Single)
        });
        let raw = path.joined(capture, self.verb.is_some());
        percent_decode(&raw, !single)
    }

    /// The order the route table tries templates in: a template with a verb first; then,
    /// segment by segment from the left, a literal before `*` before `**`; then the shorter
    /// template. Two templates comparing `Equal` with the same literals match the same paths.
    pub(crate) fn specificity(&self, other: &Self) -> Ordering {
        let rank = |s: &Segment| match s {
            Segment::Literal(_) => 0u8,
            Segment::Single => 1,
            Segment::Multi => 2,
        };
        self.verb
            .is_none()
            .cmp(&other.verb.is_none())
            .then_with(|| {
                self.segments
                    .iter()
                    .map(rank)
                    .cmp(other.segments.iter().map(rank))
            })
    }

    /// True when both templates match exactly the same paths (same literals, wildcards, verb).
    pub(crate) fn same_shape(&self, other: &Self) -> bool {
        self.segments == other.segments && self.verb == other.verb
    }
}

fn literal_eq(literal: &str, raw: &str) -> bool {
    literal == raw
        || (raw.contains('%') && percent_decode(raw, false).is_ok_and(|decoded| decoded == literal))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `Segments`, stopping before `}` (inside a variable) or `:` / end (at the top).
    fn segments(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        loop {
            self.segment(in_variable)?;
            if !self.eat(b'/') {
                return Ok(());
            }
        }
    }

    fn segment(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                if self.eat(b'*') {
                    self.segments.push(Segment::Multi);
                } else {
                    self.segments.push(Segment::Single);
                }
                Ok(())
            }
            Some(b'{') if !in_variable => self.variable(),
            Some(b'{') => err("variables cannot be nested"),
            _ => {
                let literal = self.literal()?;
                self.segments.push(Segment::Literal(literal));
                Ok(())
            }
        }
    }

    fn variable(&mut self) -> Result<(), TemplateError> {
        self.pos += 1; // '{'
        let mut field_path = Vec::new();
        loop {
            field_path.push(self.ident()?);
            if !self.eat(b'.') {
                break;
            }
        }
        let start = self.segments.len();
        if self.eat(b'=') {
            self.segments(true)?;
        } else {
            self.segments.push(Segment::Single);
        }
        if !self.eat(b'}') {
            return err(format!("expected '}}' at offset {}", self.pos + 1));
        }
        self.variables.push(Variable {
            field_path,
            start,
            end: self.segments.len(),
        });
        Ok(())
    }

    fn ident(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            let ok =
                b == b'_' || b.is_ascii_alphabetic() || (self.pos > start && b.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return err(format!("expected a field name at offset {}", start + 1));
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    fn literal(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b'/' | b'{' | b'}' | b':' | b'*' | b'=' | b'?' | b'#')
                || b.is_ascii_whitespace()
                || b.is_ascii_control()
            {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return err(format!("empty segment at offset {}", start + 1));
        }
        // Literals are kept decoded: request segments are compared after decoding.
        let raw = String::from_utf8_lossy(&self.input[start..self.pos]);
        percent_decode(&raw, false).map_err(|e| TemplateError(format!("literal `{raw}`: {e}")))
    }
}

/// Percent-decodes `raw`; with `keep_slash`, `%2F`/`%2f` stay encoded (multi-segment values).
pub(crate) fn percent_decode(raw: &str, keep_slash: bool) -> Result<String, DecodeError> {
    if !raw.contains('%') {
        return Ok(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            bytes.get(i + 1).and_then(|h| hex(*h)),
            bytes.get(i + 2).and_then(|l| hex(*l)),
        ) else {
            return Err(DecodeError::Escape);
        };
        let decoded = hi << 4 | lo;
        if keep_slash && decoded == b'/' {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(decoded);
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| DecodeError::Utf8)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(t: &str) -> PathTemplate {
        match PathTemplate::parse(t) {
            Ok(t) => t,
            Err(e) => panic!("{t}: {e}"),
        }
    }

    fn bindings(template: &PathTemplate, path: &str) -> Option<Vec<String>> {
        let split = SplitPath::new(path)?;
        let captures = template.matches(&split)?;
        captures
            .into_iter()
            .enumerate()
            .map(|(i, c)| template.decode(i, &split, c).ok())
            .collect()
    }

    #[test]
    fn parses_every_form() {
        let t = parse("/v1/{name=shelves/*/books/*}:publish");
        assert_eq!(t.verb.as_deref(), Some("publish"));
        assert_eq!(t.segments.len(), 5);
        assert_eq!(t.variables[0].field_path, ["name"]);
        assert_eq!((t.variables[0].start, t.variables[0].end), (1, 5));

        let t = parse("/v1/{a.b.c}/x/{d=**}");
        assert_eq!(t.variables[0].field_path, ["a", "b", "c"]);
        assert_eq!(t.segments.last(), Some(&Segment::Multi));

        let t = parse("/v1/sandbox:reset");
        assert_eq!(
            t.segments,
            [
                Segment::Literal("v1".into()),
                Segment::Literal("sandbox".into())
            ]
        );
        assert_eq!(t.verb.as_deref(), Some("reset"));
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "v1/x",
            "/",
            "/v1//x",
            "/v1/{a",
            "/v1/{a=**}/x",
            "/**/x",
            "/v1/{a}/{a}",
            "/v1/{a={b}}",
            "/v1/{1a}",
            "/v1/x:",
            "/v1/{a=}",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn matches_and_decodes() {
        let t = parse("/v1/{name=shelves/*/books/*}");
        assert_eq!(
            bindings(&t, "/v1/shelves/1/books/2"),
            Some(vec!["shelves/1/books/2".into()])
        );
        assert_eq!(bindings(&t, "/v1/shelves/1/books"), None);
        assert_eq!(bindings(&t, "/v1/shelves/1/books/2/3"), None);
        assert_eq!(bindings(&t, "/v1/shelves//books/2"), None);
        assert_eq!(
            bindings(&t, "/v1/shelves/a%2Fb/books/2"),
            Some(vec!["shelves/a%2Fb/books/2".into()])
        );

        let t = parse("/v1/{id}");
        assert_eq!(bindings(&t, "/v1/a%2Fb%20c"), Some(vec!["a/b c".into()]));
        assert_eq!(bindings(&t, "/v1/a:b"), Some(vec!["a:b".into()]));

        let t = parse("/files/{path=**}");
        assert_eq!(
            bindings(&t, "/files/a/b%2Fc/d%20e"),
            Some(vec!["a/b%2Fc/d e".into()])
        );
        assert_eq!(bindings(&t, "/files"), Some(vec![String::new()]));

        let t = parse("/v1/{id}:authorize");
        assert_eq!(bindings(&t, "/v1/c1:authorize"), Some(vec!["c1".into()]));
        assert_eq!(bindings(&t, "/v1/c1"), None);
        assert_eq!(bindings(&t, "/v1/:authorize"), None);
        let t = parse("/v1/{name=**}:undelete");
        assert_eq!(bindings(&t, "/v1/a/b:undelete"), Some(vec!["a/b".into()]));

        let t = parse("/v1/caf%C3%A9");
        assert_eq!(bindings(&t, "/v1/caf%c3%a9"), Some(vec![]));
    }

    #[test]
    fn invalid_escapes_fail_to_decode() {
        let t = parse("/v1/{id}");
        let split = SplitPath::new("/v1/%zz").unwrap();
        let captures = t.matches(&split).unwrap();
        assert_eq!(t.decode(0, &split, captures[0]), Err(DecodeError::Escape));
        let split = SplitPath::new("/v1/%ff").unwrap();
        let captures = t.matches(&split).unwrap();
        assert_eq!(t.decode(0, &split, captures[0]), Err(DecodeError::Utf8));
    }

    #[test]
    fn specificity_orders_literals_first() {
        let mut templates = [
            parse("/v1/{a=**}"),
            parse("/v1/{a}"),
            parse("/v1/x"),
            parse("/v1/{a}:go"),
            parse("/v1/x/{b=**}"),
        ];
        templates.sort_by(PathTemplate::specificity);
        let order: Vec<_> = templates
            .iter()
            .map(|t| (t.segments.len(), t.verb.clone()))
            .collect();
        assert_eq!(
            order,
            [
                (2, Some("go".into())),
                (2, None), // /v1/x
                (3, None), // /v1/x/**
                (2, None), // /v1/{a}
                (2, None), // /v1/**
            ]
        );
        assert_eq!(templates[1].segments[1], Segment::Literal("x".into()));
        assert_eq!(templates[3].segments[1], Segment::Single);
    }

    // === property tests ===

    /// What a generated template segment is, with the value to expand it with.
    #[derive(Debug, Clone)]
    enum Part {
        Literal(String),
        Anonymous(String),
        /// `{fN}` / `{fN=*}` bound to any non-empty string.
        SingleVar(String),
        /// `{fN=lit/*}` bound to `lit/<value>`.
        PrefixedVar(String, String),
    }

    fn literal() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9_.~-]{0,6}"
    }

    fn value() -> impl Strategy<Value = String> {
        // Anything, including '/', ':', '%', spaces and non-ASCII.
        "\\PC{1,8}"
    }

    fn segment_value() -> impl Strategy<Value = String> {
        // One segment of a multi-segment value: no '/' (a '/' would be kept as %2F).
        "[^/]{1,6}".prop_filter("printable", |s| !s.chars().any(char::is_control))
    }

    fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            literal().prop_map(Part::Literal),
            segment_value().prop_map(Part::Anonymous),
            value().prop_map(Part::SingleVar),
            (literal(), segment_value()).prop_map(|(l, v)| Part::PrefixedVar(l, v)),
        ]
    }

    /// `{tail=**}` bound to a few segments, an anonymous `**`, or nothing.
    #[derive(Debug, Clone)]
    enum Tail {
        None,
        Var(Vec<String>),
        Anonymous(Vec<String>),
    }

    fn tail() -> impl Strategy<Value = Tail> {
        prop_oneof![
            Just(Tail::None),
            prop::collection::vec(segment_value(), 0..4).prop_map(Tail::Var),
            prop::collection::vec(segment_value(), 0..4).prop_map(Tail::Anonymous),
        ]
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    fn encode(value: &str) -> String {
        let mut out = String::new();
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// Builds the template text, a path expanded from the values, and the expected bindings.
    fn expand(parts: &[Part], tail: &Tail, verb: &Option<String>) -> (String, String, Vec<String>) {
        let (mut template, mut path, mut expected) = (String::new(), String::new(), Vec::new());
        for (i, part) in parts.iter().enumerate() {
            template.push('/');
            path.push('/');
            match part {
                Part::Literal(l) => {
                    template.push_str(l);
                    path.push_str(l);
                }
                Part::Anonymous(v) => {
                    template.push('*');
                    path.push_str(&encode(v));
                }
                Part::SingleVar(v) => {
                    template.push_str(&format!("{{f{i}}}"));
                    path.push_str(&encode(v));
                    expected.push(v.clone());
                }
                Part::PrefixedVar(l, v) => {
                    template.push_str(&format!("{{f{i}={l}/*}}"));
                    path.push_str(&format!("{l}/{}", encode(v)));
                    expected.push(format!("{l}/{v}"));
                }
            }
        }
        let rest = match tail {
            Tail::None => None,
            Tail::Var(values) => {
                template.push_str("/{tail=**}");
                expected.push(values.join("/"));
                Some(values)
            }
            Tail::Anonymous(values) => {
                template.push_str("/**");
                Some(values)
            }
        };
        for v in rest.into_iter().flatten() {
            path.push('/');
            path.push_str(&encode(v));
        }
        if let Some(verb) = verb {
            template.push(':');
            template.push_str(verb);
            path.push(':');
            path.push_str(verb);
        }
        (template, path, expected)
    }

    proptest! {
        #[test]
        fn expanding_then_matching_round_trips(
            parts in prop::collection::vec(part(), 1..5),
            tail in tail(),
            verb in prop::option::of("[a-z]{1,6}"),
        ) {
            let (template_text, path, expected) = expand(&parts, &tail, &verb);
            let template = PathTemplate::parse(&template_text)
                .map_err(|e| TestCaseError::fail(format!("{template_text}: {e}")))?;
            prop_assert_eq!(bindings(&template, &path), Some(expected), "{} vs {}", template_text, path);
        }

        #[test]
        fn literals_are_never_captured(
            parts in prop::collection::vec(part(), 1..5),
            tail in tail(),
            verb in prop::option::of("[a-z]{1,6}"),
            other in "[A-Z]{1,4}",
        ) {
            let (template_text, path, _) = expand(&parts, &tail, &verb);
            let template = PathTemplate::parse(&template_text)
                .map_err(|e| TestCaseError::fail(format!("{template_text}: {e}")))?;
            // Replace the first literal with a different one: the path must no longer match.
            if let Some(i) = parts.iter().position(|p| matches!(p, Part::Literal(_))) {
                let mut changed_parts = parts.clone();
                changed_parts[i] = Part::Literal(other.clone());
                let (_, changed, _) = expand(&changed_parts, &tail, &verb);
                prop_assert_eq!(bindings(&template, &changed), None, "{} matched {}", template_text, changed);
            }
            // A different verb never matches a template with a verb.
            if let Some(v) = &verb {
                let changed = format!("{}:{other}", path.trim_end_matches(&format!(":{v}")));
                prop_assert_eq!(bindings(&template, &changed), None);
            }
        }

        #[test]
        fn matching_never_panics(template in "/[a-z{}=*/:.%]{1,20}", path in "/\\PC{0,30}") {
            if let Ok(template) = PathTemplate::parse(&template) {
                let _ = bindings(&template, &path);
            }
        }
    }
}
