//! `originate <dial string> <target>`: the API call that creates a buyer leg from the router
//! (`bgapi originate {origination_uuid=…}… &park`).

use super::api::check_plain_arg;
use super::{ApiCommand, CommandError, check_no_line_break, check_token};
use crate::esl::dialstring::{DialString, DialStringError, Quoting};

/// Where `originate` sends the new leg once it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateTarget {
    /// `&app` or `&app(arg)`: run one application (`&park`, `&sleep(3600000)`).
    App { name: String, arg: Option<String> },
    /// `<extension> [<dialplan> [<context>]]`.
    Extension {
        extension: String,
        dialplan: Option<String>,
        context: Option<String>,
    },
}

/// Errors from [`ApiCommand::originate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateError {
    #[error(transparent)]
    Command(#[from] CommandError),
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
                check_token("application", name)?;
                check_plain_arg("application", name)?;
                match arg {
                    Some(a) => {
                        check_no_line_break("application argument", a)?;
                        let ok = !a.contains([' ', '\'', '\\', '(', ')']);
                        if !ok {
                            return Err(CommandError::InvalidToken {
                                field: "application argument",
                                value: a.clone(),
                            }
                            .into());
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
                let mut text = String::new();
                for (field, word) in [
                    ("extension", Some(extension)),
                    ("dialplan", dialplan.as_ref()),
                    ("context", context.as_ref()),
                ] {
                    let Some(word) = word else { break };
                    check_token(field, word)?;
                    check_plain_arg(field, word)?;
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(word);
                }
                text
            }
        };
        ApiCommand::raw(format!("originate {dial} {target}")).map_err(OriginateError::from)
    }
}
