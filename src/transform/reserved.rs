//! Schemas no model or pipeline writes into, whatever its owner's rights:
//! townlake's own catalog and the system's. Pure logic.

pub fn reserved_schema(schema: &str) -> bool {
    matches!(schema, "lake" | "lake_internal" | "information_schema") || schema.starts_with("pg_")
}

#[cfg(test)]
mod tests {
    use super::reserved_schema;

    #[test]
    fn townlake_and_system_schemas_are_reserved() {
        for s in ["lake", "lake_internal", "information_schema", "pg_catalog", "pg_temp_3", "pg_toast"] {
            assert!(reserved_schema(s), "{s}");
        }
        for s in ["analytics", "public", "Lake", "lakehouse", "xpg_"] {
            assert!(!reserved_schema(s), "{s}");
        }
    }
}
