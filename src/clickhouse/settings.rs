//! The ClickHouse wrapper's settings (`townlake.clickhouse_*`). Registered
//! in `_PG_init`, read on the backend thread only.

use pgrx::GucContext;

use crate::pg::settings::{define_int, Def, IntSetting};

/// Rows per INSERT request sent to ClickHouse.
pub static BATCH_SIZE: IntSetting = IntSetting::new(100_000);

pub fn init() {
    define_int(
        Def {
            name: c"townlake.clickhouse_batch_size",
            renamed_from: None,
            short: c"Rows per INSERT request that INSERT and COPY FROM send to a ClickHouse foreign table.",
            long: c"Each batch is one HTTP request (INSERT ... FORMAT TabSeparated). Batches are kept in a temporary file and sent when the statement ends; larger batches mean fewer, larger ClickHouse parts, smaller ones less data per request.",
            context: || GucContext::Userset,
        },
        &BATCH_SIZE,
        1,
        10_000_000,
    );
}
