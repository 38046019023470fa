//! Exact money: integer minor units with a currency, and exact decimal parsing.
//!
//! Money is never a float: amounts are written in the config as decimal *strings* (`"12.50"`), parsed
//! digit by digit into minor units, and compared and summed as integers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A currency the router knows, with the number of minor-unit digits it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    USD,
    CAD,
    EUR,
    GBP,
    AUD,
    MXN,
    JPY,
}

impl Currency {
    /// Digits after the decimal point (2 for cents, 0 for yen).
    pub fn exponent(self) -> u32 {
        match self {
            Currency::JPY => 0,
            _ => 2,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::USD => "USD",
            Currency::CAD => "CAD",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::AUD => "AUD",
            Currency::MXN => "MXN",
            Currency::JPY => "JPY",
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "USD" => Currency::USD,
            "CAD" => Currency::CAD,
            "EUR" => Currency::EUR,
            "GBP" => Currency::GBP,
            "AUD" => Currency::AUD,
            "MXN" => Currency::MXN,
            "JPY" => Currency::JPY,
            other => return Err(MoneyError::UnknownCurrency(other.to_string())),
        })
    }
}

/// An exact amount: `minor` units (cents) of `currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

/// Why a money string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency `{0}` (known: USD, CAD, EUR, GBP, AUD, MXN, JPY)")]
    UnknownCurrency(String),
    #[error("`{0}` is not a decimal amount like \"12.50\"")]
    NotDecimal(String),
    #[error("`{text}` has more than {digits} decimal digits for {currency}")]
    TooManyDecimals {
        text: String,
        digits: u32,
        currency: &'static str,
    },
    #[error("`{0}` is too large")]
    Overflow(String),
    #[error("`{0}` is negative; amounts here must be 0 or more")]
    Negative(String),
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    /// Parses `"12.50"`, `"-3"`, `"0.5"` exactly. More decimals than the currency has is an error,
    /// never a rounding.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let t = text.trim();
        let (negative, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty()
            || !digits_ok(int_part)
            || frac_part.is_some_and(|f| f.is_empty() || !digits_ok(f))
        {
            return Err(MoneyError::NotDecimal(text.to_string()));
        }
        let exp = currency.exponent();
        let frac = frac_part.unwrap_or("");
        if frac.len() as u32 > exp {
            return Err(MoneyError::TooManyDecimals {
                text: text.to_string(),
                digits: exp,
                currency: currency.code(),
            });
        }
        let overflow = || MoneyError::Overflow(text.to_string());
        let mut minor: i64 = 0;
        for b in int_part.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        for i in 0..exp as usize {
            let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(d))
                .ok_or_else(overflow)?;
        }
        Ok(Money {
            minor: if negative { -minor } else { minor },
            currency,
        })
    }

    /// Like [`Money::parse`] but rejects negative amounts (bids, payouts, caps).
    pub fn parse_non_negative(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let m = Money::parse(text, currency)?;
        if m.minor < 0 {
            return Err(MoneyError::Negative(text.to_string()));
        }
        Ok(m)
    }
}

/// Formats minor units of `currency` as a decimal string (`1250` USD → `12.50`).
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let exp = currency.exponent();
    if exp == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale as u64;
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exp as usize
    )
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            format_minor(self.minor, self.currency),
            self.currency.code()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_amounts() {
        let usd = Currency::USD;
        assert_eq!(Money::parse("12.50", usd).unwrap().minor, 1250);
        assert_eq!(Money::parse("12.5", usd).unwrap().minor, 1250);
        assert_eq!(Money::parse("12", usd).unwrap().minor, 1200);
        assert_eq!(Money::parse("0.07", usd).unwrap().minor, 7);
        assert_eq!(Money::parse("-3.10", usd).unwrap().minor, -310);
        assert_eq!(Money::parse("1500", Currency::JPY).unwrap().minor, 1500);
    }

    #[test]
    fn rejects_extra_decimals_and_garbage() {
        let usd = Currency::USD;
        assert!(matches!(
            Money::parse("1.005", usd),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            Money::parse("1.5", Currency::JPY),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        for bad in ["", ".5", "1.", "1e3", "12,50", "abc", "1.2.3", "--1"] {
            assert!(Money::parse(bad, usd).is_err(), "{bad}");
        }
        assert!(matches!(
            Money::parse("99999999999999999999", usd),
            Err(MoneyError::Overflow(_))
        ));
        assert!(matches!(
            Money::parse_non_negative("-1", usd),
            Err(MoneyError::Negative(_))
        ));
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_minor(1250, Currency::USD), "12.50");
        assert_eq!(format_minor(-5, Currency::USD), "-0.05");
        assert_eq!(format_minor(7, Currency::JPY), "7");
        assert_eq!(Money::new(100, Currency::CAD).to_string(), "1.00 CAD");
    }
}
