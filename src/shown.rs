//! The one rule by which values from outside (answers, state, private state, files,
//! configuration, environment) enter messages: control and invisible formatting
//! characters never pass as they are, and a long value is cut to its first characters and
//! its length. URLs lose their user name and password.

/// Values up to this many characters are quoted whole.
const WHOLE: usize = 64;
/// File paths and URLs up to this many characters are quoted whole.
const PATH: usize = 256;
/// How many characters of free text (an error field, a parser's message) are kept.
pub const TEXT: usize = 200;

/// Characters that would act on a terminal or hide what follows rather than show
/// themselves: C0/C1 controls (ESC starts terminal sequences), and the bidirectional and
/// zero-width formatting characters that can make text read differently from its bytes.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The shortening rule itself: at most `max` characters of `s`, each written by `push`
/// (which must not let a hidden character through), and the total count when `s` had
/// more. Reads no further than it keeps, so a multi-megabyte value costs no more than a
/// short one.
fn cut(s: &str, max: usize, push: impl Fn(char, &mut String)) -> (String, Option<usize>) {
    let mut out = String::new();
    let mut chars = s.chars();
    for c in chars.by_ref().take(max) {
        push(c, &mut out);
    }
    match chars.next() {
        // Counting the rest is a linear scan without allocation.
        Some(_) => (out, Some(max + 1 + chars.count())),
        None => (out, None),
    }
}

/// `s` quoted, hidden characters escaped (`\n`, `\u{1b}`) so a person sees they are there;
/// a value longer than 64 characters as its first 32 and its length, so a 10 MB value
/// never fills a message.
pub fn shorten(s: &str) -> String {
    quote(s, WHOLE)
}

/// [`shorten`] for a file path or URL, which a person needs whole to act on: up to 256
/// characters whole, a longer one as its first 128 and its length.
pub fn path(s: &str) -> String {
    quote(s, PATH)
}

/// `s` quoted as [`shorten`] says, whole up to `whole` characters, else its first half.
fn quote(s: &str, whole: usize) -> String {
    let limit = if s.chars().nth(whole).is_none() {
        whole
    } else {
        whole / 2
    };
    let (head, total) = cut(s, limit, |c, out| match c {
        '"' | '\\' => {
            out.push('\\');
            out.push(c);
        }
        c if is_hidden(c) => out.extend(c.escape_default()),
        c => out.push(c),
    });
    match total {
        Some(n) => format!("\"{head}\"… ({n} characters)"),
        None => format!("\"{head}\""),
    }
}

/// Free text from outside (an error message field, a body, a parser's message) on one
/// line: hidden characters become spaces, at most `max` characters, `…` when cut.
pub fn text(s: &str, max: usize) -> String {
    let (mut out, total) = cut(s, max, |c, out| {
        out.push(if is_hidden(c) { ' ' } else { c })
    });
    if total.is_some() {
        out.push('…');
    }
    out.trim().to_string()
}

/// [`text`] of bytes that may not be UTF-8; looks at no more than it can keep.
pub fn text_of_bytes(b: &[u8], max: usize) -> String {
    // 4 bytes a character at most: whatever lies beyond cannot be shown anyway.
    let window = &b[..b.len().min(max.saturating_mul(4) + 4)];
    let mut t = text(&String::from_utf8_lossy(window), max);
    if window.len() < b.len() && !t.ends_with('…') {
        t.push('…');
    }
    t
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

/// A URL as messages show it: without user name and password, shortened.
pub fn url(s: &str) -> String {
    path(&without_userinfo(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_say_their_length() {
        assert_eq!(shorten("cn-north-4"), "\"cn-north-4\"");
        assert_eq!(shorten("a\nb"), "\"a\\nb\"");
        assert_eq!(shorten("say \"hi\""), "\"say \\\"hi\\\"\"");
        let long = "x".repeat(10_000);
        let s = shorten(&long);
        assert!(s.len() < 64 && s.ends_with("(10000 characters)"), "{s}");
        assert_eq!(
            shorten(&"y".repeat(64)).len(),
            66,
            "64 characters are quoted whole"
        );
    }

    #[test]
    fn hidden_characters_never_pass() {
        for bad in [
            "\u{1b}[31mred",
            "a\rb",
            "bidi\u{202e}txt",
            "zero\u{200b}width",
            "\u{9b}c1",
        ] {
            let q = shorten(bad);
            let t = text(bad, 100);
            for out in [&q, &t] {
                assert!(!out.chars().any(is_hidden), "{bad:?} gave {out:?}");
            }
            assert!(q.contains("\\u{") || q.contains("\\r"), "{q}");
        }
        assert_eq!(text("line one\nline two", 100), "line one line two");
    }

    #[test]
    fn megabytes_become_a_few_hundred_bytes() {
        let huge = "\u{1b}é".repeat(2 << 20);
        assert!(shorten(&huge).len() < 400);
        assert!(text(&huge, TEXT).len() < 2 * TEXT + 4);
        let bytes = vec![0xffu8; 3 << 20];
        let t = text_of_bytes(&bytes, TEXT);
        assert!(t.len() <= 3 * TEXT + 3 && t.ends_with('…'), "{}", t.len());
        assert_eq!(text_of_bytes(b"short", TEXT), "short");
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
        assert_eq!(url("http://u:p@h/x"), "\"http://***@h/x\"");
    }
}
