//! The bank's internal accounts: the other leg of every customer posting, one per purpose and
//! currency. Their account numbers follow a fixed scheme, so they are found without a table of
//! their own: `099` + purpose (2 digits) + ISO 4217 numeric code (3 digits) + `000`.

use wekeza_domain::Currency;

/// What an internal account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InternalAccount {
    /// Balances brought forward when accounts were loaded into the ledger.
    OpeningBalances,
    /// Interbank clearing (EFT, RTGS, PesaLink): salaries in, rent and suppliers out.
    Clearing,
    /// The bank's float at the mobile-money operator (M-Pesa).
    MobileMoney,
    /// Card-scheme settlement: card purchases out, merchant acquiring in.
    CardSettlement,
    /// The bank's foreign-exchange position.
    ForeignExchange,
    /// The bank's income and expense for fees and interest.
    FeesAndInterest,
}

impl InternalAccount {
    /// Every purpose, in a stable order.
    pub const ALL: [InternalAccount; 6] = [
        InternalAccount::OpeningBalances,
        InternalAccount::Clearing,
        InternalAccount::MobileMoney,
        InternalAccount::CardSettlement,
        InternalAccount::ForeignExchange,
        InternalAccount::FeesAndInterest,
    ];

    /// The currencies internal accounts are held in.
    pub const CURRENCIES: [Currency; 4] =
        [Currency::Kes, Currency::Usd, Currency::Eur, Currency::Gbp];

    fn code(self) -> &'static str {
        match self {
            Self::OpeningBalances => "01",
            Self::Clearing => "02",
            Self::MobileMoney => "03",
            Self::CardSettlement => "04",
            Self::ForeignExchange => "05",
            Self::FeesAndInterest => "06",
        }
    }

    /// The purpose as the account's nickname shows it.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpeningBalances => "Opening balances",
            Self::Clearing => "Interbank clearing",
            Self::MobileMoney => "M-Pesa settlement",
            Self::CardSettlement => "Card settlement",
            Self::ForeignExchange => "Foreign exchange position",
            Self::FeesAndInterest => "Fees and interest",
        }
    }

    /// The account number of this purpose's account in `currency`.
    pub fn account_number(self, currency: Currency) -> String {
        format!("099{}{}000", self.code(), numeric_code(currency))
    }
}

/// ISO 4217 numeric code.
fn numeric_code(currency: Currency) -> &'static str {
    match currency {
        Currency::Kes => "404",
        Currency::Usd => "840",
        Currency::Eur => "978",
        Currency::Gbp => "826",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_numbers_are_unique_and_eleven_digits() {
        let mut seen = std::collections::BTreeSet::new();
        for purpose in InternalAccount::ALL {
            for currency in InternalAccount::CURRENCIES {
                let number = purpose.account_number(currency);
                assert_eq!(number.len(), 11, "{number}");
                assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
                assert!(seen.insert(number));
            }
        }
        assert_eq!(
            InternalAccount::Clearing.account_number(Currency::Kes),
            "09902404000"
        );
    }
}
