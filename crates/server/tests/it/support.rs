//! Assertions shared by the test modules.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts a status has `code` and carries `reason` as its ErrorInfo reason.
#[track_caller]
pub fn assert_reason(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    let details = status.get_error_details();
    let actual = details.error_info().map(|info| info.reason.clone());
    assert_eq!(actual.as_deref(), Some(reason), "{status:?}");
}
