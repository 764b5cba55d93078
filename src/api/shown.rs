//! How values from outside appear in messages: long ones shortened (first characters and
//! length), URLs without their user name and password.

/// Values up to this many characters are quoted whole.
const WHOLE: usize = 64;
/// How many characters of a longer value are quoted.
const HEAD: usize = 32;

/// `s` quoted (control characters escaped); a long one as its first characters and its
/// length, so a 10 KB value never fills a message.
pub fn shorten(s: &str) -> String {
    let n = s.chars().count();
    if n <= WHOLE {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(HEAD).collect();
    format!("{head:?}… ({n} characters)")
}

/// `s` with any `user:password@` of a URL replaced by `***@`; other text as it is.
pub fn without_userinfo(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    // The authority ends at the first `/`, `?` or `#`; its userinfo at the last `@` in it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..scheme_end + 3], &rest[at..]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_say_their_length() {
        assert_eq!(shorten("cn-north-4"), "\"cn-north-4\"");
        assert_eq!(shorten("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(10_000);
        let s = shorten(&long);
        assert!(s.len() < 64 && s.ends_with("(10000 characters)"), "{s}");
    }

    #[test]
    fn userinfo_is_stripped() {
        assert_eq!(
            without_userinfo("http://admin:pw@host:8080/p?q=a@b"),
            "http://***@host:8080/p?q=a@b"
        );
        assert_eq!(without_userinfo("https://host/x@y"), "https://host/x@y");
        assert_eq!(without_userinfo("http://u:p@a@h"), "http://***@h");
        assert_eq!(without_userinfo("no url"), "no url");
    }
}
