//! ClickHouse column types: parsing the type names ClickHouse reports
//! (`Nullable(Decimal(18, 3))`), what a Postgres column of a given kind may
//! read from each, and the Postgres type IMPORT FOREIGN SCHEMA gives each.
//! Pure logic: no pgrx.

use serde::{Deserialize, Serialize};

/// A ClickHouse type, as far as townlake distinguishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChType {
    Int { bits: u16, signed: bool },
    Float32,
    Float64,
    Decimal { precision: u32, scale: u32 },
    String,
    FixedString(u32),
    Date,
    /// With the time zone named in the type, if any.
    DateTime(Option<String>),
    DateTime64 { precision: u32, tz: Option<String> },
    Uuid,
    Enum,
    IPv4,
    IPv6,
    Nullable(Box<ChType>),
    LowCardinality(Box<ChType>),
    Array(Box<ChType>),
    /// `Nothing` (the type of a bare NULL) and anything not listed above.
    Other(String),
}

impl ChType {
    /// Parse a type name as ClickHouse prints it.
    pub fn parse(name: &str) -> ChType {
        let name = name.trim();
        let (head, args) = match name.find('(') {
            Some(open) if name.ends_with(')') => (&name[..open], Some(&name[open + 1..name.len() - 1])),
            _ => (name, None),
        };
        let parts = args.map(split_args).unwrap_or_default();
        let num = |i: usize| parts.get(i).and_then(|p| p.trim().parse::<u32>().ok());
        let quoted = |i: usize| parts.get(i).map(|p| p.trim().trim_matches('\'').to_string());
        let other = || ChType::Other(name.to_string());
        match (head, args) {
            ("Int8" | "Int16" | "Int32" | "Int64", None) => {
                ChType::Int { bits: head[3..].parse().unwrap_or(64), signed: true }
            }
            ("UInt8" | "UInt16" | "UInt32" | "UInt64", None) => {
                ChType::Int { bits: head[4..].parse().unwrap_or(64), signed: false }
            }
            ("Float32", None) => ChType::Float32,
            ("Float64", None) => ChType::Float64,
            ("Decimal", Some(_)) => match (num(0), num(1)) {
                (Some(precision), Some(scale)) => ChType::Decimal { precision, scale },
                _ => other(),
            },
            ("Decimal32" | "Decimal64" | "Decimal128", Some(_)) => match num(0) {
                Some(scale) => ChType::Decimal {
                    precision: match head {
                        "Decimal32" => 9,
                        "Decimal64" => 18,
                        _ => 38,
                    },
                    scale,
                },
                None => other(),
            },
            ("String", None) => ChType::String,
            ("FixedString", Some(_)) => num(0).map(ChType::FixedString).unwrap_or_else(other),
            ("Date", None) => ChType::Date,
            ("DateTime", None) => ChType::DateTime(None),
            ("DateTime", Some(_)) => ChType::DateTime(quoted(0)),
            ("DateTime64", Some(_)) => match num(0) {
                Some(precision) => ChType::DateTime64 { precision, tz: quoted(1) },
                None => other(),
            },
            ("UUID", None) => ChType::Uuid,
            ("Enum8" | "Enum16", Some(_)) => ChType::Enum,
            ("IPv4", None) => ChType::IPv4,
            ("IPv6", None) => ChType::IPv6,
            ("Nullable", Some(inner)) => ChType::Nullable(Box::new(ChType::parse(inner))),
            ("LowCardinality", Some(inner)) => ChType::LowCardinality(Box::new(ChType::parse(inner))),
            ("Array", Some(inner)) => ChType::Array(Box::new(ChType::parse(inner))),
            _ => other(),
        }
    }

    /// The type without Nullable and LowCardinality wrappers.
    pub fn base(&self) -> &ChType {
        match self {
            ChType::Nullable(inner) | ChType::LowCardinality(inner) => inner.base(),
            other => other,
        }
    }

    pub fn is_nullable(&self) -> bool {
        match self {
            ChType::Nullable(_) => true,
            ChType::LowCardinality(inner) => inner.is_nullable(),
            _ => false,
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self.base(), ChType::String)
    }
}

/// Split `a, b(c, d), 'e,f'` at its top-level commas.
fn split_args(args: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, false);
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quote => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                continue;
            }
            '\'' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => depth -= 1,
            ',' if !quote && depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// The kind of a Postgres column, as far as reading ClickHouse values cares
/// (decided from the column's type by the pgrx side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PgKind {
    Integer,
    Numeric,
    Float,
    Bool,
    /// text, varchar, char, name: any ClickHouse value as its text.
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
    Bytea,
    Json,
    Inet,
    Array(Box<PgKind>),
    /// Any other type: read from a String through the type's input function.
    Other,
}

/// How a ClickHouse value is read into a Postgres column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadAs {
    /// The value's text through the column type's input function.
    Text,
    /// ClickHouse's own text of the value, unescaped only as TSV needs
    /// (arrays into text columns: `['a','b']`).
    RawText,
    /// ClickHouse `Date` text (its zero day prints as 0000-00-00).
    Date,
    /// Selected as `toUnixTimestamp(x)`: whole seconds since 1970 (UTC).
    UnixSeconds,
    /// Raw bytes, as bytea.
    Bytes,
    /// A ClickHouse array literal, rewritten as a Postgres array literal.
    Array,
    /// `(sum,count)` of an avg: divided locally in numeric, the sum taken at
    /// the column's scale (as Postgres' own sum of its values has); NULL
    /// when the count is 0.
    Average { scale: u32 },
}

/// How a Postgres column of kind `pg` reads ClickHouse type `ch`, or why it
/// cannot.
pub fn read_as(pg: &PgKind, ch: &ChType) -> Result<ReadAs, String> {
    use ChType as C;
    let base = ch.base();
    let ok = match (pg, base) {
        (PgKind::Text, C::Array(_)) => return Ok(ReadAs::RawText),
        (PgKind::Text, _) => return Ok(if *base == C::Date { ReadAs::Date } else { ReadAs::Text }),
        (PgKind::Integer, C::Int { .. }) => true,
        (PgKind::Numeric, C::Int { .. } | C::Decimal { .. } | C::Float32 | C::Float64) => true,
        (PgKind::Float, C::Int { .. } | C::Decimal { .. } | C::Float32 | C::Float64) => true,
        (PgKind::Bool, C::Int { bits: 8, .. }) => true,
        (PgKind::Date, C::Date) => return Ok(ReadAs::Date),
        (PgKind::Timestamp | PgKind::TimestampTz, C::DateTime(_)) => return Ok(ReadAs::UnixSeconds),
        (PgKind::Uuid, C::Uuid | C::String | C::FixedString(_)) => true,
        (PgKind::Bytea, C::String | C::FixedString(_)) => return Ok(ReadAs::Bytes),
        (PgKind::Json, C::String) => true,
        (PgKind::Inet, C::String | C::IPv4 | C::IPv6) => true,
        (PgKind::Array(elem), C::Array(inner)) => {
            read_array_element(elem, inner)?;
            return Ok(ReadAs::Array);
        }
        (PgKind::Other, C::String) => true,
        _ => false,
    };
    if ok {
        Ok(ReadAs::Text)
    } else {
        Err("the types do not match".into())
    }
}

/// Array elements are read from the array's text: only kinds whose text
/// Postgres reads as is.
fn read_array_element(pg: &PgKind, ch: &ChType) -> Result<(), String> {
    match read_as(pg, ch)? {
        ReadAs::Text | ReadAs::Array => Ok(()),
        _ => Err("arrays of this element type are read only into text columns".into()),
    }
}

/// The Postgres type IMPORT FOREIGN SCHEMA declares for a ClickHouse type,
/// and whether it is only the text fallback (the import then says so).
pub fn import_type(ch: &ChType) -> (String, bool) {
    use ChType as C;
    let ty = match ch.base() {
        C::Int { bits: 8, signed: true } | C::Int { bits: 16, signed: true } | C::Int { bits: 8, signed: false } => {
            "smallint".to_string()
        }
        C::Int { bits: 32, signed: true } | C::Int { bits: 16, signed: false } => "integer".to_string(),
        C::Int { bits: 64, signed: true } | C::Int { bits: 32, signed: false } => "bigint".to_string(),
        C::Int { .. } => "numeric(20, 0)".to_string(),
        C::Float32 => "real".to_string(),
        C::Float64 => "double precision".to_string(),
        C::Decimal { precision, scale } => format!("numeric({precision}, {scale})"),
        C::String | C::FixedString(_) | C::Enum => "text".to_string(),
        C::Date => "date".to_string(),
        C::DateTime(_) => "timestamp with time zone".to_string(),
        C::Uuid => "uuid".to_string(),
        C::IPv4 | C::IPv6 => "inet".to_string(),
        C::Array(inner) => match import_type(inner) {
            (t, false) if !t.ends_with("[]") && !matches!(inner.base(), C::Date | C::DateTime(_)) => format!("{t}[]"),
            _ => return ("text".to_string(), true),
        },
        _ => return ("text".to_string(), true),
    };
    (ty, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_names() {
        assert_eq!(ChType::parse("UInt64"), ChType::Int { bits: 64, signed: false });
        assert_eq!(ChType::parse("Int8"), ChType::Int { bits: 8, signed: true });
        assert_eq!(ChType::parse("Decimal(18, 3)"), ChType::Decimal { precision: 18, scale: 3 });
        assert_eq!(ChType::parse("Decimal64(4)"), ChType::Decimal { precision: 18, scale: 4 });
        assert_eq!(ChType::parse("DateTime('Asia/Tokyo')"), ChType::DateTime(Some("Asia/Tokyo".into())));
        assert_eq!(ChType::parse("DateTime"), ChType::DateTime(None));
        assert_eq!(ChType::parse("FixedString(16)"), ChType::FixedString(16));
        assert_eq!(ChType::parse("Enum8('a' = 1, 'b,(' = 2)"), ChType::Enum);
        let t = ChType::parse("Array(Nullable(String))");
        assert_eq!(t, ChType::Array(Box::new(ChType::Nullable(Box::new(ChType::String)))));
        let lc = ChType::parse("LowCardinality(Nullable(String))");
        assert!(lc.is_nullable() && lc.is_string());
        assert_eq!(ChType::parse("Nothing"), ChType::Other("Nothing".into()));
        assert_eq!(ChType::parse("Tuple(UInt8, String)"), ChType::Other("Tuple(UInt8, String)".into()));
        assert_eq!(ChType::parse("Decimal(x)"), ChType::Other("Decimal(x)".into()));
    }

    #[test]
    fn reading_rules() {
        let p = |s: &str| ChType::parse(s);
        assert_eq!(read_as(&PgKind::Integer, &p("Nullable(Int32)")), Ok(ReadAs::Text));
        assert_eq!(read_as(&PgKind::TimestampTz, &p("DateTime('UTC')")), Ok(ReadAs::UnixSeconds));
        assert_eq!(read_as(&PgKind::Date, &p("Date")), Ok(ReadAs::Date));
        assert_eq!(read_as(&PgKind::Text, &p("Date")), Ok(ReadAs::Date));
        assert_eq!(read_as(&PgKind::Text, &p("Array(UInt8)")), Ok(ReadAs::RawText));
        assert_eq!(read_as(&PgKind::Bytea, &p("String")), Ok(ReadAs::Bytes));
        assert_eq!(read_as(&PgKind::Array(Box::new(PgKind::Integer)), &p("Array(Int32)")), Ok(ReadAs::Array));
        assert!(read_as(&PgKind::Array(Box::new(PgKind::Date)), &p("Array(Date)")).is_err());
        assert!(read_as(&PgKind::Integer, &p("String")).is_err());
        assert!(read_as(&PgKind::Date, &p("DateTime")).is_err());
        assert!(read_as(&PgKind::Bool, &p("Int32")).is_err());
        assert!(read_as(&PgKind::Other, &p("Int32")).is_err());
    }

    #[test]
    fn import_types() {
        let t = |s: &str| import_type(&ChType::parse(s));
        assert_eq!(t("UInt64"), ("numeric(20, 0)".into(), false));
        assert_eq!(t("UInt32"), ("bigint".into(), false));
        assert_eq!(t("Int16"), ("smallint".into(), false));
        assert_eq!(t("UInt8"), ("smallint".into(), false));
        assert_eq!(t("Nullable(Decimal(10, 2))"), ("numeric(10, 2)".into(), false));
        assert_eq!(t("LowCardinality(String)"), ("text".into(), false));
        assert_eq!(t("DateTime('Europe/Berlin')"), ("timestamp with time zone".into(), false));
        assert_eq!(t("Array(Int32)"), ("integer[]".into(), false));
        assert_eq!(t("Array(Array(Int32))"), ("text".into(), true));
        assert_eq!(t("Tuple(UInt8, String)"), ("text".into(), true));
    }
}
