//! Bounds on a config before the YAML parser sees it: its size, and how
//! deeply it nests.
//!
//! serde_yaml refuses documents nested past 128 levels, but only after
//! parsing them, which takes time quadratic in the depth (a 200 KB file of
//! `[` took 24 s). A writer config nests fewer than ten levels, so a cheap
//! scan rejects anything past [`MAX_NESTING`] first, in linear time.

/// Largest config accepted, in bytes. A writer config with a hundred tables
/// is well under 100 KiB; anything near this limit is the wrong file.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Deepest nesting accepted (block indentation levels, `- ` items and flow
/// `[`/`{` together). The deepest key of a writer config is at level 5.
pub const MAX_NESTING: usize = 64;

/// Where the scan found the document nested past [`MAX_NESTING`]: the line
/// (1-based) and the depth reached there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line number.
    pub line: usize,
    /// The depth reached on that line.
    pub depth: usize,
}

/// Scans `text` once and returns where it first nests deeper than
/// [`MAX_NESTING`]. Quoted scalars and comments are skipped so brackets in
/// them do not count; the count is an upper bound for block scalars, which
/// a writer config never needs.
pub fn check_nesting(text: &str) -> Result<(), TooDeep> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    for (index, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        let mut at = 0;
        let mut block = indents.len();
        if quote.is_none() && flow == 0 {
            let indent = bytes.iter().take_while(|b| **b == b' ').count();
            let content = &bytes[indent..];
            if content.is_empty() || content[0] == b'#' {
                continue;
            }
            while indents.last().is_some_and(|top| *top > indent) {
                indents.pop();
            }
            if indents.last().is_none_or(|top| *top < indent) {
                indents.push(indent);
            }
            // `- - - x` nests one level per dash on a single line.
            at = indent;
            let dashes = count_dashes(&bytes[at..]);
            at += dashes * 2;
            block = indents.len() + dashes;
        }
        let mut previous = b' ';
        while at < bytes.len() {
            let byte = bytes[at];
            match quote {
                Some(b'"') if byte == b'\\' => at += 1,
                Some(open) if byte == open => quote = None,
                Some(_) => {}
                None => match byte {
                    b'#' if previous == b' ' || previous == b'\t' => break,
                    b'"' | b'\''
                        if matches!(previous, b' ' | b'\t' | b'[' | b'{' | b',' | b':') =>
                    {
                        quote = Some(byte);
                    }
                    b'[' | b'{' => flow += 1,
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if block + flow > MAX_NESTING {
                return Err(TooDeep {
                    line: index + 1,
                    depth: block + flow,
                });
            }
            previous = byte;
            at += 1;
        }
        if block + flow > MAX_NESTING {
            return Err(TooDeep {
                line: index + 1,
                depth: block + flow,
            });
        }
    }
    Ok(())
}

/// How many `- ` sequence indicators start `content`.
fn count_dashes(content: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = content;
    while rest.len() >= 2 && rest[0] == b'-' && rest[1] == b' ' {
        count += 1;
        rest = &rest[2..];
        let spaces = rest.iter().take_while(|b| **b == b' ').count();
        rest = &rest[spaces..];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_configs_pass() {
        let yaml = "
tables:
  - source: {server: 'a:1', schema: s, table: t, filters: [{field: x, in: [1, [2]]}]}
    destinations:
      - type: local
        path: /tmp/a # a comment with [[[[ brackets
    key_prefix: \"x[{/\"
";
        assert_eq!(check_nesting(yaml), Ok(()));
    }

    #[test]
    fn deep_flow_nesting_is_refused_at_its_line() {
        let yaml = format!("a: 1\nb: {}", "[".repeat(100_000));
        let error = check_nesting(&yaml).unwrap_err();
        assert_eq!(error.line, 2);
        assert_eq!(error.depth, MAX_NESTING + 1);
    }

    #[test]
    fn deep_block_nesting_and_dashes_are_refused() {
        let mut yaml = String::new();
        for level in 0..80 {
            yaml.push_str(&" ".repeat(level));
            yaml.push_str("k:\n");
        }
        assert!(check_nesting(&yaml).is_err());
        let dashes = format!("{}x\n", "- ".repeat(80));
        assert!(check_nesting(&dashes).is_err());
    }

    #[test]
    fn brackets_in_quotes_do_not_count() {
        let yaml = format!("a: '{}'\nb: \"{}\"\n", "[".repeat(200), "{".repeat(200));
        assert_eq!(check_nesting(&yaml), Ok(()));
    }
}
