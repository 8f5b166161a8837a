-- townlake governance: the native masks (loaded by src/governance/masks.rs;
-- the C functions are in that file). Their comments are in governance.sql.

CREATE FUNCTION lake.mask_email(value text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_email';
CREATE FUNCTION lake.mask_redact(value anyelement) RETURNS anyelement
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_redact';
CREATE FUNCTION lake.mask_ip_prefix(value inet) RETURNS inet
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_ip_prefix';
CREATE FUNCTION lake.mask_year(value date) RETURNS date
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_year';
CREATE FUNCTION lake.mask_partial(value text, keep_first integer DEFAULT 1, keep_last integer DEFAULT 1) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_partial';
CREATE FUNCTION lake.mask_hash_keyed(value text, key bytea) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_hash_keyed';
