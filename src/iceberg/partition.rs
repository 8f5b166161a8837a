//! The `partition_by` option (and `lake.set_partitioning`'s spec) as Iceberg
//! partition terms. Pure logic: no pgrx.

use iceberg::spec::{Transform, Type};

/// One parsed `partition_by` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTerm {
    pub column: String,
    pub transform: Transform,
}

/// Whether `name` is a valid Avro name (`[A-Za-z_][A-Za-z0-9_]*`). Manifests
/// are Avro files whose partition struct carries the partition field names:
/// the Iceberg library townlake uses writes other names as they are, and
/// then cannot read the manifest back, and it reads the partition values of
/// manifests that Java or PyIceberg wrote under escaped names as NULLs.
pub fn is_avro_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `name` made a valid Avro name the way Iceberg's Java and Python
/// libraries escape it: a leading digit gets `_` before it, and every other
/// character that may not appear becomes `_x` and its code point in
/// upper-case hex (`with space` → `with_x20space`).
pub fn avro_name(name: &str) -> String {
    if is_avro_name(name) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.chars().enumerate() {
        if c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()) {
            out.push(c);
        } else if i == 0 && c.is_ascii_digit() {
            out.push('_');
            out.push(c);
        } else {
            out.push_str(&format!("_x{:X}", c as u32));
        }
    }
    out
}

impl PartitionTerm {
    /// The partition field's name, as other engines name it, escaped to a
    /// valid Avro name (see `is_avro_name`).
    pub fn field_name(&self) -> String {
        avro_name(&self.raw_field_name())
    }

    fn raw_field_name(&self) -> String {
        match self.transform {
            Transform::Identity => self.column.clone(),
            Transform::Year => format!("{}_year", self.column),
            Transform::Month => format!("{}_month", self.column),
            Transform::Day => format!("{}_day", self.column),
            Transform::Hour => format!("{}_hour", self.column),
            Transform::Bucket(_) => format!("{}_bucket", self.column),
            Transform::Truncate(_) => format!("{}_trunc", self.column),
            _ => format!("{}_{}", self.column, self.transform),
        }
    }
}

impl PartitionTerm {
    /// The term as users write it: `day(ts)`, `bucket(16, id)`.
    pub fn display(&self) -> String {
        match self.transform {
            Transform::Identity => self.column.clone(),
            Transform::Bucket(n) => format!("bucket({n}, {})", self.column),
            Transform::Truncate(w) => format!("truncate({w}, {})", self.column),
            other => format!("{other}({})", self.column),
        }
    }

    /// Whether the transform applies to a column of type `ty`, in words
    /// that name the column and its type.
    pub fn check_type(&self, ty: &Type) -> Result<(), String> {
        use iceberg::spec::PrimitiveType;
        let refused = || format!("{} does not apply to column \"{}\" of Iceberg type {ty}", self.display(), self.column);
        self.transform.result_type(ty).map_err(|_| refused())?;
        // The spec allows these, but the library cannot write them: an
        // identity uuid value goes into the manifest as bytes (refused at
        // commit), and truncate has no kernel for binary columns.
        match (&self.transform, ty) {
            (Transform::Identity, Type::Primitive(PrimitiveType::Uuid)) => {
                Err(format!("{}: identity partitions on uuid columns cannot be written here; use bucket(n, {})", refused(), self.column))
            }
            (Transform::Truncate(_), Type::Primitive(PrimitiveType::Binary | PrimitiveType::Fixed(_))) => Err(refused()),
            _ => Ok(()),
        }
    }
}

/// Parse `day(ts), bucket(16, account_id), truncate(4, code), metric`.
pub fn parse_partition_by(spec: &str) -> Result<Vec<PartitionTerm>, String> {
    let mut terms = Vec::new();
    for raw in split_top_level(spec)? {
        let term = raw.trim();
        if term.is_empty() {
            return Err(format!("empty term in partition_by \"{spec}\""));
        }
        let Some(open) = term.find('(') else {
            terms.push(PartitionTerm { column: identifier(term)?, transform: Transform::Identity });
            continue;
        };
        if !term.ends_with(')') {
            return Err(format!("\"{term}\": missing closing parenthesis"));
        }
        let name = term[..open].trim().to_ascii_lowercase();
        let args: Vec<&str> = term[open + 1..term.len() - 1].split(',').map(str::trim).collect();
        let one_column = |args: &[&str]| -> Result<String, String> {
            match args {
                [c] => identifier(c),
                _ => Err(format!("{name}() takes one column, as in {name}(ts)")),
            }
        };
        let width = |args: &[&str]| -> Result<(u32, String), String> {
            match args {
                [n, c] => {
                    let n: u32 = n.parse().map_err(|_| format!("{name}(): \"{n}\" is not a positive integer"))?;
                    if n == 0 {
                        return Err(format!("{name}(): the width must be positive"));
                    }
                    Ok((n, identifier(c)?))
                }
                _ => Err(format!("{name}() takes a width and a column, as in {name}(16, id)")),
            }
        };
        let (column, transform) = match name.as_str() {
            "identity" => (one_column(&args)?, Transform::Identity),
            "year" | "years" => (one_column(&args)?, Transform::Year),
            "month" | "months" => (one_column(&args)?, Transform::Month),
            "day" | "days" => (one_column(&args)?, Transform::Day),
            "hour" | "hours" => (one_column(&args)?, Transform::Hour),
            "bucket" => {
                let (n, c) = width(&args)?;
                (c, Transform::Bucket(n))
            }
            "truncate" => {
                let (n, c) = width(&args)?;
                (c, Transform::Truncate(n))
            }
            other => {
                return Err(format!(
                    "unknown partition transform \"{other}\"; use identity, year, month, day, hour, bucket(n, col) or truncate(w, col)"
                ))
            }
        };
        terms.push(PartitionTerm { column, transform });
    }
    if terms.is_empty() {
        return Err("partition_by is empty".into());
    }
    Ok(terms)
}

fn split_top_level(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced parentheses in partition_by \"{s}\""));
                }
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in partition_by \"{s}\""));
    }
    out.push(cur);
    Ok(out)
}

fn identifier(s: &str) -> Result<String, String> {
    let s = s.trim();
    let unquoted = s.strip_prefix('"').and_then(|r| r.strip_suffix('"'));
    match unquoted {
        Some(q) if !q.is_empty() => Ok(q.replace("\"\"", "\"")),
        _ if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_') => Ok(s.to_lowercase()),
        _ => Err(format!("\"{s}\" is not a column name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_transform() {
        let t = parse_partition_by("day(ts), bucket(16, account_id), truncate(4, code), metric, hour(ts), month(d), year(d)").unwrap();
        assert_eq!(t[0], PartitionTerm { column: "ts".into(), transform: Transform::Day });
        assert_eq!(t[1], PartitionTerm { column: "account_id".into(), transform: Transform::Bucket(16) });
        assert_eq!(t[2], PartitionTerm { column: "code".into(), transform: Transform::Truncate(4) });
        assert_eq!(t[3], PartitionTerm { column: "metric".into(), transform: Transform::Identity });
        assert_eq!(t[1].field_name(), "account_id_bucket");
        assert_eq!(t.len(), 7);
    }

    #[test]
    fn partition_field_names_are_valid_avro_names() {
        for ok in ["a", "_x", "Mixed_Case9", "account_id_bucket"] {
            assert!(is_avro_name(ok), "{ok}");
            assert_eq!(avro_name(ok), ok);
        }
        for bad in ["", "9lives", "with space", "a.b", "ünï", "x-y", "quo\"te"] {
            assert!(!is_avro_name(bad), "{bad}");
            assert!(is_avro_name(&avro_name(bad)) || bad.is_empty(), "{bad}");
        }
        assert_eq!(avro_name("with space"), "with_x20space");
        assert_eq!(avro_name("9lives"), "_9lives");
        assert_eq!(avro_name("a.b"), "a_x2Eb");
        assert_eq!(avro_name("ünï"), "_xFCn_xEF");
        let term = PartitionTerm { column: "Mixed Case".into(), transform: Transform::Bucket(3) };
        assert_eq!(term.field_name(), "Mixed_x20Case_bucket");
        let identity = PartitionTerm { column: "with space".into(), transform: Transform::Identity };
        assert_eq!(identity.field_name(), "with_x20space");
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(parse_partition_by("day(ts").unwrap_err().contains("parenthes"));
        assert!(parse_partition_by("weekly(ts)").unwrap_err().contains("unknown partition transform"));
        assert!(parse_partition_by("bucket(ts)").unwrap_err().contains("width"));
        assert!(parse_partition_by("bucket(0, ts)").unwrap_err().contains("positive"));
        assert!(parse_partition_by("a,,b").is_err());
        assert!(parse_partition_by("").is_err());
        assert!(parse_partition_by("a b").is_err());
    }
}
