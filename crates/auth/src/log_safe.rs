//! Values a client chose (a client id, a user name, a header), made safe for a log line.
//!
//! Why: a line break in a client id logged as it came wrote a convincing log line of the
//! client's choosing; ANSI escapes recoloured the terminal of whoever read the log, and a
//! 1.5 MB user name went into the log whole. Every field a client chose is logged through
//! [`log_safe`]: control characters (and Unicode's line separators and direction overrides)
//! escaped as `\u{..}`, and the value cut to [`MAX_LOGGED_CHARS`] characters.

use std::fmt;

/// Most characters of a client-chosen value written to a log line.
pub const MAX_LOGGED_CHARS: usize = 200;

/// A client-chosen value as it is logged ([`log_safe`]).
pub struct LogSafe<'a>(&'a str);

/// `value` for a log line: control characters escaped, cut to [`MAX_LOGGED_CHARS`].
pub fn log_safe(value: &str) -> LogSafe<'_> {
    LogSafe(value)
}

/// Characters that would change how a log line reads: controls (line breaks, escapes), line
/// and paragraph separators, and bidirectional overrides.
fn disguises(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.char_indices();
        for (_, c) in chars.by_ref().take(MAX_LOGGED_CHARS) {
            if disguises(c) {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        if let Some((at, _)) = chars.next() {
            write!(f, "... ({} more bytes)", self.0.len() - at)?;
        }
        Ok(())
    }
}

impl fmt::Debug for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_escapes_and_long_values_are_neutralised() {
        let forged = "x\n2026-12-07T10:00:00Z  INFO token issued client_id=admin";
        assert_eq!(
            log_safe(forged).to_string(),
            "x\\u{a}2026-12-07T10:00:00Z  INFO token issued client_id=admin"
        );
        assert_eq!(
            log_safe("\u{1b}[31mred\r").to_string(),
            "\\u{1b}[31mred\\u{d}"
        );
        assert_eq!(log_safe("a\u{202e}b").to_string(), "a\\u{202e}b");
        let long = "é".repeat(1000);
        let logged = log_safe(&long).to_string();
        assert!(logged.starts_with(&"é".repeat(MAX_LOGGED_CHARS)));
        assert!(logged.ends_with("... (1600 more bytes)"), "{logged}");
        assert_eq!(log_safe("client-1").to_string(), "client-1");
    }
}
