//! The one input rule for text that crosses the platform's boundary — a REST or gRPC field, an
//! OAuth2 parameter, a sign-in form field — before it is compared, stored or shown:
//!
//! - no control characters (Unicode category Cc: NUL, the C0 and C1 controls, DEL), except line
//!   breaks in the fields that allow several lines ([`TextKind::Lines`]);
//! - in text shown to customers ([`TextKind::Displayed`]: a creditor's name, a payment
//!   reference) no bidirectional embeddings, overrides or isolates (U+202A–U+202E,
//!   U+2066–U+2069), with which a payee's name could be made to read differently on the consent
//!   screen;
//! - Unicode-normalised to NFC, so that text that looks the same is stored, and compared, the
//!   same.
//!
//! Rust strings are valid UTF-8 already: what arrives as bytes is decoded (or refused) before
//! this rule sees it. Callers report a refusal as their protocol does: a field violation
//! (`INVALID_ARGUMENT` with the field's path) on the API, `invalid_request` at the OAuth2
//! endpoints.

use unicode_normalization::UnicodeNormalization;

/// Which characters a text field may hold besides the printable ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// One line: a parameter, an identifier, a username.
    Line,
    /// Several lines: line feeds and carriage returns are allowed.
    Lines,
    /// One line shown to customers, who must read what the sender meant: no bidirectional
    /// formatting characters either.
    Displayed,
}

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// It holds a control character (NUL included) the field does not allow.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// It holds a bidirectional embedding, override or isolate.
    #[error("must not contain bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069)")]
    BidiFormatting,
}

/// Whether `c` is a bidirectional embedding, override or isolate.
fn is_bidi_formatting(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` checked against the rule for `kind`, and NFC-normalised: the value to store, compare
/// or show from then on.
pub fn clean(text: &str, kind: TextKind) -> Result<String, TextError> {
    for c in text.chars() {
        if c.is_control() && !(kind == TextKind::Lines && matches!(c, '\n' | '\r')) {
            return Err(TextError::ControlCharacter);
        }
        if kind == TextKind::Displayed && is_bidi_formatting(c) {
            return Err(TextError::BidiFormatting);
        }
    }
    Ok(text.nfc().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_controls_but_line_breaks_where_allowed() {
        for text in ["a\0b", "\u{7}", "tab\there", "\u{7f}", "\u{85}", "\u{9f}"] {
            for kind in [TextKind::Line, TextKind::Lines, TextKind::Displayed] {
                assert_eq!(
                    clean(text, kind),
                    Err(TextError::ControlCharacter),
                    "{text:?}"
                );
            }
        }
        assert_eq!(
            clean("a\nb", TextKind::Line),
            Err(TextError::ControlCharacter)
        );
        assert_eq!(clean("a\r\nb", TextKind::Lines).as_deref(), Ok("a\r\nb"));
        assert_eq!(
            clean("a\nb", TextKind::Displayed),
            Err(TextError::ControlCharacter)
        );
    }

    #[test]
    fn refuses_bidi_formatting_only_in_displayed_text() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}',
        ]
        .into_iter()
        .chain(['\u{2067}', '\u{2068}', '\u{2069}'])
        {
            let text = format!("Jane{c}eoD");
            assert_eq!(
                clean(&text, TextKind::Displayed),
                Err(TextError::BidiFormatting),
                "{c:?}"
            );
            assert!(clean(&text, TextKind::Line).is_ok(), "{c:?}");
        }
        // Right-to-left script itself is fine.
        assert_eq!(clean("مريم", TextKind::Displayed).as_deref(), Ok("مريم"));
    }

    #[test]
    fn normalises_to_nfc() {
        // "é" as e + combining acute accent becomes the one precomposed character.
        assert_eq!(
            clean("Jose\u{301}", TextKind::Displayed).as_deref(),
            Ok("Jos\u{e9}")
        );
        assert_eq!(clean("", TextKind::Line).as_deref(), Ok(""));
    }

    proptest! {
        #[test]
        fn what_it_accepts_is_clean_and_stable(text in any::<String>()) {
            if let Ok(cleaned) = clean(&text, TextKind::Displayed) {
                prop_assert!(!cleaned.chars().any(|c| c.is_control() || is_bidi_formatting(c)));
                prop_assert_eq!(clean(&cleaned, TextKind::Displayed), Ok(cleaned.clone()));
            }
        }
    }
}
