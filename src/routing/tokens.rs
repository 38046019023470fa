//! The call's tokens: what filters look at.
//!
//! Sources, in lookup order:
//! - derived: `caller_id_number`, `caller_id_name`, `destination_number`, and from the caller's
//!   number `area_code` (NANP NPA, e.g. `310`), `state` (two-letter US state or Canadian province,
//!   e.g. `CA`, `ON`) and `country` (`US` / `CA`);
//! - every channel variable of the parked call, under its name without the `variable_` prefix
//!   (`variable_campaign` → `campaign`).
//!
//! The time of day is a token too, but it depends on the buyer's zone, so the filter evaluator
//! provides it per buyer: `local_hour` (`0`–`23`), `local_time` (`HH:MM`) and `local_weekday`
//! (`mon` … `sun`). A channel variable with one of the derived names is shadowed by the derived value.

use std::collections::HashMap;

use super::area_codes::{nanp_area_code, region_of};
use parkway_esl::fasthash::FxHashMap;

/// Which token a filter reads, resolved once when the filter is built so evaluating it does not
/// compare names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKey {
    LocalHour,
    LocalTime,
    LocalWeekday,
    CallerNumber,
    CallerName,
    Destination,
    AreaCode,
    State,
    Country,
    /// A channel variable, looked up by name.
    Variable,
}

impl TokenKey {
    pub fn of(name: &str) -> TokenKey {
        match name {
            "local_hour" => TokenKey::LocalHour,
            "local_time" => TokenKey::LocalTime,
            "local_weekday" => TokenKey::LocalWeekday,
            "caller_id_number" => TokenKey::CallerNumber,
            "caller_id_name" => TokenKey::CallerName,
            "destination_number" => TokenKey::Destination,
            "area_code" => TokenKey::AreaCode,
            "state" => TokenKey::State,
            "country" => TokenKey::Country,
            _ => TokenKey::Variable,
        }
    }
}

/// The tokens of one call. Build it with [`Tokens::new`] or [`Tokens::from_channel_headers`].
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    vars: FxHashMap<String, String>,
    caller_number: Option<String>,
    caller_name: Option<String>,
    destination: Option<String>,
    area_code: Option<String>,
    state: Option<&'static str>,
    country: Option<&'static str>,
}

/// The caller fields of a parked channel.
#[derive(Debug, Clone, Default)]
pub struct CallerFields {
    pub number: Option<String>,
    pub name: Option<String>,
    pub destination: Option<String>,
}

impl Tokens {
    /// Builds tokens from channel variables (keys with or without the `variable_` prefix) and the
    /// caller fields.
    pub fn new<I, K, V>(vars: I, caller: CallerFields) -> Tokens
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = FxHashMap::default();
        for (k, v) in vars {
            let k: String = k.into();
            let k = match k.strip_prefix("variable_") {
                Some(rest) => rest.to_string(),
                None => k,
            };
            map.insert(k, v.into());
        }
        let area = caller.number.as_deref().and_then(nanp_area_code);
        let region = area.and_then(region_of);
        Tokens {
            vars: map,
            area_code: area.map(|a| a.to_string()),
            state: region.map(|r| r.code),
            country: region.map(|r| r.country.code()),
            caller_number: caller.number,
            caller_name: caller.name,
            destination: caller.destination,
        }
    }

    /// Builds tokens from the headers of a CHANNEL_PARK event: every `variable_*` header becomes a
    /// token, and the caller fields come from `Caller-Caller-ID-Number`, `Caller-Caller-ID-Name` and
    /// `Caller-Destination-Number`. Other headers are ignored.
    pub fn from_channel_headers(headers: &HashMap<String, String>) -> Tokens {
        let caller = CallerFields {
            number: headers.get("Caller-Caller-ID-Number").cloned(),
            name: headers.get("Caller-Caller-ID-Name").cloned(),
            destination: headers.get("Caller-Destination-Number").cloned(),
        };
        let vars = headers
            .iter()
            .filter(|(k, _)| k.starts_with("variable_"))
            .map(|(k, v)| (k.clone(), v.clone()));
        Tokens::new(vars, caller)
    }

    /// The value of a token, derived ones first. (The `local_*` time tokens depend on a buyer's
    /// zone and are not answered here; see [`super::filter::token_value`].)
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_keyed(TokenKey::of(name), name)
    }

    /// [`Tokens::get`] with the name already resolved.
    pub fn get_keyed(&self, key: TokenKey, name: &str) -> Option<&str> {
        match key {
            TokenKey::CallerNumber => self.caller_number.as_deref(),
            TokenKey::CallerName => self.caller_name.as_deref(),
            TokenKey::Destination => self.destination.as_deref(),
            TokenKey::AreaCode => self.area_code.as_deref(),
            TokenKey::State => self.state,
            TokenKey::Country => self.country,
            TokenKey::LocalHour | TokenKey::LocalTime | TokenKey::LocalWeekday => None,
            TokenKey::Variable => self.vars.get(name).map(String::as_str),
        }
    }

    /// Forgets a token's value: a channel variable, or `caller_id_name` (the other built-ins
    /// are parkway's own readings and stay).
    pub fn remove(&mut self, name: &str) {
        match TokenKey::of(name) {
            TokenKey::Variable => {
                self.vars.remove(name);
            }
            TokenKey::CallerName => self.caller_name = None,
            _ => {}
        }
    }

    pub fn caller_number(&self) -> Option<&str> {
        self.caller_number.as_deref()
    }

    pub fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_prefix_and_derives_region() {
        let t = Tokens::new(
            [("variable_campaign", "solar"), ("age", "44")],
            CallerFields {
                number: Some("+14165550100".into()),
                name: Some("Jo".into()),
                destination: Some("18005550000".into()),
            },
        );
        assert_eq!(t.get("campaign"), Some("solar"));
        assert_eq!(t.get("age"), Some("44"));
        assert_eq!(t.get("area_code"), Some("416"));
        assert_eq!(t.get("state"), Some("ON"));
        assert_eq!(t.get("country"), Some("CA"));
        assert_eq!(t.get("caller_id_name"), Some("Jo"));
        assert_eq!(t.get("destination_number"), Some("18005550000"));
        assert_eq!(t.get("nope"), None);
    }

    #[test]
    fn from_park_headers() {
        let mut h = HashMap::new();
        h.insert("variable_campaign".to_string(), "auto".to_string());
        h.insert(
            "Caller-Caller-ID-Number".to_string(),
            "2125550100".to_string(),
        );
        h.insert("Event-Name".to_string(), "CHANNEL_PARK".to_string());
        let t = Tokens::from_channel_headers(&h);
        assert_eq!(t.get("campaign"), Some("auto"));
        assert_eq!(t.get("state"), Some("NY"));
        assert_eq!(t.get("Event-Name"), None);
    }

    #[test]
    fn unknown_area_code_has_no_state() {
        let t = Tokens::new(
            Vec::<(String, String)>::new(),
            CallerFields {
                number: Some("18005550100".into()),
                ..Default::default()
            },
        );
        assert_eq!(t.get("area_code"), Some("800"));
        assert_eq!(t.get("state"), None);
    }
}
