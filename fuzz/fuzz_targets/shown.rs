//! Fuzzes the one shortening rule every outside value passes before a message: whatever
//! the bytes, the result holds no control or invisible formatting character, stays within
//! its bound however long the input, and a short printable value is quoted whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::shown;

/// The most characters an escape can take for one input character (`\u{10ffff}`).
const ESCAPE: usize = 10;

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fuzz_target!(|data: &[u8]| {
    // Repeating the input makes megabyte values from small ones.
    let (times, rest) = match data.split_first() {
        Some((n, rest)) => (1 + usize::from(*n) * 64, rest),
        None => (1, data),
    };
    let times = if rest.len() > 64 { 1 } else { times };
    let s = String::from_utf8_lossy(rest).repeat(times);

    let q = shown::shorten(&s);
    assert!(!q.chars().any(hidden), "{q:?}");
    assert!(q.chars().count() <= 2 + 64 * ESCAPE + 40, "{} characters", q.chars().count());
    let p = shown::path(&s);
    assert!(!p.chars().any(hidden), "{p:?}");
    assert!(p.chars().count() <= 2 + 256 * ESCAPE + 40);
    let t = shown::text(&s, shown::TEXT);
    assert!(!t.chars().any(hidden), "{t:?}");
    assert!(t.chars().count() <= shown::TEXT + 1);
    let b = shown::text_of_bytes(rest, shown::TEXT);
    assert!(!b.chars().any(hidden) && b.chars().count() <= shown::TEXT + 1, "{b:?}");

    // A short value without anything to escape is quoted whole.
    let plain = !s.chars().any(|c| hidden(c) || c == '"' || c == '\\');
    if plain && s.chars().count() <= 64 {
        assert_eq!(q, format!("\"{s}\""));
    }
    // A long one says how long it was.
    if s.chars().count() > 64 {
        assert!(q.ends_with(&format!("({} characters)", s.chars().count())), "{q}");
    }
});
