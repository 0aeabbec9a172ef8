//! What workers and runs cost, and `--budget`: once a run has spent its budget, the
//! scheduler starts none of its queued workers (running ones go on).
//!
//! A worker's tokens are those of all its attempts. codex reports a thread's running
//! total, and a resumed attempt continues its thread, so each thread counts once, with
//! the total of its latest attempt; a retry starts a new thread, which adds. Usage is
//! reported when a turn ends, so a running worker's current turn counts once it ends.
//! A worker whose model has no price has no cost (`None`), and the run's spend counts
//! it as unpriced, never as zero.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::content::prices::{self, PriceError, Prices};
use crate::lifecycle::state::{self, State, ViewOptions, WorkerView};
use crate::store::fsutil::read_json_opt;
use crate::store::{ExitRecord, Home, RunDir, RunRecord, Tokens, WorkerDir, envfile};
use crate::sys::codex::{config, events};

/// Prices, and the models of codex configs already read.
pub struct Costing {
    prices: Prices,
    configs: HashMap<(PathBuf, Option<String>), Option<String>>,
}

impl Costing {
    pub fn load(home: &Home) -> Result<Costing, PriceError> {
        Ok(Costing::with_prices(Prices::load(&home.root)?))
    }

    pub fn with_prices(prices: Prices) -> Costing {
        Costing {
            prices,
            configs: HashMap::new(),
        }
    }

    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// The worker's model: from its command line, else from the codex config of the
    /// environment it was spawned with.
    pub fn model(&mut self, w: &WorkerDir) -> Option<String> {
        let spec = w.spec().ok()?;
        if let Some(m) = config::model_from_args(&spec) {
            return Some(m);
        }
        let env = envfile::read(&w.env_path()).ok()?;
        let codex_home = config::codex_home(&env)?;
        let profile = config::profile_of(&spec);
        self.configs
            .entry((codex_home.clone(), profile.clone()))
            .or_insert_with(|| config::config_model(&codex_home, profile.as_deref()))
            .clone()
    }

    /// Sets the view's `tokens` to those of all attempts, and its `model` and `cost_usd`.
    pub fn fill(&mut self, w: &WorkerDir, v: &mut WorkerView) {
        if matches!(v.state, State::Corrupt | State::Incomplete) {
            return;
        }
        v.tokens = all_attempts(w, v);
        v.model = self.model(w);
        v.cost_usd = v
            .model
            .as_deref()
            .and_then(|m| self.prices.get(m))
            .and_then(|p| prices::cost(&v.tokens, p))
            .map(round);
    }
}

/// To the micro-dollar: JSON shows `0.0123`, not `0.012300000000000002`.
fn round(usd: f64) -> f64 {
    (usd * 1e6).round() / 1e6
}

/// The tokens of every attempt of a worker, each codex thread counted once.
pub fn all_attempts(w: &WorkerDir, current: &WorkerView) -> Tokens {
    let mut total = Tokens::default();
    // Thread -> (attempt, its running total); the latest attempt of a thread has it all.
    let mut threads: HashMap<String, (u32, Tokens)> = HashMap::new();
    let mut count = |thread: Option<String>, attempt: u32, tokens: Tokens| match thread {
        Some(t) => {
            let e = threads.entry(t).or_insert((attempt, tokens));
            if attempt >= e.0 {
                *e = (attempt, tokens);
            }
        }
        None => total.add(&tokens),
    };
    let mut n = 1;
    loop {
        let dir = w.path(&format!("attempt-{n}"));
        if !dir.is_dir() {
            break;
        }
        match read_json_opt::<ExitRecord>(&dir.join("exit.json")) {
            Ok(Some(x)) => count(x.thread_id, n, x.tokens),
            _ => {
                let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
                let s = events::summarize(text.lines());
                count(s.thread_id, n, s.tokens);
            }
        }
        n += 1;
    }
    count(current.thread_id.clone(), u32::MAX, current.tokens);
    for (_, t) in threads.values() {
        total.add(t);
    }
    total
}

/// What a run has spent: the sum of its priced workers, and how many workers used
/// tokens on a model without a price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spend {
    pub usd: f64,
    pub unpriced: usize,
}

impl Spend {
    pub fn add(&mut self, v: &WorkerView) {
        match v.cost_usd {
            Some(c) => self.usd = round(self.usd + c),
            None if v.tokens.total() > 0 => self.unpriced += 1,
            None => {}
        }
    }

    /// The run's cost, if every worker that used tokens has a price.
    pub fn known(&self) -> Option<f64> {
        (self.unpriced == 0).then_some(self.usd)
    }
}

/// The run's spend from its records (no events read: usage comes with a turn's end).
pub fn run_spend(home: &Home, run: &RunDir) -> Result<Spend> {
    let mut costing = Costing::load(home)?;
    let opts = ViewOptions {
        activity: false,
        ..ViewOptions::default()
    };
    let mut spend = Spend::default();
    for l in run.labels_unordered()? {
        let w = run.worker(&l);
        let mut v = state::view(&w, &opts);
        costing.fill(&w, &mut v);
        spend.add(&v);
    }
    Ok(spend)
}

thread_local! {
    /// The spend of the run being scheduled, computed once per scheduling pass.
    static KNOWN: RefCell<Option<(String, Result<Spend, String>)>> = const { RefCell::new(None) };
}

/// While alive, [`hold`] uses the spend computed when it was made instead of reading
/// every worker again for each queued one.
pub struct Scope(());

impl Drop for Scope {
    fn drop(&mut self) {
        KNOWN.with(|k| *k.borrow_mut() = None);
    }
}

/// A scheduling pass over a run: reads its spend once if it has a budget.
pub fn scope(home: &Home, run: &RunDir, record: &RunRecord) -> Scope {
    if record.budget_usd.is_some() {
        let spend = run_spend(home, run).map_err(|e| format!("{e:#}"));
        KNOWN.with(|k| *k.borrow_mut() = Some((record.id.clone(), spend)));
    }
    Scope(())
}

/// Like [`scope`], with a spend the caller has computed.
pub fn scope_with(run_id: &str, spend: Spend) -> Scope {
    KNOWN.with(|k| *k.borrow_mut() = Some((run_id.to_string(), Ok(spend))));
    Scope(())
}

/// Why the run's queued workers may not start for money: its budget is spent (or its
/// spend cannot be priced, as when `$ORCH_HOME/prices.toml` is broken).
pub fn hold(home: &Home, record: &RunRecord) -> Option<String> {
    let budget = record.budget_usd?;
    let known = KNOWN.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|(id, _)| *id == record.id)
            .map(|(_, s)| s.clone())
    });
    let spend = known
        .unwrap_or_else(|| run_spend(home, &home.run(&record.id)).map_err(|e| format!("{e:#}")));
    match spend {
        Err(e) => Some(format!("budget: cannot price the run's tokens: {e}")),
        Ok(s) => reason(budget, &s),
    }
}

/// `budget: $4.12 of $4.00 spent` once the spend reaches the budget.
pub fn reason(budget: f64, s: &Spend) -> Option<String> {
    if s.usd < budget {
        return None;
    }
    let mut r = format!("budget: {} of {} spent", usd(s.usd), usd(budget));
    if s.unpriced > 0 {
        r.push_str(&format!(
            " (and {} worker{} without a price)",
            s.unpriced,
            if s.unpriced == 1 { "" } else { "s" }
        ));
    }
    Some(r)
}

/// `$4.12`; amounts under a cent keep four decimals (`$0.0042`).
pub fn usd(x: f64) -> String {
    if x > 0.0 && x < 0.01 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

/// Reads a `--budget` value: `4`, `4.50` or `$4.50`.
pub fn parse_usd(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let n: f64 = t
        .strip_prefix('$')
        .unwrap_or(t)
        .parse()
        .map_err(|_| format!("`{text}` is not an amount of USD; write e.g. 4 or 4.50"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!(
            "`{text}` is not an amount of USD; write e.g. 4 or 4.50"
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_reason() {
        let s = Spend {
            usd: 4.12,
            unpriced: 0,
        };
        assert_eq!(reason(5.0, &s), None);
        assert_eq!(
            reason(4.0, &s).as_deref(),
            Some("budget: $4.12 of $4.00 spent")
        );
        assert_eq!(
            reason(
                4.12,
                &Spend {
                    usd: 4.12,
                    unpriced: 2
                }
            )
            .as_deref(),
            Some("budget: $4.12 of $4.12 spent (and 2 workers without a price)")
        );
        assert_eq!(usd(0.00421), "$0.0042");
        assert_eq!(usd(0.0), "$0.00");
    }

    #[test]
    fn budget_values() {
        assert_eq!(parse_usd("4"), Ok(4.0));
        assert_eq!(parse_usd("$4.50"), Ok(4.5));
        assert!(parse_usd("-1").is_err());
        assert!(parse_usd("four").unwrap_err().contains("e.g. 4"));
        assert!(parse_usd("inf").is_err());
    }
}
