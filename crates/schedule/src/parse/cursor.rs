//! A position in the input with the lexical primitives the grammar needs: whitespace,
//! punctuation, identifiers and numbers.

use super::error::{ParseErrorKind, ScheduleParseError};

/// Reads tokens from a schedule string; `pos` is a byte offset and always lies on a char
/// boundary because only ASCII bytes are ever stepped over.
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    /// Skips whitespace and returns the current byte offset.
    pub(crate) fn offset(&mut self) -> usize {
        let rest = &self.src[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
        self.pos
    }

    /// The next non-whitespace character, not consumed.
    pub(crate) fn peek(&mut self) -> Option<char> {
        let at = self.offset();
        self.src[at..].chars().next()
    }

    /// Consumes `ch` if it is next.
    pub(crate) fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.pos += ch.len_utf8();
            true
        } else {
            false
        }
    }

    /// Consumes `ch` or fails with "expected `expected`".
    pub(crate) fn expect(
        &mut self,
        ch: char,
        expected: &'static str,
    ) -> Result<(), ScheduleParseError> {
        if self.eat(ch) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// An [`ParseErrorKind::Expected`] error at the current position.
    pub(crate) fn unexpected(&mut self, expected: &'static str) -> ScheduleParseError {
        let found = match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "end of input".to_string(),
        };
        let offset = self.offset();
        ScheduleParseError {
            offset,
            kind: ParseErrorKind::Expected { expected, found },
        }
    }

    /// An identifier `[A-Za-z_][A-Za-z0-9_]*`, if one is next.
    pub(crate) fn ident(&mut self) -> Option<(usize, &'a str)> {
        let start = self.offset();
        let bytes = self.src.as_bytes();
        let mut end = start;
        while end < bytes.len()
            && (bytes[end] == b'_'
                || bytes[end].is_ascii_alphabetic()
                || (end > start && bytes[end].is_ascii_digit()))
        {
            end += 1;
        }
        if end == start {
            return None;
        }
        self.pos = end;
        Some((start, &self.src[start..end]))
    }

    /// True if a number may start here: a digit, `.`, `+` or `-`.
    pub(crate) fn at_number(&mut self) -> bool {
        matches!(self.peek(), Some(c) if c.is_ascii_digit() || matches!(c, '.' | '+' | '-'))
    }

    /// A decimal number `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`.
    pub(crate) fn number(&mut self) -> Result<(usize, f64), ScheduleParseError> {
        let start = self.offset();
        let bytes = self.src.as_bytes();
        let mut i = start;
        let digits = |mut i: usize| {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
            i += 1;
        }
        let int_end = digits(i);
        let mut mantissa_digits = int_end - i;
        i = int_end;
        if i < bytes.len() && bytes[i] == b'.' {
            let frac_end = digits(i + 1);
            mantissa_digits += frac_end - (i + 1);
            i = frac_end;
        }
        if mantissa_digits == 0 {
            return Err(self.unexpected("a number"));
        }
        if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
            let mut j = i + 1;
            if j < bytes.len() && matches!(bytes[j], b'+' | b'-') {
                j += 1;
            }
            let exp_end = digits(j);
            if exp_end == j {
                self.pos = j;
                return Err(self.unexpected("exponent digits"));
            }
            i = exp_end;
        }
        let text = &self.src[start..i];
        let value: f64 = text.parse().map_err(|_| ScheduleParseError {
            offset: start,
            kind: ParseErrorKind::Expected {
                expected: "a number",
                found: format!("`{text}`"),
            },
        })?;
        if !value.is_finite() {
            return Err(ScheduleParseError {
                offset: start,
                kind: ParseErrorKind::NumberOutOfRange {
                    text: text.to_string(),
                },
            });
        }
        self.pos = i;
        Ok((start, value))
    }
}
