//! The `partition_by` option (and `lake.set_partitioning`'s spec) as Iceberg
//! partition terms. Pure logic: no pgrx.

use iceberg::spec::{Transform, Type};

/// One parsed `partition_by` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTerm {
    pub column: String,
    pub transform: Transform,
}

impl PartitionTerm {
    /// The partition field's name, as other engines name it.
    pub fn field_name(&self) -> String {
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
        self.transform.result_type(ty).map(|_| ()).map_err(|_| {
            format!(
                "{} does not apply to column \"{}\" of Iceberg type {ty}",
                self.display(),
                self.column
            )
        })
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
