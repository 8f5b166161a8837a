//! Where data files go: `<data dir>/<partition path>/<file name>`, with the
//! partition path escaped as Java Iceberg and PyIceberg escape it
//! (`URLEncoder`: `s=a+b` for `'a b'`, `s=%E6%97%A5` for `'日'`).
//!
//! iceberg 0.10's `DefaultLocationGenerator` puts partition values in file
//! names as they are: a `/` in a value adds a directory, and a tab or newline
//! makes a path the object store refuses, so such a row could not be written.
//! Escaped names hold only `[A-Za-z0-9.*_%+-]` and read back literally.

use iceberg::spec::PartitionKey;
use iceberg::writer::file_writer::location_generator::{DefaultLocationGenerator, LocationGenerator};

#[derive(Clone, Debug)]
pub struct EscapedLocationGenerator {
    inner: DefaultLocationGenerator,
}

impl EscapedLocationGenerator {
    pub fn new(inner: DefaultLocationGenerator) -> Self {
        Self { inner }
    }
}

impl LocationGenerator for EscapedLocationGenerator {
    fn generate_location(&self, partition_key: Option<&PartitionKey>, file_name: &str) -> String {
        let path = partition_key.filter(|k| !PartitionKey::is_effectively_none(Some(k))).and_then(partition_path);
        match path {
            // the data directory as iceberg works it out (table properties)
            Some(path) => self.inner.generate_location(None, &format!("{path}/{file_name}")),
            None => self.inner.generate_location(partition_key, file_name),
        }
    }
}

/// `name=value/…` of a partition key, each part escaped; None when the spec
/// does not fit the schema (iceberg's own path is used then).
pub(crate) fn partition_path(key: &PartitionKey) -> Option<String> {
    let partition_type = key.spec().partition_type(key.schema()).ok()?;
    let types = partition_type.fields();
    let data = key.data();
    let parts: Vec<String> = key
        .spec()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let value = timestamptz_text(&types[i].field_type, data[i].as_ref())
                .unwrap_or_else(|| field.transform.to_human_string(&types[i].field_type, data[i].as_ref()));
            format!("{}={}", url_encode(&field.name), url_encode(&value))
        })
        .collect();
    Some(parts.join("/"))
}

/// A timestamptz partition value as the library names it (chrono's
/// `DateTime<Utc>` text), computed here because the library cannot convert
/// a value before 1970 with a fraction of a second (it panics).
fn timestamptz_text(field_type: &iceberg::spec::Type, value: Option<&iceberg::spec::Literal>) -> Option<String> {
    use iceberg::spec::{Literal, PrimitiveLiteral, PrimitiveType, Type};
    let (Type::Primitive(PrimitiveType::Timestamptz), Some(Literal::Primitive(PrimitiveLiteral::Long(micros)))) = (field_type, value) else {
        return None;
    };
    let nanos = (micros.rem_euclid(1_000_000) * 1_000) as u32;
    chrono::DateTime::from_timestamp(micros.div_euclid(1_000_000), nanos).map(|t| t.to_string())
}

/// Java's `URLEncoder.encode(s, UTF_8)`: letters, digits and `.-*_` stay,
/// a space becomes `+`, every other byte `%XX`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn timestamptz_partition_values_are_named_before_1970_too() {
        use iceberg::spec::{Literal, PrimitiveLiteral, PrimitiveType, Type};
        let ty = Type::Primitive(PrimitiveType::Timestamptz);
        let text = |v: i64| timestamptz_text(&ty, Some(&Literal::Primitive(PrimitiveLiteral::Long(v))));
        assert_eq!(text(-500_000).as_deref(), Some("1969-12-31 23:59:59.500 UTC"));
        assert_eq!(text(-1).as_deref(), Some("1969-12-31 23:59:59.999999 UTC"));
        // what the library names the values it can convert
        for v in [0, 1_500_000, 1_700_000_000_123_456] {
            assert_eq!(text(v), Some(iceberg::spec::Datum::timestamptz_micros(v).to_string()));
        }
        assert_eq!(timestamptz_text(&Type::Primitive(PrimitiveType::Long), Some(&Literal::Primitive(PrimitiveLiteral::Long(1)))), None);
    }

    use super::*;

    #[test]
    fn escapes_like_java_and_pyiceberg() {
        assert_eq!(url_encode("a b"), "a+b");
        assert_eq!(url_encode("a+b"), "a%2Bb");
        assert_eq!(url_encode("日本"), "%E6%97%A5%E6%9C%AC");
        assert_eq!(url_encode("tab\tx"), "tab%09x");
        assert_eq!(url_encode("x/y"), "x%2Fy");
        assert_eq!(url_encode("100%"), "100%25");
        assert_eq!(url_encode("2024-01-01-10"), "2024-01-01-10");
        assert_eq!(url_encode("o'n"), "o%27n");
    }
}
