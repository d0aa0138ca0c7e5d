//! How deeply a JSON text nests. Arguments pass through the bridge as raw
//! JSON, never parsed into a tree, so nothing on the way stops a document
//! nested 100,000 levels deep; the game's own decoder (a recursive Lua JSON
//! library, typically) would then overflow its stack. The bridge measures
//! the depth with one pass over the bytes and refuses what is too deep.

/// Deepest nesting of arguments forwarded to a game. Real arguments nest a
/// handful of levels; recursive decoders (Lua's, serde_json's 128) manage
/// more than this.
pub const MAX_ARGS_DEPTH: usize = 64;

/// The deepest nesting of arrays and objects in `json` (0 for a scalar).
/// Brackets inside strings do not count. Meant for text that is already
/// known to be valid JSON.
pub fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_arrays_and_objects_but_not_strings() {
        assert_eq!(nesting_depth("42"), 0);
        assert_eq!(nesting_depth(r#"[1, {"a": [2]}]"#), 3);
        assert_eq!(nesting_depth(r#"["[[[[", "\"{{{"]"#), 1);
        assert_eq!(nesting_depth(r#"[[1], [2], [3]]"#), 2);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(nesting_depth(&deep), 100_000);
    }
}
