//! Markdown footnotes, as researchers cite sources: `… is !Send.[^1]` with
//! `[^1]: https://docs.rs/…` at the end. Each reference is replaced by its target in
//! parentheses, so the claim carries its source as its location, and the definitions,
//! once used, are removed; a definition no claim refers to stays as text.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

static DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s{0,3}\[\^(?P<id>[^\]\s]+)\]:\s*(?P<target>\S.*?)\s*$").unwrap()
});
static REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[\^(?P<id>[^\]\s]+)\]").unwrap());

pub(super) fn rewrite(text: &str) -> String {
    let defs: HashMap<String, String> = text
        .lines()
        .filter_map(|l| DEF.captures(l))
        .map(|c| (c["id"].to_string(), c["target"].to_string()))
        .collect();
    if defs.is_empty() {
        return text.to_string();
    }
    let mut used = std::collections::HashSet::new();
    let body: Vec<String> = text
        .lines()
        .map(|l| {
            if DEF.is_match(l) {
                return l.to_string();
            }
            REF.replace_all(l, |c: &regex::Captures<'_>| match defs.get(&c["id"]) {
                Some(t) => {
                    used.insert(c["id"].to_string());
                    format!(" ({t})")
                }
                None => c[0].to_string(),
            })
            .into_owned()
        })
        .collect();
    body.into_iter()
        .filter(|l| DEF.captures(l).is_none_or(|c| !used.contains(&c["id"])))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_take_their_targets() {
        let t = "1. The guard makes it !Send.[^1]\n\n[^1]: https://docs.rs/tokio/x.html\n[^2]: https://unused.example/";
        assert_eq!(
            rewrite(t),
            "1. The guard makes it !Send. (https://docs.rs/tokio/x.html)\n\n[^2]: https://unused.example/"
        );
    }
}
