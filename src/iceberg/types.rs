//! Mapping between Iceberg types and Postgres types, both ways, and which
//! type changes Iceberg allows. Pure logic: no pgrx.
//!
//! Postgres types are named by their canonical `format_type` spelling (or
//! the builtin they are) so the mapping can be unit-tested without a
//! backend.

use iceberg::spec::{PrimitiveType, Type};

use crate::pg::types::Builtin;

/// The Postgres type townlake declares for an Iceberg type (IMPORT FOREIGN SCHEMA).
pub fn pg_type_for(ty: &Type) -> String {
    match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => "boolean".into(),
            PrimitiveType::Int => "integer".into(),
            PrimitiveType::Long => "bigint".into(),
            PrimitiveType::Float => "real".into(),
            PrimitiveType::Double => "double precision".into(),
            PrimitiveType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
            PrimitiveType::Date => "date".into(),
            PrimitiveType::Time => "time without time zone".into(),
            PrimitiveType::Timestamp | PrimitiveType::TimestampNs => {
                "timestamp without time zone".into()
            }
            PrimitiveType::Timestamptz | PrimitiveType::TimestamptzNs => {
                "timestamp with time zone".into()
            }
            PrimitiveType::String => "text".into(),
            PrimitiveType::Uuid => "uuid".into(),
            PrimitiveType::Fixed(_) | PrimitiveType::Binary => "bytea".into(),
        },
        Type::Struct(_) | Type::List(_) | Type::Map(_) => "jsonb".into(),
    }
}

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

/// Postgres base types a foreign-table column may be declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Text,
    Uuid,
    Bytea,
    Json,
    Jsonb,
}

impl PgKind {
    /// The kind of a builtin column type.
    pub fn of(ty: Builtin) -> PgKind {
        match ty {
            Builtin::Bool => PgKind::Bool,
            Builtin::Int2 => PgKind::Int2,
            Builtin::Int4 => PgKind::Int4,
            Builtin::Int8 => PgKind::Int8,
            Builtin::Float4 => PgKind::Float4,
            Builtin::Float8 => PgKind::Float8,
            Builtin::Numeric => PgKind::Numeric,
            Builtin::Date => PgKind::Date,
            Builtin::Time => PgKind::Time,
            Builtin::Timestamp => PgKind::Timestamp,
            Builtin::TimestampTz => PgKind::TimestampTz,
            Builtin::Text | Builtin::Varchar => PgKind::Text,
            Builtin::Uuid => PgKind::Uuid,
            Builtin::Bytea => PgKind::Bytea,
            Builtin::Json => PgKind::Json,
            Builtin::Jsonb => PgKind::Jsonb,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PgKind::Bool => "boolean",
            PgKind::Int2 => "smallint",
            PgKind::Int4 => "integer",
            PgKind::Int8 => "bigint",
            PgKind::Float4 => "real",
            PgKind::Float8 => "double precision",
            PgKind::Numeric => "numeric",
            PgKind::Date => "date",
            PgKind::Time => "time",
            PgKind::Timestamp => "timestamp",
            PgKind::TimestampTz => "timestamptz",
            PgKind::Text => "text",
            PgKind::Uuid => "uuid",
            PgKind::Bytea => "bytea",
            PgKind::Json => "json",
            PgKind::Jsonb => "jsonb",
        }
    }
}

/// Whether a column declared as `pg` (with numeric typmod precision/scale when
/// given) can hold every value of the Iceberg type `ty` without loss.
/// `Err` carries the reason, for the error message.
pub fn check_compatible(
    ty: &Type,
    pg: PgKind,
    numeric_typmod: Option<(u32, u32)>,
) -> Result<(), String> {
    use PgKind::*;
    let ok = match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => matches!(pg, Bool | Text),
            // smallint columns are stored as int; reading checks the range.
            PrimitiveType::Int => matches!(pg, Int2 | Int4 | Int8 | Numeric | Text),
            PrimitiveType::Long => matches!(pg, Int8 | Numeric | Text),
            PrimitiveType::Float => matches!(pg, Float4 | Float8 | Text),
            PrimitiveType::Double => matches!(pg, Float8 | Text),
            PrimitiveType::Decimal { precision, scale } => match pg {
                Numeric => match numeric_typmod {
                    None => true,
                    Some((p, s)) => {
                        if s < *scale || p - s < precision - scale {
                            return Err(format!(
                                "numeric({p},{s}) cannot hold Iceberg decimal({precision},{scale})"
                            ));
                        }
                        true
                    }
                },
                Text => true,
                _ => false,
            },
            PrimitiveType::Date => matches!(pg, Date | Text),
            PrimitiveType::Time => matches!(pg, Time | Text),
            PrimitiveType::Timestamp | PrimitiveType::TimestampNs => {
                matches!(pg, Timestamp | Text)
            }
            PrimitiveType::Timestamptz | PrimitiveType::TimestamptzNs => {
                matches!(pg, TimestampTz | Text)
            }
            PrimitiveType::String => matches!(pg, Text | Json | Jsonb),
            PrimitiveType::Uuid => matches!(pg, Uuid | Text),
            PrimitiveType::Fixed(_) | PrimitiveType::Binary => matches!(pg, Bytea),
        },
        Type::Struct(_) | Type::List(_) | Type::Map(_) => matches!(pg, Jsonb | Json | Text),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("a column of type {} cannot hold Iceberg type {}", pg.name(), ty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::spec::{ListType, NestedField};
    use std::sync::Arc;

    #[test]
    fn primitive_names() {
        assert_eq!(pg_type_for(&Type::Primitive(PrimitiveType::Long)), "bigint");
        assert_eq!(
            pg_type_for(&Type::Primitive(PrimitiveType::Decimal { precision: 10, scale: 2 })),
            "numeric(10,2)"
        );
        assert_eq!(
            pg_type_for(&Type::Primitive(PrimitiveType::Timestamptz)),
            "timestamp with time zone"
        );
        assert_eq!(pg_type_for(&Type::Primitive(PrimitiveType::Fixed(4))), "bytea");
        let list = Type::List(ListType::new(Arc::new(NestedField::list_element(
            1,
            Type::Primitive(PrimitiveType::Int),
            false,
        ))));
        assert_eq!(pg_type_for(&list), "jsonb");
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

    #[test]
    fn builtin_kinds() {
        assert_eq!(PgKind::of(Builtin::Varchar), PgKind::Text);
        assert_eq!(PgKind::of(Builtin::Text), PgKind::Text);
        assert_eq!(PgKind::of(Builtin::TimestampTz), PgKind::TimestampTz);
        assert_eq!(PgKind::of(Builtin::Jsonb).name(), "jsonb");
        // varchar columns are checked as text.
        let s = Type::Primitive(PrimitiveType::String);
        assert!(check_compatible(&s, PgKind::of(Builtin::Varchar), None).is_ok());
    }

    #[test]
    fn narrowing_is_rejected() {
        let long = Type::Primitive(PrimitiveType::Long);
        assert!(check_compatible(&long, PgKind::Int4, None).is_err());
        assert!(check_compatible(&long, PgKind::Int8, None).is_ok());
        let int = Type::Primitive(PrimitiveType::Int);
        assert!(check_compatible(&int, PgKind::Int8, None).is_ok());
        assert!(check_compatible(&long, PgKind::Int2, None).is_err());
        let ts = Type::Primitive(PrimitiveType::Timestamp);
        assert!(check_compatible(&ts, PgKind::TimestampTz, None).is_err());
        let s = Type::Primitive(PrimitiveType::String);
        assert!(check_compatible(&s, PgKind::Int4, None).is_err());
    }

    #[test]
    fn decimal_typmod_must_fit() {
        let d = Type::Primitive(PrimitiveType::Decimal { precision: 10, scale: 2 });
        assert!(check_compatible(&d, PgKind::Numeric, Some((10, 2))).is_ok());
        assert!(check_compatible(&d, PgKind::Numeric, Some((12, 4))).is_ok());
        assert!(check_compatible(&d, PgKind::Numeric, Some((10, 1))).is_err());
        assert!(check_compatible(&d, PgKind::Numeric, Some((9, 2))).is_err());
        assert!(check_compatible(&d, PgKind::Numeric, None).is_ok());
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
