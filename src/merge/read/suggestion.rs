//! GitHub's suggested changes: a ` ```suggestion ` block is the replacement code for the
//! lines a comment is on, i.e. that finding's fix. A block that follows a list item
//! (after blank lines) is indented under it, so the item keeps it; inside an item the
//! template reader takes its lines as the fix.

use super::markers::{LIST, is_fence};

pub(super) fn is_suggestion_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```suggestion") || t.starts_with("~~~suggestion")
}

pub(super) fn rewrite(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    // Whether the last non-blank line belongs to a list item.
    let mut in_item = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if in_item && is_suggestion_fence(line) && !line.starts_with(' ') {
            let end = (i + 1..lines.len())
                .find(|&j| is_fence(lines[j]))
                .unwrap_or(lines.len() - 1);
            out.extend(lines[i..=end].iter().map(|l| format!("  {l}")));
            i = end + 1;
            continue;
        }
        if !line.trim().is_empty() {
            in_item = LIST.is_match(line) || (in_item && line.starts_with([' ', '\t']));
        }
        out.push(line.to_string());
        i += 1;
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suggestion_after_an_item_is_indented_under_it() {
        let t = "- a.go:30 — reversed\n\n```suggestion\nif x {\n```\n\nThanks.";
        assert_eq!(
            rewrite(t),
            "- a.go:30 — reversed\n\n  ```suggestion\n  if x {\n  ```\n\nThanks."
        );
        let free = "Intro.\n\n```suggestion\nx\n```";
        assert_eq!(rewrite(free), free);
    }
}
