//! The wrapper-neutral layer of townlake's foreign data wrappers. A wrapper
//! implements [`routine::Wrapper`] (what is particular to its source); this
//! layer owns every Postgres callback and the plumbing they share:
//!
//! - `options`, `source`: option lists, servers, user mappings;
//! - `filter` (pure), `clauses`, `params`: WHERE clauses as a neutral filter,
//!   and the operands evaluated when a scan starts;
//! - `paths`: paths, costs, parallel workers, pushable LIMIT;
//! - `join`: joins of two foreign tables of one server, described for a
//!   wrapper to accept or decline (`Wrapper::join_path`);
//! - `parallel`, `scan`, `explain`: what a running scan sees;
//! - `modify`: INSERT/UPDATE/DELETE state and row identity;
//! - `upper` (pure), `upper_query`: aggregates, ORDER BY and LIMIT described
//!   for a wrapper to accept or decline;
//! - `state`: plan state and Rust state owned by memory contexts;
//! - `policy`: what a wrapper asks of the access policy (time travel, governed
//!   relations, restores), answered by whichever part registered it.
//!
//! Nothing here knows a particular wrapper.
//!
//! Adding a wrapper: implement `routine::Wrapper` for a unit struct (its
//! planning state, plan, scan and modify types, and what each callback does
//! at the source), declare its handler with
//! `crate::fdw_handler!(x_fdw_handler, pg_finfo_x_fdw_handler, X)`, validate
//! options with `options::check_names`, and translate `filter::Filter` into
//! the source's language. Aggregate, ORDER BY and LIMIT pushdown: override
//! `Wrapper::upper_path` (accept an `upper::UpperQuery` with an estimate) and
//! `Wrapper::plan_upper`; the default declines, which leaves Postgres' plan
//! as it was.

pub mod arith_expr;
pub mod casts;
pub mod clauses;
pub mod date_expr;
pub mod explain;
pub mod filter;
pub mod join;
pub mod modify;
pub mod options;
pub mod parallel;
pub mod params;
pub mod paths;
pub mod policy;
pub mod routine;
pub mod scan;
pub mod source;
pub mod state;
pub mod upper;
pub mod upper_query;
