//! The sign-in screen: operator id and PIN.

use std::rc::Rc;

use slint::ComponentHandle;

use super::shell::{Shell, with};
use super::{AppWindow, Page, SignInAdapter};
use crate::desk::operators::PIN_MAX_DIGITS;

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    app.global::<SignInAdapter>().set_pin_max_length(PIN_MAX_DIGITS as i32);
    let weak = Rc::downgrade(shell);
    app.global::<SignInAdapter>().on_sign_in(move |id, pin| {
        with(&weak, |app, shell| {
            let result = shell.desk.borrow_mut().sign_in(id.trim(), &pin);
            let adapter = app.global::<SignInAdapter>();
            adapter.set_pin("".into());
            match result {
                Ok(_) => {
                    adapter.set_error_text("".into());
                    shell.open(app, Page::Home);
                }
                // NOTE: the desk's English message, untranslated.
                Err(error) => adapter.set_error_text(error.to_string().into()),
            }
        })
    });
}

pub fn reset(app: &AppWindow) {
    let adapter = app.global::<SignInAdapter>();
    adapter.set_operator_id("".into());
    adapter.set_pin("".into());
    adapter.set_error_text("".into());
}
