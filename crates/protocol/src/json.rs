//! Repair of raw control characters inside JSON strings.
//!
//! The Civilization V DLL copies game text into JSON without escaping bytes
//! 0x00–0x1F, which strict parsers reject. Rather than drop such frames, the
//! bridge escapes those bytes inside strings (`\u00XX`) and removes them
//! outside strings (where only whitespace is legal, and a stray NUL
//! terminator is the usual culprit). Frames that need no repair — nearly all
//! of them — are returned as they are, without a copy.

use std::borrow::Cow;

/// Returns `frame` with control characters made legal JSON.
pub fn escape_control_chars(frame: &[u8]) -> Cow<'_, [u8]> {
    // Tab, CR and LF are legal between tokens but not raw inside strings, so
    // any control byte sends the frame through the repair pass.
    if !frame.iter().any(|&b| b < 0x20) {
        return Cow::Borrowed(frame);
    }
    let mut out = Vec::with_capacity(frame.len() + 16);
    let mut changed = false;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in frame {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            } else if byte < 0x20 {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
                changed = true;
                continue;
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte < 0x20 && !is_json_whitespace(byte) {
            changed = true;
            continue;
        }
        out.push(byte);
    }
    if changed { Cow::Owned(out) } else { Cow::Borrowed(frame) }
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(input: &[u8]) -> serde_json::Value {
        serde_json::from_slice(&escape_control_chars(input)).expect("repaired JSON parses")
    }

    #[test]
    fn clean_frames_are_borrowed_not_copied() {
        let frame = b"{\"a\":\"b\"}\n";
        assert!(matches!(escape_control_chars(frame), Cow::Borrowed(_)));
    }

    #[test]
    fn control_bytes_inside_strings_are_escaped() {
        let value = repaired(b"{\"name\":\"Rome\x01\x1f\ttab\nline\"}");
        assert_eq!(value["name"], "Rome\u{1}\u{1f}\ttab\nline");
    }

    #[test]
    fn raw_whitespace_inside_strings_is_escaped_and_kept_between_tokens() {
        let value = repaired(b"{\n\t\"text\":\"line\nbreak\ttab\"\r\n}");
        assert_eq!(value["text"], "line\nbreak\ttab");
    }

    #[test]
    fn escaped_quotes_do_not_end_the_string() {
        let value = repaired(b"{\"q\":\"say \\\"hi\x02\\\"\"}");
        assert_eq!(value["q"], "say \"hi\u{2}\"");
    }

    #[test]
    fn control_bytes_outside_strings_are_removed() {
        let value = repaired(b"{\"n\":1}\x00");
        assert_eq!(value["n"], 1);
    }
}
