//! Best-of-N's pick: the `pick` worker of a run (`fanout --attempts N`, the `best-of-n`
//! pipeline) compares the attempts and names one on a line `Best: A2` (the format is
//! defined in `share/templates/pick.md`); `orch land RUN` lands that one.

use anyhow::Result;

use crate::lifecycle::state::{self, State};
use crate::model::error::UserError;
use crate::store::{RunDir, WorkerDir};

/// The label of the worker that picks among a run's attempts.
pub const PICK: &str = "pick";

/// What the picker's final message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A label, as written (checked against the attempts by [`chosen`]).
    Label(String),
    /// `Best: none`: no attempt is fit to land.
    None,
}

/// The last `Best: LABEL` line of `text`. Markdown around it (`**Best:** A2`, a list
/// dash, backquotes, a heading mark) and the case of `best` do not matter; a trailing
/// full stop or explanation after the label is ignored (`Best: A2 — smallest diff`).
pub fn parse(text: &str) -> Option<Named> {
    text.lines().rev().find_map(|line| {
        let plain: String = line
            .chars()
            .filter(|c| !matches!(c, '*' | '`' | '_'))
            .collect();
        let plain = plain.trim_start_matches(|c: char| c.is_whitespace() || "#>-+".contains(c));
        let (word, rest) = plain.split_once(':')?;
        if !word.trim().eq_ignore_ascii_case("best")
            && !word.trim().eq_ignore_ascii_case("best attempt")
        {
            return None;
        }
        let token: String = rest
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'))
            .collect();
        // `RUN/A2` names the label after the slash; a closing full stop is not part of it.
        let token = token.rsplit('/').next().unwrap_or("").trim_end_matches('.');
        match token {
            "" => None,
            t if t.eq_ignore_ascii_case("none") => Some(Named::None),
            t => Some(Named::Label(t.to_string())),
        }
    })
}

/// The attempts the picker compares: the workers it depends on that have a worktree.
fn candidates(run: &RunDir, picker: &WorkerDir) -> Vec<String> {
    picker
        .spec()
        .map(|s| s.after)
        .unwrap_or_default()
        .into_iter()
        .filter(|l| run.worker(l).spec().is_ok_and(|s| s.worktree.is_some()))
        .collect()
}

/// What the run's picker named, once it has ended done: `Ok(Some(label))` for a known
/// attempt that ended done. `Ok(None)` for a run without a picker or one not ended yet.
/// For status; [`chosen`] gives the errors.
pub fn picked(run: &RunDir) -> Option<String> {
    let p = run.worker(PICK);
    if !p.dir.is_dir() || state::state_of(&p) != State::Done {
        return None;
    }
    chosen(run).ok().map(|w| w.label)
}

/// The attempt `orch land RUN` lands: the one the run's picker named, or why not.
pub fn chosen(run: &RunDir) -> Result<WorkerDir> {
    let p = run.worker(PICK);
    let yourself = |labels: &[String]| {
        if labels.is_empty() {
            "name a worker: `orch land RUN/LABEL`".to_string()
        } else {
            format!(
                "compare them (`orch diff {}/{} --stat`) and land one yourself: `orch land {}/{}`",
                run.id, labels[0], run.id, labels[0]
            )
        }
    };
    if !p.dir.is_dir() {
        let labels = run.labels().unwrap_or_default();
        return Err(UserError::usage(format!(
            "run {} has no {PICK} worker to choose an attempt; {}",
            run.id,
            yourself(&labels)
        ))
        .into());
    }
    let labels = candidates(run, &p);
    let st = state::state_of(&p);
    if !st.is_final() {
        return Err(UserError::failed(format!(
            "{}/{PICK} is still {st}; it names the attempt to land when it ends (`orch wait {}/{PICK}`), or {}",
            run.id,
            run.id,
            yourself(&labels)
        ))
        .into());
    }
    if st != State::Done {
        return Err(UserError::failed(format!(
            "{}/{PICK} ended {st} and named no attempt; {}",
            run.id,
            yourself(&labels)
        ))
        .into());
    }
    let said = std::fs::read_to_string(p.last_message_path()).unwrap_or_default();
    let named = match parse(&said) {
        Some(Named::Label(l)) => l,
        Some(Named::None) => {
            return Err(UserError::failed(format!(
                "{}/{PICK} found no attempt fit to land (`orch result {}/{PICK}` says why); to land one anyway, {}",
                run.id,
                run.id,
                yourself(&labels)
            ))
            .into());
        }
        None => {
            return Err(UserError::failed(format!(
                "{}/{PICK}'s result has no `Best: LABEL` line (`orch result {}/{PICK}`); {}",
                run.id,
                run.id,
                yourself(&labels)
            ))
            .into());
        }
    };
    let Some(label) = labels.iter().find(|l| l.eq_ignore_ascii_case(&named)) else {
        return Err(UserError::failed(format!(
            "{}/{PICK} named {named}, which is not one of the attempts ({}); {}",
            run.id,
            labels.join(", "),
            yourself(&labels)
        ))
        .into());
    };
    let w = run.worker(label);
    let wst = state::state_of(&w);
    if wst != State::Done {
        return Err(UserError::failed(format!(
            "{}/{PICK} named {label}, but it ended {wst}, not done; `orch land --force {}/{label}` lands what its branch holds anyway",
            run.id, run.id
        ))
        .into());
    }
    Ok(w)
}

/// What `orch land` means by `text`: `RUN/LABEL` or a label of the latest run is that
/// worker; a run is the attempt its picker named.
pub fn resolve(home: &crate::store::Home, text: &str) -> Result<WorkerDir> {
    match home.resolve_target(text)? {
        crate::store::Target::Worker(w) => Ok(w),
        crate::store::Target::Run(run) => chosen(&run),
    }
}

#[cfg(test)]
mod tests {
    use super::{Named, parse};

    fn label(s: &str) -> Option<Named> {
        Some(Named::Label(s.into()))
    }

    #[test]
    fn reads_the_best_line_in_its_usual_disguises() {
        assert_eq!(parse("A1 is fine.\n\nBest: A2\n"), label("A2"));
        assert_eq!(parse("**Best:** A3."), label("A3"));
        assert_eq!(parse("- **Best: `A1`**"), label("A1"));
        assert_eq!(parse("## best: a2 — the smallest diff"), label("a2"));
        assert_eq!(parse("Best attempt: A4"), label("A4"));
        assert_eq!(parse("Best: 20261202-1410-k3f/A2"), label("A2"));
        assert_eq!(parse("Best: none\n"), Some(Named::None));
        assert_eq!(parse("BEST: None."), Some(Named::None));
    }

    #[test]
    fn the_last_line_wins_and_prose_is_not_a_pick() {
        assert_eq!(parse("Best: A1\nOn second thought:\nBest: A3"), label("A3"));
        assert_eq!(parse("The best attempt is A2."), None);
        assert_eq!(parse("Best:\n"), None);
        assert_eq!(parse(""), None);
    }
}
