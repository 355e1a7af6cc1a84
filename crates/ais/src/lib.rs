//! Account Information (AIS) and the customer profile: the read side of open banking.
//!
//! Owns the tonic implementations of `AccountInformationService` and `CustomerService`. Every
//! handler starts from the caller's consent (`RequestExt::customer`) and answers only what that
//! consent covers: accounts outside it — or of another customer — answer NOT_FOUND, never
//! "forbidden", so ids cannot be probed. Data comes from the
//! [`CoreBanking`](wekeza_ledger::CoreBanking) seam.
//!
//! Depends on `domain`, `ledger` and `rpc`; never on another service crate.
//!
//! # Layout
//! - [`accounts`] — `AccountInformationService`.
//! - [`customers`] — `CustomerService`.
//! - [`convert`] — core-banking model → wire messages.

pub mod accounts;
mod convert;
pub mod customers;

pub use accounts::AccountInformation;
pub use customers::Customers;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::io::{Error, ErrorKind};

    use wekeza_domain::Reason;
    use wekeza_ledger::CoreBankingError;
    use wekeza_rpc::{ApiError, OrInternal};

    /// What a handler's `.or_internal()?` answers for `error`.
    fn answer(error: CoreBankingError) -> Reason {
        let failed: Result<(), _> = Err(error);
        ApiError::from(failed.or_internal().unwrap_err()).reason()
    }

    #[test]
    fn a_core_that_cannot_reach_its_database_is_answered_unavailable_and_a_bug_internal() {
        let reset = Error::from(ErrorKind::ConnectionReset);
        assert_eq!(
            answer(CoreBankingError::Unavailable(Box::new(reset))),
            Reason::Unavailable,
            "the cause travels with the error, so the database's absence is told from a bug"
        );
        let corrupt = "stored ledger data is invalid: accounts.id".into();
        assert_eq!(
            answer(CoreBankingError::Unavailable(corrupt)),
            Reason::Internal
        );
    }
}
