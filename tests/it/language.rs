//! The screens in Simplified Chinese. The zh_CN catalog covers every msgid
//! of the `.slint` files and of the Rust UI code. The wired window, over a
//! real desk on a SQLite file, shows Chinese at start-up and right after
//! Settings saves the language.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use pickup_terminal::config::Config;
use pickup_terminal::scan::WedgeConfig;
use pickup_terminal::sync::SyncConfig;
use pickup_terminal::ui::catalog::{self, CatalogEntry};
use pickup_terminal::ui::text::{self, Language};
use pickup_terminal::ui::{
    AppWindow, Context, HandoverAdapter, ReceiveAdapter, SettingsAdapter, Shell,
};
use slint::{ComponentHandle, Model};

use crate::screens::{find, init_backend, press, type_keys};
use crate::sync::Setup;

// ---------------------------------------------------------------------------
// The catalog against the sources.

/// A msgid as a source file passes it to `@tr`, `tr` or `tr_args`.
#[derive(Debug, Clone)]
struct Msgid {
    text: String,
    plural: Option<String>,
    /// `path:line` of the call.
    place: String,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the files under `dir` whose names end in `.extension`, sorted.
fn files_under(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{dir:?}: {error}")) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == extension) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Reads the string literal that starts at `source[start]` (a `"`) and
/// returns its text and the index after its closing quote. Handles the
/// escapes both Slint and Rust share, and Rust's line continuation.
fn string_literal(source: &str, start: usize) -> Option<(String, usize)> {
    let mut chars = source[start..].char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut text = String::new();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return Some((text, start + offset + 1)),
            '\\' => match chars.next()?.1 {
                'n' => text.push('\n'),
                't' => text.push('\t'),
                '"' => text.push('"'),
                '\\' => text.push('\\'),
                '\n' => {
                    // A Rust line continuation also drops the next line's
                    // leading whitespace.
                    let rest = &source[start + offset + 2..];
                    let skip = rest.len() - rest.trim_start().len();
                    for _ in rest[..skip].chars() {
                        chars.next();
                    }
                }
                other => {
                    text.push('\\');
                    text.push(other);
                }
            },
            c => text.push(c),
        }
    }
    None
}

fn skip_whitespace(source: &str, index: usize) -> usize {
    let rest = &source[index..];
    index + (rest.len() - rest.trim_start().len())
}

fn line_of(source: &str, index: usize) -> usize {
    source[..index].matches('\n').count() + 1
}

/// Finds every `@tr(...)` of a `.slint` source. A context (`"ctx" =>`) or a
/// msgid that is not a literal is returned as a problem, because the
/// catalog has no contexts and only literals can be looked up.
fn slint_msgids(path: &Path, source: &str) -> (Vec<Msgid>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (index, _) in source.match_indices("@tr(") {
        let place = format!("{}:{}", path.display(), line_of(source, index));
        let start = skip_whitespace(source, index + "@tr(".len());
        let Some((text, end)) = string_literal(source, start) else {
            problems.push(format!("{place}: @tr without a string literal"));
            continue;
        };
        let after = skip_whitespace(source, end);
        if source[after..].starts_with("=>") {
            problems
                .push(format!("{place}: @tr with a context, which the catalog lacks: {text:?}"));
            continue;
        }
        let plural = if source[after..].starts_with('|') {
            let plural_start = skip_whitespace(source, after + 1);
            match string_literal(source, plural_start) {
                Some((plural, _)) => Some(plural),
                None => {
                    problems.push(format!("{place}: plural form without a string literal"));
                    continue;
                }
            }
        } else {
            None
        };
        found.push(Msgid { text, plural, place });
    }
    (found, problems)
}

/// Finds every `tr("…")`, `tr_args("…", …)` and `tr_plural("…", "…", …)`
/// of a Rust source. A call whose msgids are not literals is returned as a
/// problem.
fn rust_msgids(path: &Path, source: &str) -> (Vec<Msgid>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for call in ["tr(", "tr_args("] {
        for (index, _) in source.match_indices(call) {
            let before = source[..index].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let place = format!("{}:{}", path.display(), line_of(source, index));
            let start = skip_whitespace(source, index + call.len());
            match string_literal(source, start) {
                Some((text, _)) => found.push(Msgid { text, plural: None, place }),
                None => problems.push(format!("{place}: {call}…) without a string literal")),
            }
        }
    }
    for (index, _) in source.match_indices("tr_plural(") {
        let before = source[..index].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let place = format!("{}:{}", path.display(), line_of(source, index));
        let start = skip_whitespace(source, index + "tr_plural(".len());
        let Some((text, end)) = string_literal(source, start) else {
            problems.push(format!("{place}: tr_plural(…) without a string literal"));
            continue;
        };
        let after = skip_whitespace(source, end);
        let plural_start = skip_whitespace(source, after + 1);
        match source[after..].starts_with(',').then(|| string_literal(source, plural_start)) {
            Some(Some((plural, _))) => found.push(Msgid { text, plural: Some(plural), place }),
            _ => problems.push(format!("{place}: tr_plural(…) without a plural literal")),
        }
    }
    (found, problems)
}

/// Returns the placeholders of `text` (`{}`, `{0}`, `{n}` …), sorted.
fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        found.push(rest[open..open + close + 1].to_owned());
        rest = &rest[open + close + 1..];
    }
    found.sort();
    found
}

/// Lists what the catalog `entries` gets wrong for the msgids `used`: a
/// missing or untranslated msgid, a missing plural form, a translation
/// whose placeholders differ from the msgid's, and an entry no source uses.
fn catalog_problems(used: &[Msgid], entries: &[CatalogEntry]) -> Vec<String> {
    let by_msgid: BTreeMap<&str, &CatalogEntry> = entries
        .iter()
        .filter(|entry| entry.msgctxt.is_none() && !entry.msgid.is_empty())
        .map(|entry| (entry.msgid.as_str(), entry))
        .collect();
    let mut problems = Vec::new();
    for msgid in used {
        let place = &msgid.place;
        let text = &msgid.text;
        let Some(entry) = by_msgid.get(text.as_str()) else {
            problems.push(format!("{place}: msgid {text:?} is missing from the zh_CN catalog"));
            continue;
        };
        if !entry.is_translated() {
            problems.push(format!("{place}: msgid {text:?} is untranslated or fuzzy"));
            continue;
        }
        if msgid.plural.is_some() && entry.msgid_plural != msgid.plural {
            problems.push(format!(
                "{place}: msgid {text:?} has msgid_plural {:?} in the catalog, {:?} in the source",
                entry.msgid_plural, msgid.plural
            ));
        }
        if msgid.plural.is_none() && entry.msgid_plural.is_some() {
            problems.push(format!("{place}: msgid {text:?} is plural only in the catalog"));
        }
        for translation in &entry.translations {
            if placeholders(translation) != placeholders(text) {
                problems.push(format!(
                    "{place}: msgid {text:?} has placeholders {:?}, its translation {translation:?} has {:?}",
                    placeholders(text),
                    placeholders(translation)
                ));
            }
        }
    }
    let used_texts: BTreeSet<&str> = used.iter().map(|msgid| msgid.text.as_str()).collect();
    for msgid in by_msgid.keys().filter(|msgid| !used_texts.contains(*msgid)) {
        problems.push(format!("the zh_CN catalog has msgid {msgid:?}, which no source uses"));
    }
    problems
}

/// Returns every msgid of ui/**/*.slint and src/ui/**/*.rs, and the calls
/// that could not be read. `text.rs` and `catalog.rs` define the lookup
/// and their unit tests pass msgids the catalog lacks on purpose, so they
/// are left out.
fn source_msgids() -> (Vec<Msgid>, Vec<Msgid>, Vec<String>) {
    let root = manifest_dir();
    let mut problems = Vec::new();
    let mut slint = Vec::new();
    for path in files_under(&root.join("ui"), "slint") {
        let source = std::fs::read_to_string(&path).unwrap();
        let (found, unreadable) = slint_msgids(path.strip_prefix(&root).unwrap(), &source);
        slint.extend(found);
        problems.extend(unreadable);
    }
    let mut rust = Vec::new();
    for path in files_under(&root.join("src/ui"), "rs") {
        let name = path.file_name().unwrap();
        if name == "text.rs" || name == "catalog.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let (found, unreadable) = rust_msgids(path.strip_prefix(&root).unwrap(), &source);
        rust.extend(found);
        problems.extend(unreadable);
    }
    (slint, rust, problems)
}

fn zh_cn_entries() -> Vec<CatalogEntry> {
    let path = manifest_dir().join("ui/translations/zh_CN/LC_MESSAGES/pickup-terminal.po");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    catalog::parse(&text).unwrap_or_else(|error| panic!("{path:?}: {error}"))
}

#[test]
fn catalog_covers_every_msgid() {
    let (slint, rust, unreadable) = source_msgids();
    // Far fewer would mean the scan lost track of the sources.
    assert!(slint.len() >= 100, "only {} @tr calls found in ui/", slint.len());
    assert!(rust.len() >= 100, "only {} tr calls found in src/ui/", rust.len());
    assert!(unreadable.is_empty(), "unreadable calls:\n{}", unreadable.join("\n"));

    let used: Vec<Msgid> = slint.into_iter().chain(rust).collect();
    let problems = catalog_problems(&used, &zh_cn_entries());
    assert!(problems.is_empty(), "{} catalog problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn catalog_check_reports_each_fault() {
    let msgid = |text: &str, plural: Option<&str>| Msgid {
        text: text.to_owned(),
        plural: plural.map(str::to_owned),
        place: "ui/x.slint:1".to_owned(),
    };
    let used = [
        msgid("Missing", None),
        msgid("Shelf {}", None),
        msgid("{n} unsent", Some("{n} unsent")),
        msgid("Fine {}", None),
    ];
    let entries = catalog::parse(
        "msgid \"Shelf {}\"\nmsgstr \"货架\"\n\n\
         msgid \"{n} unsent\"\nmsgstr \"{n} 条未发送\"\n\n\
         msgid \"Fine {}\"\nmsgstr \"好 {}\"\n\n\
         msgid \"Stale\"\nmsgstr \"旧\"\n",
    )
    .unwrap();
    let problems = catalog_problems(&used, &entries);

    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains("\"Missing\" is missing"), "{}", problems[0]);
    assert!(problems[1].contains("placeholders [\"{}\"]"), "{}", problems[1]);
    assert!(problems[2].contains("msgid_plural None"), "{}", problems[2]);
    assert!(problems[3].contains("\"Stale\", which no source uses"), "{}", problems[3]);
}

#[test]
fn scans_read_plurals_and_continued_literals() {
    let slint =
        r#"text: @tr("Fetch {n} parcel" | "Fetch {n} parcels" % count); x: @tr( "Say \"hi\"");"#;
    let (found, problems) = slint_msgids(Path::new("a.slint"), slint);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].text, "Fetch {n} parcel");
    assert_eq!(found[0].plural.as_deref(), Some("Fetch {n} parcels"));
    assert_eq!(found[1].text, "Say \"hi\"");

    let rust = "tr_plural(\"{n} parcel\", \"{n} parcels\", n, &[]);";
    let (found, problems) = rust_msgids(Path::new("b.rs"), rust);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].text, "{n} parcel");
    assert_eq!(found[0].plural.as_deref(), Some("{n} parcels"));

    let rust = "let a = tr_args(\n    \"Long {} \\\n     text\",\n    &[&x],\n);\nfn tr(msgid: &str) {}\nstr(\"x\");";
    let (found, problems) = rust_msgids(Path::new("a.rs"), rust);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].text, "Long {} text");
    assert_eq!(found[0].place, "a.rs:1");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("a.rs:6"), "{problems:?}");
}

// ---------------------------------------------------------------------------
// The wired window.

/// Opens a window over the terminal of `setup` with `ui.language` set to
/// `language`, saving settings to `config.toml` in the terminal directory.
fn open_window(setup: &Setup, language: &str) -> (AppWindow, Rc<Shell>) {
    init_backend();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(480, 800));
    let mut config = Config::default();
    config.ui.language = language.to_owned();
    let context = Context {
        desk: setup.desk(),
        config,
        config_path: Some(setup.terminal_dir().join("config.toml")),
        sync: None,
        runtime: None,
        sync_config: SyncConfig::default(),
        wedge: WedgeConfig::default(),
        play_tones: false,
        camera: None,
    };
    let shell = Shell::install(&app, context);
    app.show().unwrap();
    (app, shell)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Types `text` then Enter, as a keyboard-wedge scanner does.
fn scan(app: &AppWindow, text: &str) {
    let keys: Vec<String> = text.chars().map(String::from).chain(["\n".to_owned()]).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    type_keys(app, &keys);
}

fn value(app: &AppWindow, label: &str) -> String {
    find(app, label).accessible_value().unwrap_or_default().to_string()
}

fn placeholder(app: &AppWindow, label: &str) -> String {
    find(app, label).accessible_placeholder_text().unwrap_or_default().to_string()
}

#[test]
fn chinese_on_home_receive_and_handover() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let (app, _shell) = open_window(&setup, "zh_CN");
    assert_eq!(text::language(), Language::SimplifiedChinese);

    // Home: a Slint string with a Rust-built time in it.
    let last_sync = value(&app, "home last sync");
    assert!(last_sync.starts_with("上次同步 "), "home shows {last_sync:?}");

    press(&app, "go receive");
    assert_eq!(placeholder(&app, "scan field"), "扫描包裹");
    scan(&app, "JJD0001");
    let receive = app.global::<ReceiveAdapter>();
    assert_eq!(receive.get_outcome_title(), "已签收");
    assert_eq!(value(&app, "outcome"), "已签收");
    let detail = receive.get_outcome_detail().to_string();
    assert!(detail.starts_with("请放到"), "receive detail {detail:?}");
    assert_eq!(value(&app, "card state"), "已上架，取件码未发出");

    press(&app, "receive finish");
    press(&app, "go handover");
    assert_eq!(placeholder(&app, "scan field"), "或扫描顾客手机");
    for digit in "000000".chars() {
        press(&app, &format!("keypad {digit}"));
    }
    press(&app, "keypad enter");
    let handover = app.global::<HandoverAdapter>();
    assert_eq!(handover.get_outcome_title(), "取件码错误");
    assert_eq!(value(&app, "outcome"), "取件码错误");
}

#[test]
fn settings_switch_language_at_once() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let (app, _shell) = open_window(&setup, "en");
    let settings = app.global::<SettingsAdapter>();
    press(&app, "go settings");
    assert_eq!(placeholder(&app, "enrolment token"), "From the mall's store portal");
    assert!(settings.get_status_text().starts_with("Enrolled as terminal "));

    press(&app, "language zh_CN");
    press(&app, "settings save");
    assert!(!settings.get_save_failed(), "{}", settings.get_save_text());
    assert_eq!(text::language(), Language::SimplifiedChinese);
    // The open screen's Slint strings and its Rust-built strings change
    // without leaving it.
    assert_eq!(placeholder(&app, "enrolment token"), "在商城门店后台获取");
    let saved = settings.get_save_text().to_string();
    assert!(saved.starts_with("已保存到 "), "save text {saved:?}");
    let status = settings.get_status_text().to_string();
    assert!(status.starts_with("已注册：终端 "), "status text {status:?}");
    assert_eq!(settings.get_languages().row_data(0).unwrap().name, "跟随系统");
    let config = Config::load_from(Some(&setup.terminal_dir().join("config.toml")), true, &[]);
    assert_eq!(config.unwrap().ui.language, "zh_CN");

    press(&app, "settings home");
    assert!(value(&app, "home last sync").starts_with("上次同步 "));

    press(&app, "go settings");
    press(&app, "language en");
    press(&app, "settings save");
    assert_eq!(text::language(), Language::English);
    assert_eq!(placeholder(&app, "enrolment token"), "From the mall's store portal");
    assert!(settings.get_save_text().starts_with("Saved to "), "{}", settings.get_save_text());
    assert!(settings.get_status_text().starts_with("Enrolled as terminal "));
    assert_eq!(settings.get_languages().row_data(0).unwrap().name, "System");
}
