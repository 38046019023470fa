//! The few command encodings the client itself needs (`auth`, `api`, `bgapi` with a Job-UUID,
//! `connect`, …). Temporary: replaced by `esl::command::Command` once that lands.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::EslError;

fn check(field: &'static str, text: &str) -> Result<(), EslError> {
    if text.contains(['\n', '\r']) {
        return Err(EslError::InvalidCommand(format!(
            "{field} contains a line break (would inject an ESL command)"
        )));
    }
    Ok(())
}

/// `line\n` + `Name: value\n`… + `\n`.
pub(crate) fn command(line: &str, headers: &[(&str, &str)]) -> Result<Bytes, EslError> {
    check("command line", line)?;
    let mut out = BytesMut::with_capacity(line.len() + 2 + headers.len() * 48);
    out.put_slice(line.as_bytes());
    out.put_u8(b'\n');
    for (name, value) in headers {
        check("header", name)?;
        check("header value", value)?;
        out.put_slice(name.as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    Ok(out.freeze())
}
