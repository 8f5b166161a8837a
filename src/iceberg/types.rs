//! Mapping between Iceberg types and Postgres types. Pure logic: no pgrx.
//!
//! Postgres types are named by their canonical `format_type` spelling so the
//! mapping can be unit-tested without a backend; the FDW layer resolves names to
//! OIDs.

use iceberg::spec::{PrimitiveType, Type};

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
