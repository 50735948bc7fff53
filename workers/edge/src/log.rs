//! Console logging compiled once (README "Size"): `worker`'s `console_error!` formats into a
//! `String` and converts it to a JavaScript string at every call site; `log_error!` and
//! `log_warn!` hand their `format_args!` to one function each. Same text, same console level.

/// As `worker::console_error!`: `console.error` with the formatted text.
macro_rules! log_error {
    ($($t:tt)*) => {
        $crate::log::error(format_args!($($t)*))
    };
}

/// As `worker::console_warn!`: `console.warn` with the formatted text.
macro_rules! log_warn {
    ($($t:tt)*) => {
        $crate::log::warn(format_args!($($t)*))
    };
}

#[inline(never)]
pub fn error(args: std::fmt::Arguments<'_>) {
    worker::web_sys::console::error_1(&args.to_string().into());
}

#[inline(never)]
pub fn warn(args: std::fmt::Arguments<'_>) {
    worker::web_sys::console::warn_1(&args.to_string().into());
}
