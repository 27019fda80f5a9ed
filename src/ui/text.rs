//! Words that the Rust side of the screens shows: outcome titles, details
//! and list rows that the adapters build. Every such string goes through
//! [`tr`], [`tr_args`] or, with a count, [`tr_plural`], as every string in the `.slint` files goes through
//! `@tr`, so one catalog translates both (see [`super::catalog`]).
//!
//! Placeholders follow `@tr`: `{}` takes the next argument and `{0}`, `{1}`
//! take the argument at that position.
//!
//! The language is kept per thread, like Slint's own translation state,
//! because the screens live on the thread that runs the event loop.
//! [`super::language::apply`] sets both.

use std::cell::Cell;
use std::fmt::Display;

use super::catalog;

/// A language the screens are translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// The msgids themselves.
    #[default]
    English,
    SimplifiedChinese,
}

impl Language {
    /// Returns the value of `ui.language` for this language, which is also
    /// the folder name of its catalog under `ui/translations/`.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::SimplifiedChinese => "zh_CN",
        }
    }

    /// Resolves a `ui.language` setting. `auto` picks Simplified Chinese
    /// when the system locale starts with `zh`, and English otherwise.
    pub fn from_setting(setting: &str) -> Language {
        Language::from_setting_and_locale(setting, system_locale().as_deref())
    }

    /// Resolves a `ui.language` setting against the locale `locale`.
    pub fn from_setting_and_locale(setting: &str, locale: Option<&str>) -> Language {
        match setting {
            "zh_CN" => Language::SimplifiedChinese,
            "auto" if locale.is_some_and(|locale| locale.starts_with("zh")) => {
                Language::SimplifiedChinese
            }
            _ => Language::English,
        }
    }
}

/// Returns the locale of the messages, as POSIX ranks the variables: the
/// first non-empty one of `LC_ALL`, `LC_MESSAGES` and `LANG`.
pub fn system_locale() -> Option<String> {
    locale_from(|name| std::env::var(name).ok())
}

fn locale_from(variable: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .filter_map(variable)
        .find(|value| !value.is_empty())
}

thread_local! {
    static CURRENT: Cell<Language> = const { Cell::new(Language::English) };
}

/// Returns the language of the strings [`tr`] returns on this thread.
pub fn language() -> Language {
    CURRENT.get()
}

/// Sets the language of [`tr`] on this thread. The `.slint` strings follow
/// only through [`super::language::apply`].
pub fn set_language(language: Language) {
    CURRENT.set(language);
}

/// Returns the translation of `msgid` into `language`, or `None` when the
/// language is English or the catalog lacks it.
pub fn translation(language: Language, msgid: &str) -> Option<&'static str> {
    match language {
        Language::English => None,
        Language::SimplifiedChinese => {
            catalog::zh_cn().get(msgid).map(|entry| entry.translations[0].as_str())
        }
    }
}

/// Returns the text for `msgid` in the current language. A msgid missing from the
/// catalog shows in English.
pub fn tr(msgid: &str) -> String {
    translation(language(), msgid).unwrap_or(msgid).to_owned()
}

/// Returns the text for `msgid` in the current language, with its placeholders
/// replaced by `args`.
pub fn tr_args(msgid: &str, args: &[&dyn Display]) -> String {
    fill(&tr(msgid), args)
}

/// Returns the text for a message with a count `n`, in the current language: the
/// `singular` or `plural` msgid in English, and the catalog's plural form
/// for `n` otherwise. `{n}` takes `n`, and `{}` and `{0}` … take `args`.
pub fn tr_plural(singular: &str, plural: &str, n: u64, args: &[&dyn Display]) -> String {
    let english = if n == 1 { singular } else { plural };
    let template = match language() {
        Language::English => english,
        // Chinese has one plural form (`nplurals=1` in the catalog header).
        Language::SimplifiedChinese => catalog::zh_cn()
            .get(singular)
            .filter(|entry| entry.msgid_plural.is_some())
            .map_or(english, |entry| entry.translations[0].as_str()),
    };
    fill(&template.replace("{n}", &n.to_string()), args)
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
    fn auto_follows_chinese_locale_only() {
        let resolve = Language::from_setting_and_locale;
        assert_eq!(resolve("auto", Some("zh_CN.UTF-8")), Language::SimplifiedChinese);
        assert_eq!(resolve("auto", Some("zh_TW")), Language::SimplifiedChinese);
        assert_eq!(resolve("auto", Some("en_US.UTF-8")), Language::English);
        assert_eq!(resolve("auto", Some("C")), Language::English);
        assert_eq!(resolve("auto", None), Language::English);
        assert_eq!(resolve("en", Some("zh_CN.UTF-8")), Language::English);
        assert_eq!(resolve("zh_CN", Some("en_US.UTF-8")), Language::SimplifiedChinese);
    }

    #[test]
    fn locale_variables_rank_lc_all_first() {
        fn env<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name| {
                pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
            }
        }
        let all = [("LC_ALL", "zh_CN.UTF-8"), ("LC_MESSAGES", "en_US"), ("LANG", "en_US")];
        assert_eq!(locale_from(env(&all)).as_deref(), Some("zh_CN.UTF-8"));
        let messages = [("LC_ALL", ""), ("LC_MESSAGES", "en_US"), ("LANG", "zh_CN")];
        assert_eq!(locale_from(env(&messages)).as_deref(), Some("en_US"));
        assert_eq!(
            locale_from(env(&[("LANG", "zh_CN.GB18030")])).as_deref(),
            Some("zh_CN.GB18030")
        );
        assert_eq!(locale_from(env(&[])), None);
    }

    #[test]
    fn tr_follows_the_thread_language() {
        set_language(Language::SimplifiedChinese);
        assert_eq!(tr("Wrong parcel"), "包裹不对");
        assert_eq!(tr_args("Give {} to the customer", &[&"JJD0001"]), "将 JJD0001 交给顾客");
        assert_eq!(tr("A msgid the catalog lacks"), "A msgid the catalog lacks");
        set_language(Language::English);
        assert_eq!(tr("Wrong parcel"), "Wrong parcel");
        assert_eq!(
            tr_args("Give {} to the customer", &[&"JJD0001"]),
            "Give JJD0001 to the customer"
        );
    }

    #[test]
    fn tr_plural_picks_the_form_for_the_count() {
        set_language(Language::English);
        let given_to_courier =
            |n| tr_plural("{n} parcel given to {}", "{n} parcels given to {}", n, &[&"ZTO"]);
        assert_eq!(given_to_courier(1), "1 parcel given to ZTO");
        assert_eq!(given_to_courier(0), "0 parcels given to ZTO");
        assert_eq!(given_to_courier(2), "2 parcels given to ZTO");
        set_language(Language::SimplifiedChinese);
        assert_eq!(given_to_courier(1), "已交给 ZTO 1 件包裹");
        assert_eq!(given_to_courier(3), "已交给 ZTO 3 件包裹");
        assert_eq!(tr_plural("{n} apple", "{n} apples", 2, &[]), "2 apples");
        set_language(Language::English);
    }

    #[test]
    fn unmatched_braces_and_missing_arguments_stay() {
        assert_eq!(fill("{} and {}", &[&1]), "1 and {}");
        assert_eq!(fill("open { only", &[]), "open { only");
        assert_eq!(fill("{x}", &[&1]), "{x}");
    }
}
