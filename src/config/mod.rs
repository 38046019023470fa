//! Configuration: TOML → a validated [`Config`], or every problem with file, line and column.
//!
//! The annotated reference is `examples/parkway.toml`. Loading reads the config file and the
//! suppression lists it names (paths relative to the config file), each only if it is a regular
//! file under its size limit ([`crate::files`]); everything else is pure.
//! Syntax errors, wrong types and unknown keys stop at the first one (that is how the TOML parser
//! works); all semantic problems (unknown zones, bad regexes, missing ids, …) are collected.

pub mod build;
mod destination;
pub mod error;
pub mod model;
pub mod money;
pub mod raw;
mod rules;
mod tokens;
mod whisper;

use std::path::Path;

pub use destination::{DRIVER_GLOBAL_VARS, DRIVER_LEG_VARS, DRIVER_WHISPER_VARS};
pub use error::{ConfigError, ConfigErrors, Problem};
pub use model::*;
pub use money::{Currency, Money};

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text =
        crate::files::read_text_limited(path, crate::files::MAX_CONFIG_BYTES).map_err(|e| {
            ConfigErrors(vec![Problem {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                error: ConfigError::Read {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                },
            }])
        })?;
    parse(&text, path, &|p| {
        crate::files::read_text_limited(p, crate::files::MAX_LIST_BYTES)
    })
}

/// Validates config text. `file` names it in errors and anchors relative list paths; `read_list`
/// reads suppression list files.
pub fn parse(
    text: &str,
    file: &Path,
    read_list: build::ListReader<'_>,
) -> Result<Config, ConfigErrors> {
    let mut builder = build::Builder::new(text, file, read_list);
    if text.trim().is_empty() {
        builder.problem(
            0..0,
            ConfigError::Shape(
                "the config is empty: it needs at least one [[buyer]] and one [[router]]",
            ),
        );
        return Err(ConfigErrors(builder.problems));
    }
    let raw: raw::RawConfig = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            builder.problem(span, ConfigError::Toml(e.message().trim().to_string()));
            return Err(ConfigErrors(builder.problems));
        }
    };
    match builder.build(raw) {
        Some(config) if builder.problems.is_empty() => Ok(config),
        _ => Err(ConfigErrors(builder.problems)),
    }
}

#[cfg(test)]
mod tests;
