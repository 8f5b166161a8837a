//! Reading ClickHouse's TabSeparated output as it streams in: whole lines out
//! of arbitrary chunks (memory bounded by one chunk plus one row), fields
//! unescaped, and array literals rewritten for Postgres. Pure logic: no pgrx.

/// Collects chunks and hands out complete lines.
#[derive(Default)]
pub struct LineReader {
    buf: Vec<u8>,
    start: usize,
}

impl LineReader {
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line (without its `\n`), if one has arrived.
    pub fn next_line(&mut self) -> Option<Vec<u8>> {
        let rest = &self.buf[self.start..];
        let end = rest.iter().position(|b| *b == b'\n')?;
        let line = rest[..end].to_vec();
        self.start += end + 1;
        Some(line)
    }

    /// What is left after the last newline (at the end of the stream it must
    /// be empty, or it is the text of an error ClickHouse appended).
    pub fn remainder(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// One field: None for `\N` (NULL).
pub type Field = Option<Vec<u8>>;

/// Split a line at tabs and unescape each field.
pub fn fields(line: &[u8]) -> Vec<Field> {
    line.split(|b| *b == b'\t').map(|raw| if raw == b"\\N" { None } else { Some(unescape(raw)) }).collect()
}

/// Split a line at tabs without unescaping (for array fields, whose text is
/// ClickHouse's quoted form).
pub fn raw_fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| *b == b'\t').collect()
}

/// Undo ClickHouse's TSV escaping (`\t`, `\n`, `\\`, `\'`, `\0`, ...).
pub fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            out.push(match raw[i + 1] {
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'0' => 0,
                b'a' => 0x07,
                b'v' => 0x0b,
                other => other,
            });
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The message of an error ClickHouse wrote into the body (it does so when
/// the query fails after the first rows were sent): `Code: N, e.displayText() = ...`.
pub fn error_in_body(text: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(text);
    let at = s.find("Code: ")?;
    Some(s[at..].trim().to_string())
}

/// Rewrite a ClickHouse array literal (`[1,NULL]`, `['a\'b','c']`,
/// `[[1],[2,3]]`) as a Postgres array literal (`{1,NULL}`,
/// `{"a'b","c"}`, `{{1},{2,3}}`). Strings keep their bytes.
pub fn array_to_pg(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut i = 0;
    parse_array(raw, &mut i, &mut out)?;
    if i != raw.len() {
        return Err("trailing text after the array".into());
    }
    Ok(out)
}

fn parse_array(raw: &[u8], i: &mut usize, out: &mut Vec<u8>) -> Result<(), String> {
    if raw.get(*i) != Some(&b'[') {
        return Err("an array must start with [".into());
    }
    *i += 1;
    out.push(b'{');
    if raw.get(*i) == Some(&b']') {
        *i += 1;
        out.push(b'}');
        return Ok(());
    }
    loop {
        match raw.get(*i) {
            Some(b'[') => parse_array(raw, i, out)?,
            Some(b'\'') => {
                *i += 1;
                out.push(b'"');
                loop {
                    let c = *raw.get(*i).ok_or("unterminated string in array")?;
                    *i += 1;
                    let byte = match c {
                        b'\'' => break,
                        b'\\' => {
                            let e = *raw.get(*i).ok_or("unterminated escape in array")?;
                            *i += 1;
                            unescape(&[b'\\', e])[0]
                        }
                        other => other,
                    };
                    if byte == b'"' || byte == b'\\' {
                        out.push(b'\\');
                    }
                    out.push(byte);
                }
                out.push(b'"');
            }
            Some(_) => {
                // A number, NULL, nan, inf: copied as is (quoted unless NULL,
                // so Postgres reads `nan`/`-inf` through the element type).
                let start = *i;
                while let Some(c) = raw.get(*i) {
                    if *c == b',' || *c == b']' {
                        break;
                    }
                    *i += 1;
                }
                let token = &raw[start..*i];
                if token.is_empty() {
                    return Err("empty array element".into());
                }
                if token == b"NULL" {
                    out.extend_from_slice(token);
                } else {
                    out.push(b'"');
                    out.extend_from_slice(token);
                    out.push(b'"');
                }
            }
            None => return Err("unterminated array".into()),
        }
        match raw.get(*i) {
            Some(b',') => {
                *i += 1;
                out.push(b',');
            }
            Some(b']') => {
                *i += 1;
                out.push(b'}');
                return Ok(());
            }
            _ => return Err("expected , or ] in array".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks() {
        let mut r = LineReader::default();
        r.push(b"a\tb\nc");
        assert_eq!(r.next_line(), Some(b"a\tb".to_vec()));
        assert_eq!(r.next_line(), None);
        r.push(b"d\n\n");
        assert_eq!(r.next_line(), Some(b"cd".to_vec()));
        assert_eq!(r.next_line(), Some(b"".to_vec()));
        assert_eq!(r.next_line(), None);
        assert!(r.remainder().is_empty());
        r.push(b"Code: 1");
        assert_eq!(r.remainder(), b"Code: 1");
    }

    #[test]
    fn fields_and_escapes() {
        let f = fields(b"1\t\\N\ta\\tb\\\\c\\'d\\ne\t\t\\0x");
        assert_eq!(
            f,
            vec![
                Some(b"1".to_vec()),
                None,
                Some(b"a\tb\\c'd\ne".to_vec()),
                Some(vec![]),
                Some(b"\0x".to_vec())
            ]
        );
        assert_eq!(raw_fields(b"[1,2]\tx"), vec![&b"[1,2]"[..], &b"x"[..]]);
    }

    #[test]
    fn arrays_become_postgres_literals() {
        let a = |s: &[u8]| String::from_utf8(array_to_pg(s).unwrap()).unwrap();
        assert_eq!(a(b"[]"), "{}");
        assert_eq!(a(b"[1,NULL,-3]"), "{\"1\",NULL,\"-3\"}");
        assert_eq!(a(b"['a\\'b','c\"d','e\\\\f','']"), "{\"a'b\",\"c\\\"d\",\"e\\\\f\",\"\"}");
        assert_eq!(a(b"[[1,2],[3]]"), "{{\"1\",\"2\"},{\"3\"}}");
        assert_eq!(a(b"['NULL']"), "{\"NULL\"}");
        assert_eq!(a(b"[nan,-inf]"), "{\"nan\",\"-inf\"}");
        assert!(array_to_pg(b"[1,2").is_err());
        assert!(array_to_pg(b"1,2]").is_err());
        assert!(array_to_pg(b"['x]").is_err());
        assert!(array_to_pg(b"[1]x").is_err());
    }

    #[test]
    fn errors_in_the_body() {
        assert_eq!(
            error_in_body(b"1\t2\nCode: 241, e.displayText() = DB::Exception: Memory limit\n").as_deref(),
            Some("Code: 241, e.displayText() = DB::Exception: Memory limit")
        );
        assert_eq!(error_in_body(b"1\t2"), None);
    }
}
