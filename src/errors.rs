//! Errors shown to users: a message, optional detail and hint, an SQLSTATE.
//! Everything townlake does returns `LakeResult`; the pgrx boundary reports it.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug, Clone)]
pub struct LakeError {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub type LakeResult<T> = Result<T, LakeError>;

impl LakeError {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        LakeError { code, message: message.into(), detail: None, hint: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Raise as a Postgres ERROR (aborts the statement).
    pub fn report(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "townlake");
        if let Some(d) = self.detail {
            report = report.set_detail(d);
        }
        if let Some(h) = self.hint {
            report = report.set_hint(h);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR returned")
    }
}

/// The value of a required argument of a function that also takes
/// optional ones (so it is not STRICT): NULL is a clear ERROR naming it.
pub fn required<T>(value: Option<T>, function: &str, argument: &str) -> T {
    value.unwrap_or_else(|| {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{function}: argument \"{argument}\" must not be NULL"),
        )
        .with_hint("Pass a value, or leave out an argument that has a default.")
        .report()
    })
}

/// The elements of an array argument, none of which may be NULL.
pub fn no_null_elements<T>(values: Vec<Option<T>>, function: &str, argument: &str) -> Vec<T> {
    values
        .into_iter()
        .map(|v| {
            v.unwrap_or_else(|| {
                LakeError::new(
                    PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    format!("{function}: argument \"{argument}\" must not contain NULL"),
                )
                .with_hint("Leave the NULL elements out of the array.")
                .report()
            })
        })
        .collect()
}

pub trait OrReport<T> {
    /// The value, or a Postgres ERROR.
    fn or_report(self) -> T;
}

impl<T> OrReport<T> for LakeResult<T> {
    fn or_report(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.report(),
        }
    }
}

/// Flatten an iceberg error into one line without its backtrace.
pub fn iceberg_message(err: &iceberg::Error) -> String {
    let mut msg = err.message().to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}
