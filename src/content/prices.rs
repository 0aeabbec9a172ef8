//! Prices of models per million tokens (`share/prices.toml`, overridable entry by entry
//! in `$ORCH_HOME/prices.toml`), and the cost of a worker's tokens.
//!
//! A model without an entry has no price: its cost is unknown (`None`), never zero.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::model::Tokens;

/// The shipped table.
pub const SHIPPED: &str = include_str!("../../share/prices.toml");

/// The user's table, in `$ORCH_HOME`.
pub const USER_FILE: &str = "prices.toml";

/// USD per million tokens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
    /// Reasoning tokens, when billed differently from output (they are a part of output).
    #[serde(default)]
    pub reasoning: Option<f64>,
    /// Prompt-cache writes, for models that bill them separately.
    #[serde(default)]
    pub cache_write: Option<f64>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub as_of: Option<String>,
}

#[derive(Debug, Error, PartialEq)]
#[error("{file}:{line}: {message}")]
pub struct PriceError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct Prices {
    models: BTreeMap<String, Price>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses a price table; errors name the file and line.
pub fn parse(text: &str, file: &str) -> Result<BTreeMap<String, Price>, PriceError> {
    let err = |line: usize, message: String| PriceError {
        file: file.to_string(),
        line,
        message,
    };
    let raw: BTreeMap<String, toml::Spanned<Price>> = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        err(line, e.message().trim().replace('\n', " "))
    })?;
    let mut out = BTreeMap::new();
    for (name, entry) in raw {
        let line = line_of(text, entry.span().start);
        let p = entry.into_inner();
        let fields = [
            ("input", Some(p.input)),
            ("cached_input", Some(p.cached_input)),
            ("output", Some(p.output)),
            ("reasoning", p.reasoning),
            ("cache_write", p.cache_write),
        ];
        for (field, value) in fields {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(err(
                    line,
                    format!(
                        "`{name}`: {field} = {v} is not a price (USD per million tokens, 0 or more)"
                    ),
                ));
            }
        }
        out.insert(normalize(&name), p);
    }
    Ok(out)
}

/// The name a model is looked up by: trimmed, lower-cased, without a `-YYYY-MM-DD` suffix.
pub fn normalize(model: &str) -> String {
    let m = model.trim().to_ascii_lowercase();
    let b = m.as_bytes();
    if b.len() > 11 {
        let tail = &b[b.len() - 11..];
        let dated = tail[0] == b'-'
            && tail[5] == b'-'
            && tail[8] == b'-'
            && [1, 2, 3, 4, 6, 7, 9, 10]
                .iter()
                .all(|&i| tail[i].is_ascii_digit());
        if dated {
            return m[..m.len() - 11].to_string();
        }
    }
    m
}

impl Prices {
    /// The shipped table alone.
    pub fn shipped() -> Prices {
        Prices {
            models: parse(SHIPPED, "share/prices.toml").expect("the shipped price table parses"),
        }
    }

    /// The shipped table with the entries of `$ORCH_HOME/prices.toml` over it.
    pub fn load(orch_home: &Path) -> Result<Prices, PriceError> {
        let mut prices = Prices::shipped();
        let path = orch_home.join(USER_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => prices
                .models
                .extend(parse(&text, &path.display().to_string())?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(PriceError {
                    file: path.display().to_string(),
                    line: 1,
                    message: format!("cannot read it: {e}"),
                });
            }
        }
        Ok(prices)
    }

    pub fn get(&self, model: &str) -> Option<&Price> {
        self.models.get(&normalize(model))
    }

    pub fn models(&self) -> impl Iterator<Item = (&String, &Price)> {
        self.models.iter()
    }
}

/// USD for `tokens` at `price`; `None` when the tokens include a kind the price does not
/// cover (cache writes on a model without a cache-write price).
pub fn cost(tokens: &Tokens, price: &Price) -> Option<f64> {
    const M: f64 = 1_000_000.0;
    let cached = tokens.cached_input.min(tokens.input);
    let written = tokens.cache_write_input.min(tokens.input - cached);
    let write_cost = match (written, price.cache_write) {
        (0, _) => 0.0,
        (n, Some(p)) => n as f64 * p,
        (_, None) => return None,
    };
    let fresh = tokens.input - cached - written;
    let reasoning = tokens.reasoning.min(tokens.output);
    let output_cost = match price.reasoning {
        Some(r) => (tokens.output - reasoning) as f64 * price.output + reasoning as f64 * r,
        None => tokens.output as f64 * price.output,
    };
    Some(
        (fresh as f64 * price.input
            + cached as f64 * price.cached_input
            + write_cost
            + output_cost)
            / M,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(input: f64, cached_input: f64, output: f64) -> Price {
        Price {
            input,
            cached_input,
            output,
            reasoning: None,
            cache_write: None,
            source: None,
            as_of: None,
        }
    }

    fn tokens(input: u64, cached_input: u64, output: u64, reasoning: u64) -> Tokens {
        Tokens {
            input,
            cached_input,
            output,
            reasoning,
            cache_write_input: 0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn cached_tokens_are_part_of_input_and_reasoning_part_of_output() {
        // 1M input of which 400k cached, 100k output of which 30k reasoning, at
        // 2.00 / 0.10 / 10.00: 600k × 2 + 400k × 0.1 + 100k × 10 per million.
        let c = cost(
            &tokens(1_000_000, 400_000, 100_000, 30_000),
            &price(2.0, 0.1, 10.0),
        )
        .unwrap();
        assert!(close(c, 1.2 + 0.04 + 1.0), "{c}");
    }

    #[test]
    fn reasoning_billed_apart_only_when_priced_apart() {
        let mut p = price(1.0, 0.0, 10.0);
        p.reasoning = Some(20.0);
        let c = cost(&tokens(0, 0, 1_000_000, 250_000), &p).unwrap();
        assert!(close(c, 7.5 + 5.0), "{c}");
    }

    #[test]
    fn cache_writes_need_a_price() {
        let mut t = tokens(1_000_000, 0, 0, 0);
        t.cache_write_input = 200_000;
        let mut p = price(2.0, 0.1, 10.0);
        assert_eq!(cost(&t, &p), None);
        p.cache_write = Some(2.5);
        let c = cost(&t, &p).unwrap();
        assert!(close(c, 0.8 * 2.0 + 0.2 * 2.5), "{c}");
    }

    #[test]
    fn nonsense_counts_do_not_underflow() {
        let c = cost(&tokens(10, 50, 5, 9), &price(1.0, 1.0, 1.0)).unwrap();
        assert!(close(c, 15.0 / 1_000_000.0), "{c}");
    }

    #[test]
    fn shipped_table_parses_and_every_entry_says_where_it_is_from() {
        let p = Prices::shipped();
        assert!(p.models().count() >= 10);
        for (name, price) in p.models() {
            let source = price.source.as_deref().unwrap_or("");
            assert!(source.starts_with("https://"), "{name}: source {source:?}");
            let as_of = price.as_of.as_deref().unwrap_or("");
            assert!(
                chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").is_ok(),
                "{name}: as_of {as_of:?}"
            );
        }
        let sol = p.get("gpt-6.2-sol").unwrap();
        assert_eq!((sol.input, sol.cached_input, sol.output), (2.0, 0.1, 10.0));
    }

    #[test]
    fn unconfirmed_models_have_no_price() {
        let p = Prices::shipped();
        for m in [
            "gpt-6.2-astra",
            "gpt-5.6-sol",
            "o4-mini",
            "gpt-5.1-codex",
            "mock-model",
        ] {
            assert!(p.get(m).is_none(), "{m} must stay unpriced");
        }
    }

    #[test]
    fn names_match_exactly_without_a_date() {
        let p = Prices::shipped();
        assert_eq!(p.get("GPT-4.1-2025-04-14"), p.get("gpt-4.1"));
        assert!(p.get("gpt-4.1").is_some());
        // No prefix guessing: a variant is not its base model.
        assert!(p.get("gpt-5.4-nano").is_none());
        assert_eq!(normalize("gpt-5-2025"), "gpt-5-2025");
    }

    #[test]
    fn user_entries_win_and_add() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(USER_FILE),
            "[\"gpt-5.4\"]\ninput = 1.0\ncached_input = 0.5\noutput = 3.0\n\n[my-model]\ninput = 0\ncached_input = 0\noutput = 0\n",
        )
        .unwrap();
        let p = Prices::load(home.path()).unwrap();
        assert_eq!(p.get("gpt-5.4").unwrap().output, 3.0);
        assert_eq!(p.get("my-model").unwrap().input, 0.0);
        assert_eq!(p.get("gpt-6.2-sol").unwrap().output, 10.0, "others kept");
    }

    #[test]
    fn a_bad_user_file_is_one_line_naming_file_and_line() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(USER_FILE);
        for (text, line, says) in [
            ("[a]\ninput = 1\ncached_input = 1\nouput = 2\n", 4, "ouput"),
            ("[a]\ninput = 1\ncached_input = 1\n", 1, "output"),
            (
                "\n\n[a]\ninput = \"two\"\ncached_input = 1\noutput = 1\n",
                4,
                "invalid type",
            ),
            ("[a]\ninput = 1\n[b\n", 3, ""),
            (
                "[ok]\ninput = 1\ncached_input = 1\noutput = 1\n\n[neg]\ninput = -1\ncached_input = 1\noutput = 1\n",
                6,
                "not a price",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = Prices::load(home.path()).unwrap_err();
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            assert!(
                msg.starts_with(&format!("{}:{line}: ", path.display())),
                "{text:?} → {msg}"
            );
            assert!(msg.contains(says), "{msg}");
        }
    }
}
