//! Governance's settings.

use pgrx::GucContext;

use crate::pg::settings::{define_int, Def, IntSetting};

/// Seconds between sweeps that revoke expired grants in every database.
pub static SWEEP_SECONDS: IntSetting = IntSetting::new(10);

pub fn init() {
    define_int(
        Def {
            name: c"townlake.governance_grant_sweep_seconds",
            renamed_from: Some(c"townlake.grant_sweep_seconds"),
            short: c"Seconds between background sweeps that revoke expired access grants.",
            long: c"Expired grants stop applying at their expiry time regardless; the sweep records them as revoked in lake.access_grants and lake.reviews (a short-lived worker per database, townlake grant sweeper).",
            context: || GucContext::Sighup,
        },
        &SWEEP_SECONDS,
        1,
        86400,
    );
}
