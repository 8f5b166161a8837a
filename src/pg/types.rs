//! Postgres' builtin types by name instead of bare OIDs. The OIDs come from
//! pgrx's constants; the enum lets pure code (type families, value
//! conversion rules) match on types without knowing any OID.

use pgrx::pg_sys;

/// The builtin types townlake's wrappers convert directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
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
    Varchar,
    Uuid,
    Bytea,
    Json,
    Jsonb,
}

impl Builtin {
    /// The builtin type with this OID; None for any other type.
    pub fn from_oid(oid: pg_sys::Oid) -> Option<Builtin> {
        Some(match oid {
            pg_sys::BOOLOID => Builtin::Bool,
            pg_sys::INT2OID => Builtin::Int2,
            pg_sys::INT4OID => Builtin::Int4,
            pg_sys::INT8OID => Builtin::Int8,
            pg_sys::FLOAT4OID => Builtin::Float4,
            pg_sys::FLOAT8OID => Builtin::Float8,
            pg_sys::NUMERICOID => Builtin::Numeric,
            pg_sys::DATEOID => Builtin::Date,
            pg_sys::TIMEOID => Builtin::Time,
            pg_sys::TIMESTAMPOID => Builtin::Timestamp,
            pg_sys::TIMESTAMPTZOID => Builtin::TimestampTz,
            pg_sys::TEXTOID => Builtin::Text,
            pg_sys::VARCHAROID => Builtin::Varchar,
            pg_sys::UUIDOID => Builtin::Uuid,
            pg_sys::BYTEAOID => Builtin::Bytea,
            pg_sys::JSONOID => Builtin::Json,
            pg_sys::JSONBOID => Builtin::Jsonb,
            _ => return None,
        })
    }

    /// `from_oid` for OIDs kept as plain numbers (plan state).
    pub fn from_u32(oid: u32) -> Option<Builtin> {
        Builtin::from_oid(pg_sys::Oid::from(oid))
    }

    pub fn oid(self) -> pg_sys::Oid {
        match self {
            Builtin::Bool => pg_sys::BOOLOID,
            Builtin::Int2 => pg_sys::INT2OID,
            Builtin::Int4 => pg_sys::INT4OID,
            Builtin::Int8 => pg_sys::INT8OID,
            Builtin::Float4 => pg_sys::FLOAT4OID,
            Builtin::Float8 => pg_sys::FLOAT8OID,
            Builtin::Numeric => pg_sys::NUMERICOID,
            Builtin::Date => pg_sys::DATEOID,
            Builtin::Time => pg_sys::TIMEOID,
            Builtin::Timestamp => pg_sys::TIMESTAMPOID,
            Builtin::TimestampTz => pg_sys::TIMESTAMPTZOID,
            Builtin::Text => pg_sys::TEXTOID,
            Builtin::Varchar => pg_sys::VARCHAROID,
            Builtin::Uuid => pg_sys::UUIDOID,
            Builtin::Bytea => pg_sys::BYTEAOID,
            Builtin::Json => pg_sys::JSONOID,
            Builtin::Jsonb => pg_sys::JSONBOID,
        }
    }

    /// text and varchar: the same value representation.
    pub fn is_text(self) -> bool {
        matches!(self, Builtin::Text | Builtin::Varchar)
    }
}

/// Precision and scale from a numeric column's typmod (None: unconstrained).
pub fn numeric_typmod(typmod: i32) -> Option<(u32, u32)> {
    // VARHDRSZ + (precision << 16 | scale), as numeric.c packs it.
    (typmod >= 4).then(|| {
        let t = (typmod - 4) as u32;
        ((t >> 16) & 0xffff, t & 0xffff)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Builtin; 17] = [
        Builtin::Bool,
        Builtin::Int2,
        Builtin::Int4,
        Builtin::Int8,
        Builtin::Float4,
        Builtin::Float8,
        Builtin::Numeric,
        Builtin::Date,
        Builtin::Time,
        Builtin::Timestamp,
        Builtin::TimestampTz,
        Builtin::Text,
        Builtin::Varchar,
        Builtin::Uuid,
        Builtin::Bytea,
        Builtin::Json,
        Builtin::Jsonb,
    ];

    #[test]
    fn oids_round_trip_and_match_pg_type() {
        for t in ALL {
            assert_eq!(Builtin::from_oid(t.oid()), Some(t));
        }
        // The numbers from pg_type.dat, as a check on the constants.
        assert_eq!(Builtin::from_u32(16), Some(Builtin::Bool));
        assert_eq!(Builtin::from_u32(1043), Some(Builtin::Varchar));
        assert_eq!(Builtin::from_u32(1184), Some(Builtin::TimestampTz));
        assert_eq!(Builtin::from_u32(2950), Some(Builtin::Uuid));
        assert_eq!(Builtin::from_u32(3802), Some(Builtin::Jsonb));
        assert_eq!(Builtin::from_u32(600), None); // point
    }

    #[test]
    fn numeric_typmods() {
        assert_eq!(numeric_typmod(-1), None);
        assert_eq!(numeric_typmod(((12 << 16) | 2) + 4), Some((12, 2)));
    }
}
