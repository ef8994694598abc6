//! The text of a caught panic, for the error that answers it.

use std::any::Any;

/// The panic's message when it carried one (`panic!` with a literal or a
/// format string), else a placeholder.
pub fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
