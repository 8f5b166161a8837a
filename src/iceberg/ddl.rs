//! Table definitions going the other way: Postgres column types to Iceberg
//! types, and the `partition_by` option to an Iceberg partition spec. Pure
//! logic: no pgrx.

use iceberg::spec::{PrimitiveType, Transform, Type};

/// The Iceberg type stored for a Postgres column type (`format_type` name and
/// numeric precision/scale from the typmod).
pub fn iceberg_type_for(pg_type: &str, numeric: Option<(u32, u32)>) -> Result<Type, String> {
    let p = match pg_type {
        "boolean" => PrimitiveType::Boolean,
        "smallint" | "integer" => PrimitiveType::Int,
        "bigint" => PrimitiveType::Long,
        "real" => PrimitiveType::Float,
        "double precision" => PrimitiveType::Double,
        "numeric" => match numeric {
            Some((precision, scale)) if precision <= 38 => PrimitiveType::Decimal { precision, scale },
            Some((precision, _)) => {
                return Err(format!("numeric precision {precision} exceeds Iceberg's maximum of 38"))
            }
            // Unconstrained numeric (e.g. a CTAS of sum()): 38 digits, 10 after the point.
            None => PrimitiveType::Decimal { precision: 38, scale: 10 },
        },
        "date" => PrimitiveType::Date,
        "time" | "time without time zone" => PrimitiveType::Time,
        "timestamp" | "timestamp without time zone" => PrimitiveType::Timestamp,
        "timestamptz" | "timestamp with time zone" => PrimitiveType::Timestamptz,
        "text" | "character varying" | "varchar" | "json" | "jsonb" => PrimitiveType::String,
        "uuid" => PrimitiveType::Uuid,
        "bytea" => PrimitiveType::Binary,
        other => return Err(format!("type {other} cannot be stored in an Iceberg table")),
    };
    Ok(Type::Primitive(p))
}

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

    #[test]
    fn maps_types() {
        assert_eq!(iceberg_type_for("bigint", None).unwrap(), Type::Primitive(PrimitiveType::Long));
        assert_eq!(
            iceberg_type_for("numeric", Some((12, 2))).unwrap(),
            Type::Primitive(PrimitiveType::Decimal { precision: 12, scale: 2 })
        );
        assert!(iceberg_type_for("numeric", None).is_ok());
        assert!(iceberg_type_for("point", None).is_err());
    }
}

/// Whether Iceberg allows changing a column from `from` to `to` (type
/// promotion): int→long, float→double, decimal(p,s)→decimal(p2,s) with p2 ≥ p.
pub fn check_promotion(from: &Type, to: &Type) -> Result<(), String> {
    use PrimitiveType as P;
    let ok = match (from, to) {
        (a, b) if a == b => true,
        (Type::Primitive(P::Int), Type::Primitive(P::Long)) => true,
        (Type::Primitive(P::Float), Type::Primitive(P::Double)) => true,
        (
            Type::Primitive(P::Decimal { precision: p1, scale: s1 }),
            Type::Primitive(P::Decimal { precision: p2, scale: s2 }),
        ) => s1 == s2 && p2 >= p1,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Iceberg cannot change a column from {from} to {to}; allowed: int to long, float to double, widening a decimal's precision"
        ))
    }
}

#[cfg(test)]
mod promotion_tests {
    use super::*;

    #[test]
    fn promotions() {
        let t = |p| Type::Primitive(p);
        assert!(check_promotion(&t(PrimitiveType::Int), &t(PrimitiveType::Long)).is_ok());
        assert!(check_promotion(&t(PrimitiveType::Long), &t(PrimitiveType::Int)).is_err());
        assert!(check_promotion(&t(PrimitiveType::String), &t(PrimitiveType::Long)).is_err());
        assert!(check_promotion(
            &t(PrimitiveType::Decimal { precision: 10, scale: 2 }),
            &t(PrimitiveType::Decimal { precision: 12, scale: 2 })
        )
        .is_ok());
        assert!(check_promotion(
            &t(PrimitiveType::Decimal { precision: 10, scale: 2 }),
            &t(PrimitiveType::Decimal { precision: 12, scale: 3 })
        )
        .is_err());
    }
}
