//! The environment variables behind the provider's arguments, read the way every
//! argument's fallback reads them.

/// An environment variable, empty counting as unset.
pub(super) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

/// A boolean environment variable; an unreadable one says why, naming it.
pub(super) fn env_bool(name: &str) -> Result<Option<bool>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "yes" => Ok(Some(true)),
            "0" | "false" | "no" => Ok(Some(false)),
            _ => Err(format!(
                "{name}={} is not a boolean (use true or false)",
                crate::api::shown::shorten(&s)
            )),
        },
    }
}
