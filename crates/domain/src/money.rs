//! Money: integer minor units in memory and storage, a decimal string plus ISO 4217 code on
//! the wire (`{"amount":"10.50","currency":"KES"}`). Never a float.

use std::fmt;

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not an ISO 4217 code the bank handles.
    #[error("unsupported currency `{0}`")]
    UnsupportedCurrency(String),
    /// Not a plain non-negative decimal like `150.00`.
    #[error("amount must be a non-negative decimal string such as \"150.00\"")]
    MalformedAmount,
    /// More fraction digits than the currency has.
    #[error("{currency} amounts have at most {digits} decimal places")]
    TooPrecise {
        /// The currency's code.
        currency: &'static str,
        /// Its minor-unit digits.
        digits: u32,
    },
    /// Larger than the platform represents.
    #[error("amount too large")]
    Overflow,
}

/// A currency the bank handles, with its ISO 4217 minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    /// Kenyan shilling.
    Kes,
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
}

impl Currency {
    /// The ISO 4217 alphabetic code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Kes => "KES",
            Self::Usd => "USD",
            Self::Eur => "EUR",
            Self::Gbp => "GBP",
        }
    }

    /// Digits after the decimal separator.
    pub fn minor_digits(self) -> u32 {
        2
    }

    /// Parses an ISO 4217 code (upper case, as the standard writes it).
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        match code {
            "KES" => Ok(Self::Kes),
            "USD" => Ok(Self::Usd),
            "EUR" => Ok(Self::Eur),
            "GBP" => Ok(Self::Gbp),
            other => Err(MoneyError::UnsupportedCurrency(other.to_owned())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in one currency, as signed integer minor units (cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// `minor` units (e.g. cents) of `currency`.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Parses a wire amount: a non-negative decimal string and an ISO 4217 code.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let currency = Currency::parse(currency)?;
        let digits = currency.minor_digits();
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (amount.contains('.') && fraction.is_empty())
        {
            return Err(MoneyError::MalformedAmount);
        }
        if fraction.len() > digits as usize {
            return Err(MoneyError::TooPrecise {
                currency: currency.code(),
                digits,
            });
        }
        let scale = 10i64.pow(digits);
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let padded = format!("{fraction:0<width$}", width = digits as usize);
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| MoneyError::MalformedAmount)?
        };
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(fraction))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    /// Signed minor units.
    pub fn minor(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    /// The absolute amount as a wire decimal string, e.g. `"150.00"`.
    pub fn abs_decimal(self) -> String {
        let digits = self.currency.minor_digits();
        let scale = 10u64.pow(digits);
        let abs = self.minor.unsigned_abs();
        format!(
            "{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = digits as usize
        )
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { "-" } else { "" };
        write!(f, "{sign}{} {}", self.abs_decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_wire_amounts() {
        assert_eq!(Money::parse("150.00", "KES").map(Money::minor), Ok(15_000));
        assert_eq!(Money::parse("150", "KES").map(Money::minor), Ok(15_000));
        assert_eq!(Money::parse("0.5", "USD").map(Money::minor), Ok(50));
        assert_eq!(
            Money::parse("1.005", "KES"),
            Err(MoneyError::TooPrecise {
                currency: "KES",
                digits: 2
            })
        );
        for bad in ["", "-1.00", "1.", ".5", "1e3", "1,00", " 1", "abc"] {
            assert_eq!(
                Money::parse(bad, "KES"),
                Err(MoneyError::MalformedAmount),
                "{bad}"
            );
        }
        assert_eq!(
            Money::parse("1.00", "kes"),
            Err(MoneyError::UnsupportedCurrency("kes".into()))
        );
        assert_eq!(
            Money::parse("99999999999999999999", "KES"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn formats_absolute_decimal() {
        assert_eq!(
            Money::from_minor(-12_345, Currency::Kes).abs_decimal(),
            "123.45"
        );
        assert_eq!(Money::from_minor(7, Currency::Usd).abs_decimal(), "0.07");
        assert_eq!(
            Money::from_minor(-7, Currency::Usd).to_string(),
            "-0.07 USD"
        );
    }

    proptest! {
        /// Any text, as amount and currency, is parsed or refused, never a panic (overflow
        /// included); proptest's case count, `PROPTEST_CASES` for more.
        #[test]
        fn parsing_never_panics(
            amount in prop_oneof![any::<String>(), "[0-9]{0,25}(\\.[0-9]{0,25})?", "[-+0-9.e ]{0,30}"],
            currency in prop_oneof![any::<String>(), "(KES|USD|EUR|GBP|kes|XXX)"],
        ) {
            if let Ok(money) = Money::parse(&amount, &currency) {
                prop_assert!(!money.is_negative());
                prop_assert_eq!(Money::parse(&money.abs_decimal(), &currency), Ok(money));
            }
        }

        #[test]
        fn decimal_round_trips(minor in 0i64..i64::MAX / 2) {
            let money = Money::from_minor(minor, Currency::Kes);
            prop_assert_eq!(Money::parse(&money.abs_decimal(), "KES"), Ok(money));
        }
    }
}
