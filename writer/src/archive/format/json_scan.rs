//! A scanner of the top level of one JSON object: it yields each member's name
//! and the raw bytes of its value without parsing the value, so a rebuild
//! touches only the key columns of a row. serde_json can borrow raw values
//! (`RawValue`) but still validates every byte and builds a map per row; this
//! is the part of a JSONL line a reader actually needs, at memchr speed.

use std::borrow::Cow;

use super::swar;

use crate::table::{KeySpec, RowKey};
use laredo_wire::{ValueRef, encode_scalar, push_go_value, write_struct_entry};

/// The bytes that end a number or a literal (`true`, `false`, `null`).
static ENDS_SCALAR: [bool; 256] = {
    let mut ends = [false; 256];
    let mut i = 0;
    let set = b",}] \t\n\r";
    while i < set.len() {
        ends[set[i] as usize] = true;
        i += 1;
    }
    ends
};

/// Iterates the `(name, raw value)` members of a JSON object.
#[derive(Debug)]
pub struct ObjectScanner<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> ObjectScanner<'a> {
    /// Starts at the object's opening brace.
    pub fn new(buf: &'a [u8]) -> Result<Self, String> {
        let mut scanner = Self {
            buf,
            pos: 0,
            done: false,
        };
        scanner.skip_ws();
        scanner.expect(b'{')?;
        scanner.skip_ws();
        if scanner.peek() == Some(b'}') {
            scanner.done = true;
        }
        Ok(scanner)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", byte as char, self.pos))
        }
    }

    /// The raw content of a string starting at `pos` (without quotes).
    fn string(&mut self) -> Result<&'a [u8], String> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            let found = swar::find(self.buf, self.pos, |word| {
                swar::equal(word, b'"') | swar::equal(word, b'\\')
            });
            match found {
                None => return Err("unterminated string".to_owned()),
                Some(i) if self.buf[i] == b'"' => {
                    self.pos = i + 1;
                    return Ok(&self.buf[start..i]);
                }
                Some(i) => self.pos = i + 2,
            }
        }
    }

    /// Skips one value, returning its raw bytes.
    fn value(&mut self) -> Result<&'a [u8], String> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => {
                self.string()?;
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    // `{`/`[` and `}`/`]` differ only in bit 0x20.
                    let found = swar::find(self.buf, self.pos, |word| {
                        let folded = word | 0x2020_2020_2020_2020;
                        swar::equal(word, b'"')
                            | swar::equal(folded, b'{')
                            | swar::equal(folded, b'}')
                    });
                    let Some(i) = found else {
                        return Err("unterminated object or array".to_owned());
                    };
                    self.pos = i;
                    match self.buf[i] {
                        b'"' => {
                            self.string()?;
                        }
                        b'{' | b'[' => {
                            depth += 1;
                            self.pos += 1;
                        }
                        _ => {
                            depth -= 1;
                            self.pos += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                    }
                }
            }
            Some(_) => {
                self.pos = self.buf[start..]
                    .iter()
                    .position(|&byte| ENDS_SCALAR[usize::from(byte)])
                    .map_or(self.buf.len(), |end| start + end);
                if self.pos == start {
                    return Err(format!("expected a value at byte {start}"));
                }
            }
            None => return Err("object ends early".to_owned()),
        }
        Ok(&self.buf[start..self.pos])
    }

    fn member(&mut self) -> Result<(&'a [u8], &'a [u8]), String> {
        self.skip_ws();
        let name = self.string()?;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        let value = self.value()?;
        self.skip_ws();
        match self.peek() {
            Some(b',') => self.pos += 1,
            Some(b'}') => self.done = true,
            _ => return Err(format!("expected ',' or '}}' at byte {}", self.pos)),
        }
        Ok((name, value))
    }
}

impl<'a> Iterator for ObjectScanner<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let member = self.member();
        if member.is_err() {
            self.done = true;
        }
        Some(member)
    }
}

/// The text of a raw JSON string value (with its quotes).
pub fn unescape_string(raw: &[u8]) -> Result<Cow<'_, str>, String> {
    let inner = raw
        .strip_prefix(b"\"")
        .and_then(|r| r.strip_suffix(b"\""))
        .ok_or("expected a string")?;
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner)
            .map(Cow::Borrowed)
            .map_err(|_| "string is not UTF-8".to_owned());
    }
    serde_json::from_slice::<String>(raw)
        .map(Cow::Owned)
        .map_err(|e| e.to_string())
}

/// The Go `RowKey` of a JSON row, parsing only the key columns.
pub fn key_of_json(line: &[u8], spec: &KeySpec) -> Result<RowKey, String> {
    // Formatted in a reused buffer, then copied into one exact-size
    // allocation.
    crate::table::key::with_scratch(|key| {
        write_json_key(line, spec, false, key)?;
        Ok(RowKey::from(key.as_str()))
    })
}

/// What a row without key column `field` is told.
pub fn missing_key_column(field: &str) -> String {
    format!("row has no key column {field:?} (pass the key columns with --key-fields)")
}

/// Appends the Go `RowKey` of a JSON row to `out`, parsing only the key
/// columns. A row without one of them is an error (Go would key it `<nil>`,
/// so two such rows would silently become one). With `stop_early`, the scan ends at the last key column; use it
/// only for a line whose bytes are vouched for (a checksum), since the rest
/// of the line is then not checked, and of a member named twice the first
/// counts (Go's decoder takes the last; no writer writes one twice).
pub fn write_json_key(
    line: &[u8],
    spec: &KeySpec,
    stop_early: bool,
    out: &mut String,
) -> Result<(), String> {
    let fields = spec.fields();
    if let [field] = fields {
        // The usual key, one column: no array of values to set up per row.
        let mut found = None;
        for member in ObjectScanner::new(line)? {
            let (name, value) = member?;
            if is_named(name, field) {
                found = Some(value);
                if stop_early {
                    break;
                }
            }
        }
        let found = found.ok_or_else(|| missing_key_column(field))?;
        return push_json_value(out, Some(found));
    }
    // Keys of up to eight columns without an allocation per row.
    let mut stack: [Option<&[u8]>; 8] = [None; 8];
    let mut heap: Vec<Option<&[u8]>> = Vec::new();
    let values: &mut [Option<&[u8]>] = match stack.get_mut(..fields.len()) {
        Some(values) => values,
        None => {
            heap.resize(fields.len(), None);
            &mut heap
        }
    };
    let mut missing = fields.len();
    for member in ObjectScanner::new(line)? {
        let (name, value) = member?;
        if let Some(slot) = fields.iter().position(|field| is_named(name, field)) {
            if values[slot].is_none() {
                missing -= 1;
            }
            values[slot] = Some(value);
            if stop_early && missing == 0 {
                break;
            }
        }
    }
    if let Some(slot) = values.iter().position(Option::is_none) {
        return Err(missing_key_column(&fields[slot]));
    }
    out.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_json_value(out, *value)?;
    }
    out.push(']');
    Ok(())
}

/// Whether a member's raw (possibly escaped) name is `field`.
#[inline]
fn is_named(raw: &[u8], field: &str) -> bool {
    if raw == field.as_bytes() {
        return true;
    }
    // An escaped name: compare its text. An escape is longer than the
    // character it stands for.
    raw.len() > field.len()
        && raw.contains(&b'\\')
        && unescape_string(&[&b"\""[..], raw, b"\""].concat()).is_ok_and(|text| text == field)
}

/// Appends Go's `%v` of a raw JSON value (missing prints `<nil>`).
fn push_json_value(out: &mut String, raw: Option<&[u8]>) -> Result<(), String> {
    let Some(raw) = raw else {
        out.push_str("<nil>");
        return Ok(());
    };
    let wire_error = |e: crate::table::WireError| e.to_string();
    match raw.first() {
        Some(b'"') => {
            push_go_value(out, &ValueRef::String(&unescape_string(raw)?)).map_err(wire_error)
        }
        Some(b't') if raw == b"true" => {
            push_go_value(out, &ValueRef::Bool(true)).map_err(wire_error)
        }
        Some(b'f') if raw == b"false" => {
            push_go_value(out, &ValueRef::Bool(false)).map_err(wire_error)
        }
        Some(b'n') if raw == b"null" => push_go_value(out, &ValueRef::Null).map_err(wire_error),
        Some(b'-' | b'0'..=b'9') => {
            let text = std::str::from_utf8(raw).map_err(|_| "number is not UTF-8")?;
            let number: f64 = text
                .parse()
                .map_err(|_| format!("invalid number {text:?}"))?;
            push_go_value(out, &ValueRef::Number(number)).map_err(wire_error)
        }
        Some(b'{' | b'[') => {
            let value: serde_json::Value =
                serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            let encoded = encode_json_value(&value, 0)?;
            push_go_value(out, &ValueRef::parse(&encoded).map_err(wire_error)?).map_err(wire_error)
        }
        _ => Err(format!(
            "invalid JSON value {:?}",
            String::from_utf8_lossy(raw)
        )),
    }
}

/// Converts one JSON object into encoded `Struct` bytes (restoring a table
/// from a JSONL archive, and tests; not on the write path).
pub fn json_to_struct(json: &[u8]) -> Result<Vec<u8>, String> {
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(map) = &value else {
        return Err("row is not a JSON object".to_owned());
    };
    encode_object(map, 0)
}

fn encode_object(
    map: &serde_json::Map<String, serde_json::Value>,
    depth: usize,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (name, value) in map {
        write_struct_entry(&mut out, name, &encode_json_value(value, depth + 1)?);
    }
    Ok(out)
}

fn encode_json_value(value: &serde_json::Value, depth: usize) -> Result<Vec<u8>, String> {
    use serde_json::Value;
    if depth > laredo_wire::MAX_DEPTH {
        return Err("values nested too deep".to_owned());
    }
    Ok(match value {
        Value::Null => encode_scalar(&ValueRef::Null),
        Value::Bool(b) => encode_scalar(&ValueRef::Bool(*b)),
        Value::Number(n) => encode_scalar(&ValueRef::Number(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => encode_scalar(&ValueRef::String(s)),
        Value::Object(map) => encode_scalar(&ValueRef::Struct(&encode_object(map, depth)?)),
        Value::Array(items) => {
            let mut list = Vec::new();
            for item in items {
                laredo_wire::write_bytes_field(&mut list, 1, &encode_json_value(item, depth + 1)?);
            }
            encode_scalar(&ValueRef::List(&list))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fields: &[&str]) -> KeySpec {
        KeySpec::new(fields.iter().map(|f| (*f).to_owned()).collect())
    }

    #[test]
    fn scans_members_without_parsing_values() {
        let line = br#"{"a":{"x":[1,"}"]},"b" : "q\"}" ,"c":-1.5e3,"d":null}"#;
        let members: Vec<_> = ObjectScanner::new(line)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let names: Vec<&[u8]> = members.iter().map(|m| m.0).collect();
        assert_eq!(names, [&b"a"[..], b"b", b"c", b"d"]);
        assert_eq!(members[0].1, br#"{"x":[1,"}"]}"#);
        assert_eq!(members[1].1, br#""q\"}""#);
        assert_eq!(members[2].1, b"-1.5e3");
        assert!(ObjectScanner::new(b"{}").unwrap().next().is_none());
    }

    #[test]
    fn keys_match_the_struct_keys_of_the_same_row() {
        let cases: &[(&[u8], &[&str], &str)] = &[
            (br#"{"id":1234567,"name":"x"}"#, &["id"], "1.234567e+06"),
            (br#"{"id":"a\u003cb"}"#, &["id"], "a<b"),
            (br#"{"id":null,"name":"x"}"#, &["id"], "<nil>"),
            (
                br#"{"t":"acme","id":7,"f":true}"#,
                &["t", "id", "f"],
                "[acme 7 true]",
            ),
            (br#"{"m":{"b":1,"a":"x"}}"#, &["m"], "map[a:x b:1]"),
            // Escaped member names, for one key column and for several.
            (br#"{"\u0069d":5,"v":1}"#, &["id"], "5"),
            (br#"{"t":"a","\u0069d":5}"#, &["t", "id"], "[a 5]"),
        ];
        for (line, fields, expected) in cases {
            assert_eq!(&*key_of_json(line, &spec(fields)).unwrap(), *expected);
            let encoded = json_to_struct(line).unwrap();
            assert_eq!(&*spec(fields).key_of(&encoded).unwrap(), *expected);
        }
    }

    #[test]
    fn a_row_without_a_key_column_is_an_error() {
        for (line, fields) in [
            (&br#"{"name":"x"}"#[..], &["id"][..]),
            (br#"{"t":"a","name":"x"}"#, &["t", "id"]),
        ] {
            for stop_early in [false, true] {
                let err = write_json_key(line, &spec(fields), stop_early, &mut String::new())
                    .unwrap_err();
                assert!(err.contains("no key column \"id\""), "{err}");
            }
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            &b"[1]"[..],
            b"{\"a\":}",
            b"{\"a\":1",
            b"{\"a\" 1}",
            b"{\"a\":\"x}",
        ] {
            let result: Result<Vec<_>, _> = ObjectScanner::new(bad).and_then(|s| s.collect());
            assert!(result.is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
