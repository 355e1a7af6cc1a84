//! Which of a test user's accounts a consent binds. The consent's own debtor account wins; the
//! app may name accounts (`account_ids`), which must be the user's; otherwise the user "ticks"
//! what the consent screen would offer: every account for account access, the first current
//! account in the amount's currency for a payment or a funds check.

use std::collections::BTreeSet;

use wekeza_domain::{AccountId, Consent, ConsentTerms, Currency};
use wekeza_ledger::{Account, AccountQuery, AccountStatus, AccountSubtype, CoreBanking, Customer};

use crate::Error;

/// The accounts `customer` binds to `consent`, given the app's `requested` ids (maybe none).
pub(crate) async fn to_bind(
    core: &dyn CoreBanking,
    consent: &Consent,
    customer: &Customer,
    requested: &[String],
) -> Result<BTreeSet<AccountId>, Error> {
    let query = AccountQuery {
        only: None,
        after_id: None,
        limit: wekeza_ledger::MAX_PAGE_SIZE,
    };
    let owned = core.accounts(&customer.id, &query).await?;
    let debtor = match consent.terms.debtor_account() {
        Some(number) => Some(
            owned
                .iter()
                .find(|account| account.account_number == number)
                .ok_or_else(|| {
                    Error::InvalidField(
                        "username",
                        "the consent's debtor account is not an account of this user".into(),
                    )
                })?,
        ),
        None => None,
    };
    if !requested.is_empty() {
        let mut chosen = BTreeSet::new();
        for text in requested {
            let account = text
                .parse::<AccountId>()
                .ok()
                .and_then(|id| owned.iter().find(|account| account.id == id))
                .ok_or_else(|| {
                    Error::InvalidField(
                        "account_ids",
                        format!("{text} is not an account of the user"),
                    )
                })?;
            chosen.insert(account.id.clone());
        }
        if let Some(debtor) = debtor
            && chosen != BTreeSet::from([debtor.id.clone()])
        {
            return Err(Error::InvalidField(
                "account_ids",
                "the consent names its debtor account: bind that one or none".into(),
            ));
        }
        return Ok(chosen);
    }
    let currency = match &consent.terms {
        ConsentTerms::AccountAccess { .. } => {
            return Ok(owned.into_iter().map(|account| account.id).collect());
        }
        ConsentTerms::Payment(terms) => terms.amount.currency(),
        ConsentTerms::FundsConfirmation(terms) => terms.amount.currency(),
    };
    let account = match debtor {
        Some(debtor) => debtor,
        None => primary_current_account(&owned, currency).ok_or_else(|| {
            Error::InvalidField(
                "account_ids",
                format!("the user has no current account in {}", currency.code()),
            )
        })?,
    };
    Ok(BTreeSet::from([account.id.clone()]))
}

/// The user's first open current account in `currency`.
fn primary_current_account(owned: &[Account], currency: Currency) -> Option<&Account> {
    owned.iter().find(|account| {
        account.subtype == AccountSubtype::CurrentAccount
            && account.currency == currency
            && account.status == AccountStatus::Enabled
    })
}
