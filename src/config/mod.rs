//! Configuration: TOML → a validated [`Config`], or every problem with file, line and column.
//!
//! The annotated reference is `examples/parkway.toml`. Loading reads the config file and the
//! suppression lists it names (paths relative to the config file); everything else is pure.
//! Syntax errors, wrong types and unknown keys stop at the first one (that is how the TOML parser
//! works); all semantic problems (unknown zones, bad regexes, missing ids, …) are collected.

pub mod build;
mod destination;
pub mod error;
pub mod model;
pub mod money;
pub mod raw;
mod rules;
mod whisper;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors, Problem};
pub use model::*;
pub use money::{Currency, Money};

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
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
    parse(&text, path, &|p| std::fs::read_to_string(p))
}

/// Validates config text. `file` names it in errors and anchors relative list paths; `read_list`
/// reads suppression list files.
pub fn parse(
    text: &str,
    file: &Path,
    read_list: build::ListReader<'_>,
) -> Result<Config, ConfigErrors> {
    let mut builder = build::Builder::new(text, file, read_list);
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
