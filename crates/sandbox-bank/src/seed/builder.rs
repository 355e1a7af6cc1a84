//! The in-memory ledger the seed is built in: customers, accounts and dated events, posted in
//! time order with running balances, before a single row is written.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SubsecRound, Utc};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha20Rng;
use wekeza_domain::{AccountId, Currency, CustomerId, JournalId, TransactionId};
use wekeza_store::entity::enums::{
    AccountOwner, AccountStatus, AccountSubtype, CustomerKind, PostingStatus,
};
use wekeza_store::entity::{accounts, customers, journals, postings};
use wekeza_store::secret::{self, PasswordStrength};

use super::{HISTORY_DAYS, TestUser};
use crate::{InternalAccount, JournalKind};

/// A card merchant: name as the statement shows it, ISO 18245 code, spending category.
#[derive(Debug, Clone, Copy)]
pub(super) struct Merchant {
    pub name: &'static str,
    pub mcc: &'static str,
    pub category: &'static str,
}

/// Who a customer is, beyond the published test user.
pub(super) struct CustomerSpec {
    pub user: &'static TestUser,
    pub full_name: &'static str,
    pub kind: CustomerKind,
    pub email: &'static str,
    pub phone_number: &'static str,
    pub address_line: &'static str,
    pub town_name: &'static str,
    pub post_code: &'static str,
    /// How long before the anchor the customer joined the bank.
    pub customer_for_days: i64,
}

/// One account to open.
pub(super) struct AccountSpec {
    pub subtype: AccountSubtype,
    pub currency: Currency,
    pub nickname: &'static str,
    /// Fixed account number; the next in sequence when `None`.
    pub account_number: Option<&'static str>,
    pub overdraft_limit_minor: i64,
    /// Balance brought forward at the start of the history.
    pub opening_minor: i64,
}

/// What a posting shows on a statement.
#[derive(Debug, Clone, Default)]
pub(super) struct Text {
    pub description: String,
    pub reference: String,
    pub category: String,
    pub merchant_name: Option<String>,
    pub merchant_category_code: Option<String>,
    pub counterparty_name: Option<String>,
}

/// How an event's amounts are settled when it is posted.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// As generated.
    Fixed,
    /// Debit the first leg's account down to exactly this balance (skipped if not above it).
    BringTo(i64),
    /// Credit the first leg's account up to exactly this balance (skipped if not below it).
    RaiseTo(i64),
    /// A month of overdraft interest at this yearly rate in basis points (skipped if in credit).
    OverdraftInterest(i64),
}

struct Leg {
    account: usize,
    amount: i64,
    text: Text,
}

struct Event {
    at: DateTime<Utc>,
    kind: JournalKind,
    description: String,
    legs: Vec<Leg>,
    rule: Rule,
}

/// The data set under construction.
pub(super) struct Builder {
    rng: ChaCha20Rng,
    anchor: DateTime<Utc>,
    /// When balances are brought forward; every other event comes after it.
    opening_at: DateTime<Utc>,
    pub customers: Vec<customers::Model>,
    pub accounts: Vec<accounts::Model>,
    internal: BTreeMap<(InternalAccount, Currency), usize>,
    events: Vec<Event>,
    next_account_number: u32,
}

/// A customer's account number: `011` + 8 digits.
fn customer_account_number(sequence: u32) -> String {
    format!("011000{:05}", 10_000 + sequence)
}

impl Builder {
    pub fn new(rng: ChaCha20Rng, anchor: DateTime<Utc>) -> Self {
        let start = (anchor - Duration::days(HISTORY_DAYS)).date_naive();
        let mut builder = Self {
            rng,
            anchor,
            opening_at: midnight(start) + Duration::hours(5),
            customers: Vec::new(),
            accounts: Vec::new(),
            internal: BTreeMap::new(),
            events: Vec::new(),
            next_account_number: 1,
        };
        builder.open_internal_accounts();
        builder
    }

    fn open_internal_accounts(&mut self) {
        let opened_at = midnight((self.anchor - Duration::days(3650)).date_naive());
        for purpose in InternalAccount::ALL {
            for currency in InternalAccount::CURRENCIES {
                let id = AccountId::generate(opened_at, &mut self.rng);
                self.internal
                    .insert((purpose, currency), self.accounts.len());
                self.accounts.push(accounts::Model {
                    id: id.to_string(),
                    customer_id: None,
                    owner: AccountOwner::Internal,
                    kind: CustomerKind::Business,
                    subtype: AccountSubtype::CurrentAccount,
                    currency: currency.code().to_owned(),
                    nickname: format!("{} ({})", purpose.name(), currency.code()),
                    status: AccountStatus::Enabled,
                    account_number: purpose.account_number(currency),
                    holder_name: "Wekeza Bank".to_owned(),
                    opened_at,
                    overdraft_limit_minor: 0,
                    booked_minor: 0,
                    held_minor: 0,
                    is_primary: false,
                });
            }
        }
    }

    /// Creates a customer with its accounts (the first is the primary one) and their opening
    /// balances; answers the accounts' indexes.
    pub fn customer(
        &mut self,
        spec: CustomerSpec,
        accounts: &[AccountSpec],
    ) -> wekeza_store::Result<Vec<usize>> {
        let joined = midnight((self.anchor - Duration::days(spec.customer_for_days)).date_naive())
            + Duration::hours(9);
        let customer_id = CustomerId::generate(joined, &mut self.rng);
        let password_hash =
            secret::hash_password(spec.user.password, PasswordStrength::Sandbox, &mut self.rng)?;
        let totp_secret = secret::generate_totp_secret(&mut self.rng);
        self.customers.push(customers::Model {
            id: customer_id.to_string(),
            username: spec.user.username.to_owned(),
            password_hash,
            full_name: spec.full_name.to_owned(),
            email: spec.email.to_owned(),
            phone_number: spec.phone_number.to_owned(),
            address_line: spec.address_line.to_owned(),
            town_name: spec.town_name.to_owned(),
            post_code: spec.post_code.to_owned(),
            country: "KE".to_owned(),
            kind: spec.kind,
            persona: spec.user.persona.to_owned(),
            totp_secret,
            created_at: joined,
        });
        let mut indexes = Vec::with_capacity(accounts.len());
        for (position, account) in accounts.iter().enumerate() {
            // Later accounts were opened later, so ids (hence listings) start with the primary.
            let opened_at = joined + Duration::days(30 * i64::try_from(position).unwrap_or(0));
            let account_number = match account.account_number {
                Some(number) => number.to_owned(),
                None => {
                    let number = customer_account_number(self.next_account_number);
                    self.next_account_number += 1;
                    number
                }
            };
            let index = self.accounts.len();
            self.accounts.push(accounts::Model {
                id: AccountId::generate(opened_at, &mut self.rng).to_string(),
                customer_id: Some(customer_id.to_string()),
                owner: AccountOwner::Customer,
                kind: spec.kind,
                subtype: account.subtype,
                currency: account.currency.code().to_owned(),
                nickname: account.nickname.to_owned(),
                status: AccountStatus::Enabled,
                account_number,
                holder_name: spec.full_name.to_owned(),
                opened_at,
                overdraft_limit_minor: account.overdraft_limit_minor,
                booked_minor: 0,
                held_minor: 0,
                is_primary: position == 0,
            });
            indexes.push(index);
            if account.opening_minor == 0 {
                continue;
            }
            let text = Text {
                description: "Balance brought forward".to_owned(),
                reference: "OPENING".to_owned(),
                category: "opening_balance".to_owned(),
                ..Text::default()
            };
            self.push(
                self.opening_at,
                JournalKind::Opening,
                index,
                account.opening_minor,
                InternalAccount::OpeningBalances,
                text,
            );
        }
        Ok(indexes)
    }

    // === randomness and time ===

    /// The days of the history, oldest first (the anchor's own day included).
    pub fn days(&self) -> Vec<NaiveDate> {
        let first = self.opening_at.date_naive();
        let last = self.anchor.date_naive();
        first
            .iter_days()
            .skip(1)
            .take_while(|day| *day <= last)
            .collect()
    }

    pub fn anchor(&self) -> DateTime<Utc> {
        self.anchor
    }

    /// A random instant on `day` between `from` and `to` o'clock Nairobi time (UTC+3).
    pub fn at(&mut self, day: NaiveDate, from: i64, to: i64) -> DateTime<Utc> {
        let seconds = self.rng.random_range(from * 3600..to * 3600);
        midnight(day) + Duration::seconds(seconds - 3 * 3600)
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.rng.random_bool(probability.clamp(0.0, 1.0))
    }

    /// A whole number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..=high)
    }

    /// An amount in minor units between `low` and `high` major units, cents included.
    pub fn amount(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low * 100..=high * 100)
    }

    /// An amount in minor units between `low` and `high` major units, a multiple of `step`.
    pub fn round_amount(&mut self, low: i64, high: i64, step: i64) -> i64 {
        self.rng.random_range(low / step..=high / step) * step * 100
    }

    pub fn pick<T: Copy, const N: usize>(&mut self, items: &[T; N]) -> T {
        items[self.rng.random_range(0..N)]
    }

    /// An M-Pesa-style receipt code, e.g. `SJK4T7Y2QX`.
    pub fn receipt_code(&mut self) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut code = String::from("S");
        for _ in 0..9 {
            code.push(char::from(self.pick(ALPHABET)));
        }
        code
    }

    /// A card authorisation code, six digits.
    pub fn auth_code(&mut self) -> String {
        format!("{:06}", self.rng.next_u32() % 1_000_000)
    }

    // === events ===

    /// Records a two-leg journal: `amount` on the customer's account (signed from its view)
    /// and the opposite on the internal account for `purpose` in the same currency. Events
    /// outside the history are dropped.
    pub fn push(
        &mut self,
        at: DateTime<Utc>,
        kind: JournalKind,
        account: usize,
        amount: i64,
        purpose: InternalAccount,
        text: Text,
    ) {
        self.push_with_rule(at, kind, account, amount, purpose, text, Rule::Fixed);
    }

    #[allow(clippy::too_many_arguments, reason = "private; one call per rule")]
    fn push_with_rule(
        &mut self,
        at: DateTime<Utc>,
        kind: JournalKind,
        account: usize,
        amount: i64,
        purpose: InternalAccount,
        text: Text,
        rule: Rule,
    ) {
        let Some(internal) = self.internal_for(account, purpose) else {
            return;
        };
        let holder = self
            .accounts
            .get(account)
            .map(|row| row.holder_name.clone());
        let internal_text = Text {
            category: "settlement".to_owned(),
            merchant_name: None,
            merchant_category_code: None,
            counterparty_name: holder,
            ..text.clone()
        };
        let description = text.description.clone();
        self.record(Event {
            at,
            kind,
            description,
            legs: vec![
                Leg {
                    account,
                    amount,
                    text,
                },
                Leg {
                    account: internal,
                    amount: -amount,
                    text: internal_text,
                },
            ],
            rule,
        });
    }

    /// Debits `account` down to exactly `target` minor units with a card purchase at
    /// `merchant` (nothing if the balance is already at or below it).
    pub fn card_bringing_balance_to(
        &mut self,
        at: DateTime<Utc>,
        account: usize,
        merchant: Merchant,
        target: i64,
    ) {
        let text = self.card_text(merchant);
        self.push_with_rule(
            at,
            JournalKind::Card,
            account,
            0,
            InternalAccount::CardSettlement,
            text,
            Rule::BringTo(target),
        );
    }

    /// Credits `account` up to exactly `target` minor units with a transfer from `from`
    /// (nothing if the balance is already at or above it).
    pub fn transfer_raising_balance_to(
        &mut self,
        at: DateTime<Utc>,
        account: usize,
        text: Text,
        target: i64,
    ) {
        self.push_with_rule(
            at,
            JournalKind::Transfer,
            account,
            0,
            InternalAccount::Clearing,
            text,
            Rule::RaiseTo(target),
        );
    }

    /// A month of overdraft interest on the balance at `at`, if it is negative.
    pub fn overdraft_interest(&mut self, at: DateTime<Utc>, account: usize, yearly_bp: i64) {
        let text = Text {
            description: "Overdraft interest".to_owned(),
            reference: format!("ODINT {}", at.format("%b %Y")),
            category: "fees".to_owned(),
            ..Text::default()
        };
        self.push_with_rule(
            at,
            JournalKind::Fee,
            account,
            0,
            InternalAccount::FeesAndInterest,
            text,
            Rule::OverdraftInterest(yearly_bp),
        );
    }

    /// A journal between two of a customer's accounts (same or different currencies): the
    /// debit of `from`, the credit of `to`, and, across currencies, the bank's FX position.
    pub fn between_accounts(
        &mut self,
        at: DateTime<Utc>,
        kind: JournalKind,
        from: (usize, i64),
        to: (usize, i64),
        text: Text,
    ) {
        let (from, debit) = from;
        let (to, credit) = to;
        let currency_of = |index: usize, accounts: &[accounts::Model]| {
            accounts.get(index).map(|row| row.currency.clone())
        };
        let mut legs = vec![
            Leg {
                account: from,
                amount: -debit,
                text: text.clone(),
            },
            Leg {
                account: to,
                amount: credit,
                text: text.clone(),
            },
        ];
        if currency_of(from, &self.accounts) != currency_of(to, &self.accounts) {
            let (Some(position_from), Some(position_to)) = (
                self.internal_for(from, InternalAccount::ForeignExchange),
                self.internal_for(to, InternalAccount::ForeignExchange),
            ) else {
                return;
            };
            let position_text = Text {
                category: "settlement".to_owned(),
                ..text.clone()
            };
            legs.push(Leg {
                account: position_from,
                amount: debit,
                text: position_text.clone(),
            });
            legs.push(Leg {
                account: position_to,
                amount: -credit,
                text: position_text,
            });
        }
        self.record(Event {
            at,
            kind,
            description: text.description,
            legs,
            rule: Rule::Fixed,
        });
    }

    pub fn card_text(&mut self, merchant: Merchant) -> Text {
        Text {
            description: format!("Card purchase {}", merchant.name),
            reference: self.auth_code(),
            category: merchant.category.to_owned(),
            merchant_name: Some(merchant.name.to_owned()),
            merchant_category_code: Some(merchant.mcc.to_owned()),
            counterparty_name: None,
        }
    }

    fn internal_for(&self, account: usize, purpose: InternalAccount) -> Option<usize> {
        let currency = Currency::parse(&self.accounts.get(account)?.currency).ok()?;
        self.internal.get(&(purpose, currency)).copied()
    }

    fn record(&mut self, event: Event) {
        let opening = event.kind == JournalKind::Opening;
        let in_history = event.at > self.opening_at && event.at < self.anchor;
        if opening || in_history {
            self.events.push(event);
        }
    }

    // === posting ===

    /// Posts every event in time order, moving balances; events that would take a customer
    /// account below its overdraft limit are dropped, as the real ledger would refuse them.
    pub fn post(&mut self) -> (Vec<journals::Model>, Vec<postings::Model>) {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|event| event.at);
        let mut journals = Vec::with_capacity(events.len());
        let mut postings = Vec::with_capacity(events.len() * 2);
        let mut last: Option<DateTime<Utc>> = None;
        for mut event in events {
            if !self.settle(&mut event) {
                continue;
            }
            // Strictly increasing booking times: posting ids (ULIDs of the millisecond) then
            // sort exactly as the postings were made, and so do the balances after them.
            let mut at = event.at.trunc_subsecs(3);
            if let Some(previous) = last
                && at <= previous
            {
                at = previous + Duration::milliseconds(1);
            }
            last = Some(at);
            let journal_id = JournalId::generate(at, &mut self.rng);
            for leg in event.legs {
                let Some(account) = self.accounts.get_mut(leg.account) else {
                    continue;
                };
                account.booked_minor += leg.amount;
                postings.push(postings::Model {
                    id: TransactionId::generate(at, &mut self.rng).to_string(),
                    journal_id: journal_id.to_string(),
                    account_id: account.id.clone(),
                    amount_minor: leg.amount,
                    currency: account.currency.clone(),
                    status: PostingStatus::Booked,
                    booking_time: at,
                    value_time: at,
                    description: leg.text.description,
                    reference: leg.text.reference,
                    category: leg.text.category,
                    merchant_name: leg.text.merchant_name,
                    merchant_category_code: leg.text.merchant_category_code,
                    counterparty_name: leg.text.counterparty_name,
                    balance_after_minor: account.booked_minor,
                });
            }
            journals.push(journals::Model {
                id: journal_id.to_string(),
                kind: event.kind.stored(),
                description: event.description,
                created_at: at,
                external_reference: None,
            });
        }
        (journals, postings)
    }

    /// Fixes the amounts of rule-based events and checks overdraft limits; `false` drops it.
    fn settle(&self, event: &mut Event) -> bool {
        let balance = |index: usize| self.accounts.get(index).map_or(0, |row| row.booked_minor);
        // The first leg's amount, and whether the rule wants a credit (else a debit).
        let amount = match (event.rule, event.legs.first()) {
            (Rule::Fixed, _) | (_, None) => None,
            (Rule::BringTo(target), Some(first)) => Some((target - balance(first.account), false)),
            (Rule::RaiseTo(target), Some(first)) => Some((target - balance(first.account), true)),
            (Rule::OverdraftInterest(yearly_bp), Some(first)) => Some((
                balance(first.account).min(0) * yearly_bp / 10_000 / 12,
                false,
            )),
        };
        if let Some((amount, credit)) = amount {
            if amount == 0 || (amount > 0) != credit {
                return false;
            }
            let mut sign = 1;
            for leg in &mut event.legs {
                leg.amount = sign * amount;
                sign = -sign;
            }
        }
        event.kind == JournalKind::Opening
            || event.legs.iter().all(|leg| {
                self.accounts.get(leg.account).is_some_and(|row| {
                    row.owner == AccountOwner::Internal
                        || leg.amount >= 0
                        || row.booked_minor + leg.amount - row.held_minor
                            >= -row.overdraft_limit_minor
                })
            })
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}
