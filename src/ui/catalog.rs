//! The gettext catalogs that translate the screens. Slint's compiler bundles
//! `ui/translations/<lang>/LC_MESSAGES/pickup-terminal.po` into the `.slint`
//! code at build time, and the same file is parsed here once for the strings
//! that Rust builds, so one catalog serves both.
//!
//! The parser reads the subset of the PO format that the catalogs use:
//! `msgid`, `msgid_plural`, `msgstr`, `msgstr[N]`, `msgctxt`, continued
//! string lines, the escapes `\"`, `\\`, `\n` and `\t`, and the `fuzzy` flag.
//! As in Slint's bundler, fuzzy and empty translations count as missing.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The Simplified Chinese catalog, the file Slint bundles.
const ZH_CN_PO: &str = include_str!("../../ui/translations/zh_CN/LC_MESSAGES/pickup-terminal.po");

/// One translated message of a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogEntry {
    pub msgctxt: Option<String>,
    pub msgid: String,
    pub msgid_plural: Option<String>,
    /// `msgstr`, or `msgstr[0]`, `msgstr[1]` … of a plural message.
    pub translations: Vec<String>,
    pub fuzzy: bool,
}

impl CatalogEntry {
    /// True when Slint's bundler would use the entry: not fuzzy, and every
    /// form translated.
    pub fn is_translated(&self) -> bool {
        !self.fuzzy
            && !self.translations.is_empty()
            && self.translations.iter().all(|text| !text.is_empty())
    }
}

/// The translated messages of the zh_CN catalog without a context, by msgid.
pub fn zh_cn() -> &'static HashMap<String, CatalogEntry> {
    static CATALOG: LazyLock<HashMap<String, CatalogEntry>> = LazyLock::new(|| {
        parse(ZH_CN_PO)
            .unwrap_or_else(|error| panic!("the bundled zh_CN catalog is invalid: {error}"))
            .into_iter()
            .filter(|entry| entry.msgctxt.is_none() && !entry.msgid.is_empty())
            .filter(CatalogEntry::is_translated)
            .map(|entry| (entry.msgid.clone(), entry))
            .collect()
    });
    &CATALOG
}

/// The field a string line continues.
#[derive(Clone, Copy)]
enum Field {
    Context,
    Id,
    IdPlural,
    Translation(usize),
}

/// Parses the entries of a PO file, the header (empty msgid) included.
/// Returns the line number and the problem for a line it cannot read.
pub fn parse(text: &str) -> Result<Vec<CatalogEntry>, String> {
    let mut entries = Vec::new();
    let mut entry = CatalogEntry::default();
    let mut started = false;
    let mut field = None;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw.trim();
        let fail = |problem: &str| format!("line {line_number}: {problem}: {raw}");
        if line.is_empty() {
            continue;
        }
        if let Some(flags) = line.strip_prefix("#,") {
            if started && field.is_some() {
                entries.push(std::mem::take(&mut entry));
                started = false;
                field = None;
            }
            entry.fuzzy |= flags.split(',').any(|flag| flag.trim() == "fuzzy");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with('"') {
            let value = unquote(line).ok_or_else(|| fail("invalid string"))?;
            let target = field.ok_or_else(|| fail("string outside an entry"))?;
            field_mut(&mut entry, target).push_str(&value);
            continue;
        }
        let (keyword, rest) =
            line.split_once(char::is_whitespace).ok_or_else(|| fail("no value"))?;
        let value = unquote(rest.trim()).ok_or_else(|| fail("invalid string"))?;
        let next = match keyword {
            "msgctxt" => Field::Context,
            "msgid" => Field::Id,
            "msgid_plural" => Field::IdPlural,
            "msgstr" => Field::Translation(0),
            _ => {
                let number = keyword
                    .strip_prefix("msgstr[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .and_then(|number| number.parse::<usize>().ok())
                    .ok_or_else(|| fail("unknown keyword"))?;
                Field::Translation(number)
            }
        };
        // A msgctxt, or a msgid not after a msgctxt, starts the next entry.
        let starts_entry = match next {
            Field::Context => true,
            Field::Id => !matches!(field, Some(Field::Context)),
            _ => false,
        };
        if starts_entry && started {
            entries.push(std::mem::take(&mut entry));
        }
        if starts_entry {
            started = true;
        } else if !started {
            return Err(fail("no msgid before it"));
        }
        if let Field::Translation(number) = next
            && entry.translations.len() <= number
        {
            entry.translations.resize(number + 1, String::new());
        }
        let slot = field_mut(&mut entry, next);
        slot.clear();
        slot.push_str(&value);
        field = Some(next);
    }
    if started {
        entries.push(entry);
    }
    Ok(entries)
}

fn field_mut(entry: &mut CatalogEntry, field: Field) -> &mut String {
    match field {
        Field::Context => entry.msgctxt.get_or_insert_with(String::new),
        Field::Id => &mut entry.msgid,
        Field::IdPlural => entry.msgid_plural.get_or_insert_with(String::new),
        Field::Translation(number) => &mut entry.translations[number],
    }
}

/// Returns the text of one quoted PO string with its escapes resolved.
fn unquote(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                '"' => '"',
                '\\' => '\\',
                _ => return None,
            }),
            '"' => return None,
            c => text.push(c),
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_singular_plural_and_continued_entries() {
        let po = r#"
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=1; plural=0;\n"

# A comment.
msgid "Home"
msgstr "首页"

msgid "{n} unsent"
msgid_plural "{n} unsent"
msgstr[0] "{n} 条未发送"

msgid ""
"Find the parcel "
"and scan it."
msgstr "找到包裹"
"并扫描。"

msgctxt "Menu"
msgid "Open"
msgstr "打开"
"#;
        let entries = parse(po).unwrap();
        assert_eq!(entries.len(), 5);
        assert!(entries[0].msgid.is_empty());
        assert!(entries[0].translations[0].contains("nplurals=1"));
        assert_eq!(entries[1].msgid, "Home");
        assert_eq!(entries[1].translations, ["首页"]);
        assert_eq!(entries[2].msgid_plural.as_deref(), Some("{n} unsent"));
        assert_eq!(entries[2].translations, ["{n} 条未发送"]);
        assert_eq!(entries[3].msgid, "Find the parcel and scan it.");
        assert_eq!(entries[3].translations, ["找到包裹并扫描。"]);
        assert_eq!(entries[4].msgctxt.as_deref(), Some("Menu"));
        assert_eq!(entries[4].msgid, "Open");
    }

    #[test]
    fn parse_resolves_escapes() {
        let entries = parse("msgid \"Say \\\"hi\\\" \\\\ \\n\"\nmsgstr \"x\"\n").unwrap();
        assert_eq!(entries[0].msgid, "Say \"hi\" \\ \n");
    }

    #[test]
    fn fuzzy_and_empty_entries_are_untranslated() {
        let po = "#, fuzzy\nmsgid \"Wet\"\nmsgstr \"受潮\"\n\nmsgid \"Torn\"\nmsgstr \"\"\n\nmsgid \"Opened\"\nmsgstr \"已拆封\"\n";
        let entries = parse(po).unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries[0].fuzzy);
        assert!(!entries[0].is_translated());
        assert!(!entries[1].is_translated());
        assert!(entries[2].is_translated(), "the fuzzy flag stays on its entry");
    }

    #[test]
    fn parse_names_the_bad_line() {
        let error = parse("msgid \"a\"\nmsgstr \"b\n").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
        let error = parse("msgstr \"b\"\n").unwrap_err();
        assert!(error.contains("no msgid"), "{error}");
        let error = parse("msgid \"a\"\nmsgfoo \"b\"\n").unwrap_err();
        assert!(error.contains("unknown keyword"), "{error}");
    }

    #[test]
    fn bundled_catalog_parses_and_translates() {
        let catalog = zh_cn();
        assert!(catalog.len() > 100, "only {} entries", catalog.len());
        assert_eq!(catalog["Home"].translations, ["首页"]);
    }
}
