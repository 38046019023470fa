//! `originate <dial string> <target>`: the API call that creates a buyer leg from the router
//! (`bgapi originate {origination_uuid=…}… &park`).

use super::api::check_plain_arg;
use super::{ApiCommand, CommandError, check_no_line_break, check_token};
use crate::dialstring::{DialString, DialStringError, Quoting};

/// Where `originate` sends the new leg once it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateTarget {
    /// `&app` or `&app(arg)`: run one application (`&park`, `&sleep(3600000)`).
    App {
        /// The application (letters, digits and `_`).
        name: String,
        /// Its argument, written in parentheses (one word: no blank, quote, backslash or
        /// parenthesis).
        arg: Option<String>,
    },
    /// `<extension> [<dialplan> [<context>]]`: the answered leg runs the dialplan from there.
    Extension {
        /// The extension (destination number) to run.
        extension: String,
        /// The dialplan (`XML`, FreeSWITCH's default; filled in when only a context is given).
        dialplan: Option<String>,
        /// The context (`default` in FreeSWITCH when absent).
        context: Option<String>,
    },
}

/// Errors from [`ApiCommand::originate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateError {
    /// The target (or the whole command text) was refused.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The dial string could not be encoded safely.
    #[error(transparent)]
    DialString(#[from] DialStringError),
}

impl ApiCommand {
    /// `originate <dial string> <target>`. The dial string is encoded for `mod_commands`'
    /// blank splitter (values with blanks are quoted), so it stays one argument.
    pub fn originate(
        dial: &DialString,
        target: &OriginateTarget,
    ) -> Result<ApiCommand, OriginateError> {
        let dial = dial.encode_with(Quoting::ApiArgument)?;
        let target = match target {
            OriginateTarget::App { name, arg } => {
                check_app_name(name)?;
                match arg {
                    Some(a) => {
                        check_no_line_break("application argument", a)?;
                        if a.contains([' ', '\'', '\\', '(', ')']) {
                            return Err(invalid("application argument", a).into());
                        }
                        format!("&{name}({a})")
                    }
                    None => format!("&{name}"),
                }
            }
            OriginateTarget::Extension {
                extension,
                dialplan,
                context,
            } => {
                check_token("extension", extension)?;
                check_plain_arg("extension", extension)?;
                if extension.starts_with('&') {
                    return Err(invalid("extension", extension).into());
                }
                // FreeSWITCH's own default dialplan, needed to name a context.
                let dialplan = dialplan.as_deref().or(context.as_ref().map(|_| "XML"));
                let mut text = extension.clone();
                for (field, word) in [("dialplan", dialplan), ("context", context.as_deref())] {
                    if let Some(word) = word {
                        check_token(field, word)?;
                        check_plain_arg(field, word)?;
                        text.push(' ');
                        text.push_str(word);
                    }
                }
                text
            }
        };
        ApiCommand::raw(format!("originate {dial} {target}")).map_err(OriginateError::from)
    }
}

fn invalid(field: &'static str, value: &str) -> CommandError {
    CommandError::InvalidToken {
        field,
        value: value.to_owned(),
    }
}

/// An application name: letters, digits and `_`.
fn check_app_name(name: &str) -> Result<(), CommandError> {
    check_no_line_break("application", name)?;
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(invalid("application", name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialstring::{Endpoint, Group, Leg};

    fn dial() -> DialString {
        DialString::new(
            vec![("origination_uuid".into(), "abc-1".into())],
            vec![Group::of(vec![Leg::new(
                vec![],
                Endpoint::User { id: "1000".into() },
            )])],
        )
    }

    #[test]
    fn targets() {
        let text =
            |t: OriginateTarget| ApiCommand::originate(&dial(), &t).map(|c| c.as_str().to_owned());
        let app = |n: &str, a: Option<&str>| OriginateTarget::App {
            name: n.into(),
            arg: a.map(Into::into),
        };
        let ext = |e: &str, d: Option<&str>, c: Option<&str>| OriginateTarget::Extension {
            extension: e.into(),
            dialplan: d.map(Into::into),
            context: c.map(Into::into),
        };
        assert_eq!(
            text(app("park", None)).as_deref(),
            Ok("originate {origination_uuid=abc-1}user/1000 &park")
        );
        assert_eq!(
            text(app("sleep", Some("3600000"))).as_deref(),
            Ok("originate {origination_uuid=abc-1}user/1000 &sleep(3600000)")
        );
        assert_eq!(
            text(ext("1000", None, None)).as_deref(),
            Ok("originate {origination_uuid=abc-1}user/1000 1000")
        );
        assert_eq!(
            text(ext("1000", None, Some("buyers"))).as_deref(),
            Ok("originate {origination_uuid=abc-1}user/1000 1000 XML buyers")
        );
        for bad in [
            app("park(x)", None),
            app("p", Some("a b")),
            app("p", Some("x)&y(")),
            ext("&park", None, None),
            ext("a b", None, None),
            ext("1", Some("XML\nexit"), None),
        ] {
            assert!(text(bad.clone()).is_err(), "{bad:?}");
        }
    }
}
