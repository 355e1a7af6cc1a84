//! Which of a test user's accounts a consent binds. The app may name accounts (`account_ids`),
//! which must be the user's and ones the consent may bind
//! ([`ConsentTerms::may_bind`](wekeza_domain::ConsentTerms::may_bind), the consent screen's
//! rule); otherwise the user "ticks" what the consent screen would offer: every account for
//! account access, the consent's debtor account or else the first open current account in the
//! amount's currency for a payment or a funds check.

use std::collections::BTreeSet;

use wekeza_domain::{AccountId, Consent, ConsentTerms};
use wekeza_ledger::{Account, AccountQuery, CoreBanking, Customer};

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
    if let Some(number) = consent.terms.debtor_account()
        && !owned.iter().any(|account| account.account_number == number)
    {
        return Err(Error::InvalidField(
            "username",
            "the consent's debtor account is not an account of this user".into(),
        ));
    }
    let bindable = |account: &&Account| consent.terms.may_bind(&account.bindable());
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
            if !bindable(&account) {
                return Err(Error::InvalidField(
                    "account_ids",
                    format!("{text} cannot be bound to this consent"),
                ));
            }
            chosen.insert(account.id.clone());
        }
        return Ok(chosen);
    }
    let mut offered = owned.iter().filter(bindable);
    if let ConsentTerms::AccountAccess { .. } = consent.terms {
        return Ok(offered.map(|account| account.id.clone()).collect());
    }
    let account = offered.next().ok_or_else(|| {
        Error::InvalidField(
            "account_ids",
            "the user has no account this consent can be bound to".into(),
        )
    })?;
    Ok(BTreeSet::from([account.id.clone()]))
}
