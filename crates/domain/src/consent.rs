//! Consents: what a customer allows an app to do, and the lifecycle a consent moves through.
//!
//! ```text
//! AWAITING_AUTHORISATION ──authorise──▶ AUTHORISED ──consume──▶ CONSUMED   (payments only)
//!        │  │  │                            │  └───────revoke──▶ REVOKED
//!        │  │  └──reject──▶ REJECTED         └─────────expire──▶ EXPIRED
//!        │  └─────revoke──▶ REVOKED   (an app cancels its own pending consent)
//!        └────────expire──▶ EXPIRED
//! ```
//!
//! A [`Consent`] is a value: each transition consumes it and returns the next one, or refuses
//! with [`ConsentError`]. Transitions take `now` and never read a clock. Expiry is lazy: a
//! consent awaiting authorisation or authorised whose expiration time has passed *is* expired
//! ([`Consent::status_at`], [`Consent::as_of`]) whether or not a scheduler has written that down
//! yet ([`Consent::expire`]), so nothing can use it after its time.
//!
//! Storing a transition together with its event, atomically, is the store's and the service's
//! business; deciding whether it is allowed is this module's.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use crate::id::{AccountId, AppId, ConsentId, CustomerId};
use crate::money::{Currency, Money};
use crate::reason::Reason;
use crate::scope::{Permission, Scope};

/// The longest an account-access or funds-confirmation consent may be valid, counted from its
/// creation; also its validity when the app asks for none.
pub const MAX_STANDING_CONSENT_VALIDITY: TimeDelta = TimeDelta::days(90);

/// How long a payment consent stays valid: from its creation while it awaits authorisation,
/// and again from its authorisation for the app to create the payment.
pub const PAYMENT_CONSENT_VALIDITY: TimeDelta = TimeDelta::minutes(10);

/// Where a consent is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentStatus {
    /// Created by the app; the customer has not decided yet.
    AwaitingAuthorisation,
    /// The customer authorised it; tokens bound to it work.
    Authorised,
    /// The customer refused it. Final.
    Rejected,
    /// A payment consent whose payment was created. Final.
    Consumed,
    /// Revoked by the app or the customer. Final.
    Revoked,
    /// Its expiration time passed. Final.
    Expired,
}

impl ConsentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ConsentStatus; 6] = [
        ConsentStatus::AwaitingAuthorisation,
        ConsentStatus::Authorised,
        ConsentStatus::Rejected,
        ConsentStatus::Consumed,
        ConsentStatus::Revoked,
        ConsentStatus::Expired,
    ];

    /// Whether the consent can still change (it awaits authorisation or is authorised).
    pub fn is_live(self) -> bool {
        matches!(self, Self::AwaitingAuthorisation | Self::Authorised)
    }
}

/// What a consent allows, without the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentKind {
    /// Read account data within the consent's permissions.
    AccountAccess,
    /// Make one payment.
    Payment,
    /// Ask whether an account holds an amount.
    FundsConfirmation,
}

impl ConsentKind {
    /// The scope an app's token needs to create (and manage) a consent of this kind.
    pub fn required_scope(self) -> Scope {
        match self {
            Self::AccountAccess => Scope::AccountsRead,
            Self::Payment | Self::FundsConfirmation => Scope::PaymentsInitiate,
        }
    }
}

/// The payment a payment consent allows: made once, exactly as described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// How much, in which currency (positive).
    pub amount: Money,
    /// The creditor's name.
    pub creditor_name: String,
    /// The creditor's account number.
    pub creditor_account: String,
    /// The reference the creditor sees (may be empty).
    pub reference: String,
    /// The account to pay from; `None` when the customer chooses it while authorising.
    pub debtor_account: Option<String>,
}

/// What a funds-confirmation consent allows the app to ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsConfirmationTerms {
    /// The amount the app may ask about (positive).
    pub amount: Money,
    /// The account to check; `None` when the customer chooses it while authorising.
    pub debtor_account: Option<String>,
}

/// What a consent allows, with the details of its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentTerms {
    /// Read account data: these permissions, on the accounts bound at authorisation.
    AccountAccess {
        /// What the app may read (at least one).
        permissions: BTreeSet<Permission>,
    },
    /// Make this payment once.
    Payment(PaymentTerms),
    /// Ask whether the account holds this amount.
    FundsConfirmation(FundsConfirmationTerms),
}

impl ConsentTerms {
    /// The kind of consent these terms make.
    pub fn kind(&self) -> ConsentKind {
        match self {
            Self::AccountAccess { .. } => ConsentKind::AccountAccess,
            Self::Payment(_) => ConsentKind::Payment,
            Self::FundsConfirmation(_) => ConsentKind::FundsConfirmation,
        }
    }

    /// The debtor account number the app named, for payment and funds-confirmation consents.
    pub fn debtor_account(&self) -> Option<&str> {
        match self {
            Self::AccountAccess { .. } => None,
            Self::Payment(terms) => terms.debtor_account.as_deref(),
            Self::FundsConfirmation(terms) => terms.debtor_account.as_deref(),
        }
    }

    /// Whether a consent with these terms may be bound to `account` (one of the customer's):
    /// any account for account access; for a payment or a funds check, the debtor account the
    /// app named, or else an open current account in the amount's currency.
    ///
    /// The one rule behind the accounts the consent screen offers, the accounts the sandbox's
    /// authorize shortcut binds, and the debtor account a payment falls back to.
    pub fn may_bind(&self, account: &BindableAccount<'_>) -> bool {
        let amount = match self {
            Self::AccountAccess { .. } => return true,
            Self::Payment(terms) => terms.amount,
            Self::FundsConfirmation(terms) => terms.amount,
        };
        match self.debtor_account() {
            Some(number) => account.number == number,
            None => account.open_current_account && account.currency == amount.currency(),
        }
    }
}

/// What [`ConsentTerms::may_bind`] needs to know of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindableAccount<'a> {
    /// The account number.
    pub number: &'a str,
    /// The currency it is held in.
    pub currency: Currency,
    /// Whether it is a current account and enabled.
    pub open_current_account: bool,
}

/// A consent an app asked for. Fields are public for storage and display; the lifecycle fields
/// (`status`, `customer_id`, `account_ids`, `expires_at`, `status_updated_at`) change only
/// through the transitions below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// `cns_…`.
    pub id: ConsentId,
    /// The app the consent is given to.
    pub app_id: AppId,
    /// What it allows.
    pub terms: ConsentTerms,
    /// The status as last written (see [`Consent::status_at`] for the status now).
    pub status: ConsentStatus,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
    /// The customer who authorised (or rejected) it; `None` before.
    pub customer_id: Option<CustomerId>,
    /// The accounts the customer bound to it while authorising.
    pub account_ids: BTreeSet<AccountId>,
    /// When the app created it.
    pub created_at: DateTime<Utc>,
    /// When the status last changed.
    pub status_updated_at: DateTime<Utc>,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// The lifecycle has no such step from the consent's status (at the time of the step).
    #[error("a consent cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// The status at the time of the step (lazily expired included).
        from: ConsentStatus,
        /// The status asked for.
        to: ConsentStatus,
    },
    /// An account-access consent was authorised without any account.
    #[error("an account-access consent must be authorised for at least one account")]
    NoAccounts,
    /// A payment or funds-confirmation consent was authorised with more than one account, or a
    /// funds-confirmation consent naming no account with none.
    #[error("a {0:?} consent is authorised for exactly one debtor account")]
    DebtorAccount(ConsentKind),
}

impl ConsentError {
    /// The stable reason clients see.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidTransition { .. } => Reason::InvalidStateTransition,
            Self::NoAccounts | Self::DebtorAccount(_) => Reason::InvalidRequest,
        }
    }
}

impl Consent {
    /// A new consent awaiting authorisation, created at `now`.
    pub fn new(
        id: ConsentId,
        app_id: AppId,
        terms: ConsentTerms,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            app_id,
            terms,
            status: ConsentStatus::AwaitingAuthorisation,
            expires_at,
            customer_id: None,
            account_ids: BTreeSet::new(),
            created_at: now,
            status_updated_at: now,
        }
    }

    /// What the consent allows.
    pub fn kind(&self) -> ConsentKind {
        self.terms.kind()
    }

    /// Whether the expiration time has passed while the consent was still live.
    fn expiry_due(&self, now: DateTime<Utc>) -> bool {
        self.status.is_live() && now >= self.expires_at
    }

    /// The status at `now`: the written one, except that a live consent past its expiration
    /// time is [`ConsentStatus::Expired`].
    pub fn status_at(&self, now: DateTime<Utc>) -> ConsentStatus {
        if self.expiry_due(now) {
            ConsentStatus::Expired
        } else {
            self.status
        }
    }

    /// The consent as it stands at `now`: lazily expired if its time has passed (expired at its
    /// expiration time), otherwise unchanged. For display; nothing is written.
    pub fn as_of(self, now: DateTime<Utc>) -> Self {
        if self.expiry_due(now) {
            let expired_at = self.expires_at;
            Self {
                status: ConsentStatus::Expired,
                status_updated_at: expired_at,
                ..self
            }
        } else {
            self
        }
    }

    /// Refuses unless the consent can be used at `now`, with a reason per status.
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), Reason> {
        match self.status_at(now) {
            ConsentStatus::Authorised => Ok(()),
            ConsentStatus::AwaitingAuthorisation => Err(Reason::ConsentNotAuthorised),
            ConsentStatus::Rejected => Err(Reason::ConsentRejected),
            ConsentStatus::Consumed => Err(Reason::ConsentConsumed),
            ConsentStatus::Revoked => Err(Reason::ConsentRevoked),
            ConsentStatus::Expired => Err(Reason::ConsentExpired),
        }
    }

    /// Moves to `to` at `now` if the consent's status at `now` is one of `from`.
    fn step(
        self,
        from: &[ConsentStatus],
        to: ConsentStatus,
        now: DateTime<Utc>,
    ) -> Result<Self, ConsentError> {
        let current = self.status_at(now);
        if !from.contains(&current) {
            return Err(ConsentError::InvalidTransition { from: current, to });
        }
        Ok(Self {
            status: to,
            status_updated_at: now,
            ..self
        })
    }

    /// The customer authorised the consent for `accounts`: AWAITING_AUTHORISATION → AUTHORISED.
    ///
    /// Account access needs at least one account; a payment or funds-confirmation consent takes
    /// at most one (its debtor account), and a funds-confirmation consent that names no debtor
    /// account exactly one. A payment consent gets a fresh [`PAYMENT_CONSENT_VALIDITY`] from
    /// now for the app to create the payment.
    pub fn authorise(
        self,
        customer: CustomerId,
        accounts: BTreeSet<AccountId>,
        now: DateTime<Utc>,
    ) -> Result<Self, ConsentError> {
        let kind = self.kind();
        match kind {
            ConsentKind::AccountAccess if accounts.is_empty() => {
                return Err(ConsentError::NoAccounts);
            }
            ConsentKind::Payment | ConsentKind::FundsConfirmation if accounts.len() > 1 => {
                return Err(ConsentError::DebtorAccount(kind));
            }
            ConsentKind::FundsConfirmation
                if accounts.is_empty() && self.terms.debtor_account().is_none() =>
            {
                return Err(ConsentError::DebtorAccount(kind));
            }
            _ => {}
        }
        let authorised = self.step(
            &[ConsentStatus::AwaitingAuthorisation],
            ConsentStatus::Authorised,
            now,
        )?;
        let expires_at = match kind {
            ConsentKind::Payment => now + PAYMENT_CONSENT_VALIDITY,
            ConsentKind::AccountAccess | ConsentKind::FundsConfirmation => authorised.expires_at,
        };
        Ok(Self {
            customer_id: Some(customer),
            account_ids: accounts,
            expires_at,
            ..authorised
        })
    }

    /// The customer refused the consent: AWAITING_AUTHORISATION → REJECTED.
    pub fn reject(self, now: DateTime<Utc>) -> Result<Self, ConsentError> {
        self.step(
            &[ConsentStatus::AwaitingAuthorisation],
            ConsentStatus::Rejected,
            now,
        )
    }

    /// The app or the customer revoked the consent: AWAITING_AUTHORISATION or AUTHORISED →
    /// REVOKED.
    pub fn revoke(self, now: DateTime<Utc>) -> Result<Self, ConsentError> {
        self.step(
            &[
                ConsentStatus::AwaitingAuthorisation,
                ConsentStatus::Authorised,
            ],
            ConsentStatus::Revoked,
            now,
        )
    }

    /// The consented payment was created: AUTHORISED → CONSUMED. Only payment consents are
    /// consumed; the others stay usable until they expire or are revoked.
    pub fn consume(self, now: DateTime<Utc>) -> Result<Self, ConsentError> {
        if self.kind() != ConsentKind::Payment {
            return Err(ConsentError::InvalidTransition {
                from: self.status_at(now),
                to: ConsentStatus::Consumed,
            });
        }
        self.step(&[ConsentStatus::Authorised], ConsentStatus::Consumed, now)
    }

    /// Writes down that the expiration time has passed: AWAITING_AUTHORISATION or AUTHORISED →
    /// EXPIRED, dated at the expiration time. Refused before that time.
    pub fn expire(self, now: DateTime<Utc>) -> Result<Self, ConsentError> {
        if !self.expiry_due(now) {
            return Err(ConsentError::InvalidTransition {
                from: self.status_at(now),
                to: ConsentStatus::Expired,
            });
        }
        Ok(self.as_of(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
            + TimeDelta::minutes(minutes)
    }

    fn account(n: i64) -> AccountId {
        AccountId::new_random(at(n))
    }

    fn customer() -> CustomerId {
        CustomerId::new_random(at(0))
    }

    fn payment_terms() -> ConsentTerms {
        ConsentTerms::Payment(PaymentTerms {
            amount: Money::from_minor(15_000, Currency::Kes),
            creditor_name: "Jane Doe".into(),
            creditor_account: "01100012345".into(),
            reference: "Invoice 42".into(),
            debtor_account: None,
        })
    }

    fn access_terms() -> ConsentTerms {
        ConsentTerms::AccountAccess {
            permissions: BTreeSet::from([Permission::ReadAccounts]),
        }
    }

    /// A consent created at minute 0, expiring at minute 60, brought to `status` at minute 1.
    fn consent_in(status: ConsentStatus, terms: ConsentTerms) -> Consent {
        let created = Consent::new(
            ConsentId::new_random(at(0)),
            AppId::new_random(at(0)),
            terms,
            at(60),
            at(0),
        );
        let authorised = || {
            created
                .clone()
                .authorise(customer(), BTreeSet::from([account(1)]), at(1))
        };
        let consent = match status {
            ConsentStatus::AwaitingAuthorisation => Ok(created.clone()),
            ConsentStatus::Authorised => authorised(),
            ConsentStatus::Rejected => created.clone().reject(at(1)),
            ConsentStatus::Consumed => authorised().and_then(|c| c.consume(at(1))),
            ConsentStatus::Revoked => created.clone().revoke(at(1)),
            ConsentStatus::Expired => created.clone().expire(at(60)),
        };
        match consent {
            Ok(consent) => consent,
            Err(error) => unreachable!("setting up {status:?}: {error}"),
        }
    }

    /// Applies the transition to `to` at a time it could happen (after expiry for `expire`).
    fn transition(consent: Consent, to: ConsentStatus) -> Result<Consent, ConsentError> {
        match to {
            ConsentStatus::AwaitingAuthorisation => Err(ConsentError::InvalidTransition {
                from: consent.status,
                to,
            }),
            ConsentStatus::Authorised => {
                consent.authorise(customer(), BTreeSet::from([account(2)]), at(2))
            }
            ConsentStatus::Rejected => consent.reject(at(2)),
            ConsentStatus::Consumed => consent.consume(at(2)),
            ConsentStatus::Revoked => consent.revoke(at(2)),
            ConsentStatus::Expired => consent.expire(at(61)),
        }
    }

    #[test]
    fn every_status_pair_is_allowed_or_refused_as_the_lifecycle_says() {
        use ConsentStatus::*;
        let allowed = [
            (AwaitingAuthorisation, Authorised),
            (AwaitingAuthorisation, Rejected),
            (AwaitingAuthorisation, Revoked),
            (AwaitingAuthorisation, Expired),
            (Authorised, Consumed),
            (Authorised, Revoked),
            (Authorised, Expired),
        ];
        for from in ConsentStatus::ALL {
            for to in ConsentStatus::ALL {
                let consent = consent_in(from, payment_terms());
                assert_eq!(consent.status, from);
                let outcome = transition(consent, to);
                if allowed.contains(&(from, to)) {
                    let next = outcome.unwrap_or_else(|e| unreachable!("{from:?} → {to:?}: {e}"));
                    assert_eq!(next.status, to, "{from:?} → {to:?}");
                } else {
                    let error = outcome.err();
                    assert!(
                        matches!(error, Some(ConsentError::InvalidTransition { from: f, to: t }) if f == from && t == to),
                        "{from:?} → {to:?} must be refused, got {error:?}"
                    );
                    assert_eq!(
                        error.map(|e| e.reason()),
                        Some(Reason::InvalidStateTransition)
                    );
                }
            }
        }
    }

    #[test]
    fn transitions_stamp_the_change_and_bind_the_customer() {
        let created = consent_in(ConsentStatus::AwaitingAuthorisation, access_terms());
        let who = customer();
        let accounts = BTreeSet::from([account(1), account(2)]);
        let authorised = created
            .clone()
            .authorise(who.clone(), accounts.clone(), at(5))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(authorised.customer_id, Some(who));
        assert_eq!(authorised.account_ids, accounts);
        assert_eq!(authorised.status_updated_at, at(5));
        assert_eq!(authorised.created_at, at(0));
        assert_eq!(
            authorised.expires_at,
            at(60),
            "account access keeps its expiry"
        );
        let revoked = authorised
            .revoke(at(7))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (revoked.status, revoked.status_updated_at),
            (ConsentStatus::Revoked, at(7))
        );
    }

    #[test]
    fn an_authorised_payment_consent_gets_a_fresh_window() {
        let authorised = consent_in(ConsentStatus::AwaitingAuthorisation, payment_terms())
            .authorise(customer(), BTreeSet::new(), at(8))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(authorised.expires_at, at(8) + PAYMENT_CONSENT_VALIDITY);
    }

    #[test]
    fn authorisation_checks_the_accounts_for_the_kind() {
        let access = consent_in(ConsentStatus::AwaitingAuthorisation, access_terms());
        assert_eq!(
            access.authorise(customer(), BTreeSet::new(), at(2)).err(),
            Some(ConsentError::NoAccounts)
        );
        let payment = consent_in(ConsentStatus::AwaitingAuthorisation, payment_terms());
        assert_eq!(
            payment
                .authorise(customer(), BTreeSet::from([account(1), account(2)]), at(2))
                .err(),
            Some(ConsentError::DebtorAccount(ConsentKind::Payment))
        );
        let funds = ConsentTerms::FundsConfirmation(FundsConfirmationTerms {
            amount: Money::from_minor(100, Currency::Kes),
            debtor_account: None,
        });
        let funds = consent_in(ConsentStatus::AwaitingAuthorisation, funds);
        assert_eq!(
            funds
                .clone()
                .authorise(customer(), BTreeSet::new(), at(2))
                .err()
                .map(|e| e.reason()),
            Some(Reason::InvalidRequest)
        );
        assert!(
            funds
                .authorise(customer(), BTreeSet::from([account(1)]), at(2))
                .is_ok()
        );
    }

    #[test]
    fn only_payment_consents_are_consumed() {
        let access = consent_in(ConsentStatus::Authorised, access_terms());
        assert_eq!(
            access.consume(at(2)).err(),
            Some(ConsentError::InvalidTransition {
                from: ConsentStatus::Authorised,
                to: ConsentStatus::Consumed
            })
        );
    }

    #[test]
    fn expiry_is_lazy_and_refuses_steps_after_it() {
        let authorised = consent_in(ConsentStatus::Authorised, access_terms());
        assert_eq!(authorised.status_at(at(59)), ConsentStatus::Authorised);
        assert_eq!(authorised.status_at(at(60)), ConsentStatus::Expired);
        assert_eq!(authorised.check_usable(at(59)), Ok(()));
        assert_eq!(authorised.check_usable(at(60)), Err(Reason::ConsentExpired));
        let shown = authorised.clone().as_of(at(90));
        assert_eq!(
            (shown.status, shown.status_updated_at),
            (ConsentStatus::Expired, at(60))
        );
        assert_eq!(authorised.clone().as_of(at(59)), authorised);
        assert_eq!(
            authorised.clone().revoke(at(61)).err(),
            Some(ConsentError::InvalidTransition {
                from: ConsentStatus::Expired,
                to: ConsentStatus::Revoked
            })
        );
        assert_eq!(
            authorised.clone().expire(at(59)).err(),
            Some(ConsentError::InvalidTransition {
                from: ConsentStatus::Authorised,
                to: ConsentStatus::Expired
            })
        );
        let expired = authorised
            .expire(at(75))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (expired.status, expired.status_updated_at),
            (ConsentStatus::Expired, at(60))
        );
        // A pending consent expires too, and can then no longer be authorised.
        let pending = consent_in(ConsentStatus::AwaitingAuthorisation, payment_terms());
        assert_eq!(
            pending.authorise(customer(), BTreeSet::new(), at(60)).err(),
            Some(ConsentError::InvalidTransition {
                from: ConsentStatus::Expired,
                to: ConsentStatus::Authorised
            })
        );
    }

    #[test]
    fn unusable_consents_are_refused_with_distinct_reasons() {
        let expected = [
            (
                ConsentStatus::AwaitingAuthorisation,
                Err(Reason::ConsentNotAuthorised),
            ),
            (ConsentStatus::Authorised, Ok(())),
            (ConsentStatus::Rejected, Err(Reason::ConsentRejected)),
            (ConsentStatus::Consumed, Err(Reason::ConsentConsumed)),
            (ConsentStatus::Revoked, Err(Reason::ConsentRevoked)),
            (ConsentStatus::Expired, Err(Reason::ConsentExpired)),
        ];
        for (status, usable) in expected {
            assert_eq!(
                consent_in(status, payment_terms()).check_usable(at(5)),
                usable,
                "{status:?}"
            );
        }
    }

    #[test]
    fn scopes_follow_the_kind() {
        assert_eq!(access_terms().kind().required_scope(), Scope::AccountsRead);
        assert_eq!(
            payment_terms().kind().required_scope(),
            Scope::PaymentsInitiate
        );
    }

    #[test]
    fn a_consent_binds_any_account_for_access_else_its_debtor_or_an_open_current_account() {
        let kes = |number, open| BindableAccount {
            number,
            currency: Currency::Kes,
            open_current_account: open,
        };
        let access = ConsentTerms::AccountAccess {
            permissions: BTreeSet::from([Permission::ReadAccounts]),
        };
        assert!(access.may_bind(&kes("1", false)));
        let mut terms = PaymentTerms {
            amount: Money::from_minor(100, Currency::Kes),
            creditor_name: "Jane Doe".into(),
            creditor_account: "01100012345".into(),
            reference: "rent".into(),
            debtor_account: None,
        };
        let payment = ConsentTerms::Payment(terms.clone());
        assert!(payment.may_bind(&kes("1", true)));
        assert!(!payment.may_bind(&kes("1", false)), "savings or disabled");
        let usd = BindableAccount {
            currency: Currency::Usd,
            ..kes("2", true)
        };
        assert!(!payment.may_bind(&usd), "another currency");
        terms.debtor_account = Some("7".into());
        let named = ConsentTerms::Payment(terms);
        assert!(named.may_bind(&kes("7", false)), "the named debtor account");
        assert!(!named.may_bind(&kes("1", true)), "only the named one");
    }
}
