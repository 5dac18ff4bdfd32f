//! An error as text with its causes, for the edges where errors become text
//! (log lines, the writer's `/status` `last_error.message` and HTTP answers,
//! the operator's conditions and Events, the command line). Errors inside
//! the writer and the operator keep their causes as
//! [`source`](std::error::Error::source) and leave them out of their own
//! message; this puts them back, outermost first, joined by `": "`.

use std::error::Error;
use std::fmt;

/// Displays an error followed by its causes (see [`with_causes`]).
#[derive(Clone, Copy)]
pub struct WithCauses<'a>(&'a (dyn Error + 'static));

/// `error` and each of its causes, joined by `": "`. A cause whose text the
/// message already contains is skipped: some libraries (hyper, the AWS SDK)
/// repeat their cause in their own message.
pub fn with_causes<'a>(error: &'a (dyn Error + 'static)) -> WithCauses<'a> {
    WithCauses(error)
}

impl fmt::Display for WithCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(inner) = cause {
            let inner_text = inner.to_string();
            if !inner_text.is_empty() && !text.contains(&inner_text) {
                text.push_str(": ");
                text.push_str(&inner_text);
            }
            cause = inner.source();
        }
        f.write_str(&text)
    }
}

impl fmt::Debug for WithCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing t/manifest.json")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("request failed: connection refused")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn the_causes_follow_the_message() {
        let error = Outer(std::io::Error::other("disk full"));
        assert_eq!(
            with_causes(&error).to_string(),
            "writing t/manifest.json: disk full"
        );
    }

    #[test]
    fn a_cause_the_message_already_names_is_not_repeated() {
        let error = Repeats(std::io::Error::other("connection refused"));
        assert_eq!(
            with_causes(&error).to_string(),
            "request failed: connection refused"
        );
    }
}
