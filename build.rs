use slint_build::DefaultTranslationContext;

fn main() {
    // The catalogs under ui/translations/<lang>/LC_MESSAGES/ are compiled in,
    // so the screens switch language without files on the device. Without a
    // default context, a msgid means the same in every component, which lets
    // the Rust side look up the same catalog by msgid alone.
    let config = slint_build::CompilerConfiguration::new()
        .with_debug_info(true)
        .with_bundled_translations("ui/translations")
        .with_default_translation_context(DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config)
        .expect("ui/app.slint failed to compile");
}
