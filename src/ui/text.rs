//! Words that the Rust side of the screens shows: outcome titles, details
//! and list rows that the adapters build. Every such string goes through
//! [`tr`] or [`tr_args`], as every string in the `.slint` files goes through
//! `@tr`, so one catalog translates both.
//!
//! Placeholders follow `@tr`: `{}` takes the next argument and `{0}`, `{1}`
//! take the argument at that position.

use std::fmt::Display;

/// The text for `msgid` in the current language.
pub fn tr(msgid: &str) -> String {
    msgid.to_owned()
}

/// The text for `msgid` in the current language, with its placeholders
/// replaced by `args`.
pub fn tr_args(msgid: &str, args: &[&dyn Display]) -> String {
    fill(&tr(msgid), args)
}

/// Replaces `{}` and `{N}` in `template` with `args`. A placeholder without
/// an argument, and any other brace, stays as it is.
fn fill(template: &str, args: &[&dyn Display]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut next = 0;
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inside = &after[..close];
        let index = if inside.is_empty() {
            next += 1;
            Some(next - 1)
        } else {
            inside.parse::<usize>().ok()
        };
        match index.and_then(|index| args.get(index)) {
            Some(arg) => out.push_str(&arg.to_string()),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_arguments_in_order_or_by_position() {
        assert_eq!(fill("{} of {}", &[&3, &5]), "3 of 5");
        assert_eq!(fill("{1} before {0}", &[&"a", &"b"]), "b before a");
        assert_eq!(fill("no placeholders", &[&1]), "no placeholders");
    }

    #[test]
    fn unmatched_braces_and_missing_arguments_stay() {
        assert_eq!(fill("{} and {}", &[&1]), "1 and {}");
        assert_eq!(fill("open { only", &[]), "open { only");
        assert_eq!(fill("{x}", &[&1]), "{x}");
    }
}
