//! What a call pays: a buyer's [`Payout`] applied to the call, in exact minor units.
//!
//! Rounding rule: per-minute payouts count *started* minutes, ⌈talk_secs / 60⌉ (0 s is 0 minutes,
//! 1–60 s one minute, 61 s two). Amounts are integers; products saturate at the `i64` bounds.

use crate::config::model::{Payout, PayoutBasis};
use crate::config::money::{Currency, Money};

/// Started minutes of `talk_secs`: ⌈talk_secs / 60⌉.
pub fn started_minutes(talk_secs: u64) -> u64 {
    talk_secs.div_ceil(60)
}

/// The payout of one call for one buyer, in `currency`:
/// `call` → amount if connected; `minute` → amount × [`started_minutes`] if connected;
/// `conversion` → amount if converted; no payout → zero.
pub fn payout(
    p: Option<&Payout>,
    connected: bool,
    talk_secs: u64,
    converted: bool,
    currency: Currency,
) -> Money {
    let minor = match p {
        None => 0,
        Some(p) => match p.per {
            PayoutBasis::Call if connected => p.amount.minor,
            PayoutBasis::Minute if connected => {
                let minutes = i64::try_from(started_minutes(talk_secs)).unwrap_or(i64::MAX);
                p.amount.minor.saturating_mul(minutes)
            }
            PayoutBasis::Conversion if converted => p.amount.minor,
            _ => 0,
        },
    };
    Money::new(minor, currency)
}

/// What a call in flight may still bring (minor units), held against the buyer's revenue caps
/// from the dial until the outcome: per call and per conversion, the amount; per minute, one
/// minute's amount, the least a connected call pays (a call may overshoot a revenue cap by its
/// minutes beyond the first: a per-minute buyer's cap holds to within one call's extra minutes
/// per call in flight).
pub fn expected_payout(p: Option<&Payout>) -> i64 {
    p.map_or(0, |p| p.amount.minor.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: Currency = Currency::USD;

    fn p(per: PayoutBasis, minor: i64) -> Payout {
        Payout {
            per,
            amount: Money::new(minor, USD),
        }
    }

    fn pay(p: &Payout, connected: bool, secs: u64, converted: bool) -> i64 {
        payout(Some(p), connected, secs, converted, USD).minor
    }

    #[test]
    fn per_call_pays_once_when_connected() {
        let call = p(PayoutBasis::Call, 1250);
        assert_eq!(pay(&call, true, 0, false), 1250);
        assert_eq!(pay(&call, true, 3600, true), 1250);
        assert_eq!(pay(&call, false, 0, true), 0);
    }

    #[test]
    fn per_minute_counts_started_minutes() {
        let minute = p(PayoutBasis::Minute, 35);
        for (secs, minutes) in [
            (0, 0),
            (1, 1),
            (59, 1),
            (60, 1),
            (61, 2),
            (120, 2),
            (121, 3),
        ] {
            assert_eq!(pay(&minute, true, secs, false), 35 * minutes, "{secs} s");
        }
        assert_eq!(pay(&minute, false, 300, true), 0, "not connected");
        assert_eq!(started_minutes(u64::MAX), u64::MAX / 60 + 1);
    }

    #[test]
    fn per_minute_saturates() {
        let big = p(PayoutBasis::Minute, i64::MAX / 2);
        assert_eq!(pay(&big, true, 180, false), i64::MAX);
        assert_eq!(pay(&big, true, u64::MAX, false), i64::MAX);
    }

    #[test]
    fn per_conversion_needs_the_conversion() {
        let conv = p(PayoutBasis::Conversion, 4000);
        assert_eq!(pay(&conv, true, 600, false), 0);
        assert_eq!(pay(&conv, true, 600, true), 4000);
    }

    #[test]
    fn no_payout_is_zero_in_the_currency() {
        let m = payout(None, true, 600, true, Currency::JPY);
        assert_eq!(m, Money::zero(Currency::JPY));
    }
}
