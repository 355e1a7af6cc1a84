//! Core-banking model → wire messages. What a consent's permissions hide (account
//! identification without `READ_ACCOUNTS_DETAIL`) is decided here, in one place.

use wekeza_ledger as core;
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{indicator, money, timestamp};

/// Scheme of the bank's own account numbers.
pub const ACCOUNT_NUMBER_SCHEME: &str = "KE.WEKEZA.ACCOUNTNUMBER";

pub fn account(account: &core::Account, with_detail: bool) -> pb::Account {
    pb::Account {
        account_id: account.id.to_string(),
        account_type: match account.kind {
            core::CustomerKind::Personal => pb::AccountType::Personal,
            core::CustomerKind::Business => pb::AccountType::Business,
        }
        .into(),
        account_subtype: match account.subtype {
            core::AccountSubtype::CurrentAccount => pb::AccountSubtype::CurrentAccount,
            core::AccountSubtype::Savings => pb::AccountSubtype::Savings,
        }
        .into(),
        currency: account.currency.code().to_owned(),
        nickname: account.nickname.clone(),
        status: match account.status {
            core::AccountStatus::Enabled => pb::AccountStatus::Enabled,
            core::AccountStatus::Disabled => pb::AccountStatus::Disabled,
        }
        .into(),
        opening_time: Some(timestamp(account.opened_at)),
        identification: with_detail.then(|| pb::AccountIdentification {
            scheme_name: ACCOUNT_NUMBER_SCHEME.to_owned(),
            identification: account.account_number.clone(),
            name: account.holder_name.clone(),
        }),
    }
}

pub fn balances(balance: &core::AccountBalance) -> Vec<pb::Balance> {
    let credit_line = (balance.overdraft_limit.minor() > 0).then(|| pb::CreditLine {
        included: true,
        amount: Some(money(balance.overdraft_limit)),
    });
    let one = |kind: pb::BalanceType, amount, credit_lines: Vec<pb::CreditLine>| pb::Balance {
        account_id: balance.account_id.to_string(),
        r#type: kind.into(),
        amount: Some(money(amount)),
        credit_debit_indicator: indicator(amount).into(),
        update_time: Some(timestamp(balance.as_of)),
        credit_lines,
    };
    vec![
        one(pb::BalanceType::InterimBooked, balance.booked, Vec::new()),
        one(
            pb::BalanceType::InterimAvailable,
            balance.available,
            credit_line.into_iter().collect(),
        ),
    ]
}

pub fn transaction(entry: &core::Transaction) -> pb::Transaction {
    pb::Transaction {
        transaction_id: entry.id.to_string(),
        account_id: entry.account_id.to_string(),
        status: match entry.status {
            core::TransactionStatus::Booked => pb::TransactionStatus::Booked,
            core::TransactionStatus::Pending => pb::TransactionStatus::Pending,
        }
        .into(),
        credit_debit_indicator: indicator(entry.amount).into(),
        amount: Some(money(entry.amount)),
        booking_time: Some(timestamp(entry.booking_time)),
        value_time: Some(timestamp(entry.value_time)),
        transaction_information: entry.description.clone(),
        reference: entry.reference.clone(),
        category: entry.category.clone(),
        merchant: entry
            .merchant_name
            .as_ref()
            .map(|name| pb::MerchantDetails {
                merchant_name: name.clone(),
                merchant_category_code: entry.merchant_category_code.clone().unwrap_or_default(),
            }),
        counterparty_name: entry.counterparty_name.clone().unwrap_or_default(),
        balance_after: Some(money(entry.balance_after)),
        balance_after_indicator: indicator(entry.balance_after).into(),
    }
}

pub fn profile(customer: &core::Customer) -> pb::CustomerProfile {
    pb::CustomerProfile {
        customer_id: customer.id.to_string(),
        full_name: customer.full_name.clone(),
        email: customer.email.clone(),
        phone_number: customer.phone_number.clone(),
        address: Some(pb::PostalAddress {
            address_line: customer.address.address_line.clone(),
            town_name: customer.address.town_name.clone(),
            post_code: customer.address.post_code.clone(),
            country: customer.address.country.clone(),
        }),
        kind: match customer.kind {
            core::CustomerKind::Personal => pb::CustomerKind::Personal,
            core::CustomerKind::Business => pb::CustomerKind::Business,
        }
        .into(),
    }
}
