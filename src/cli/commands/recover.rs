//! `orch recover`: continue the conversations a reboot or a dead tmux server left
//! `lost`, one start every `--stagger` (see `ops::recover`).

use std::time::Duration;

use anyhow::Result;

use crate::cli::args::RecoverArgs;
use crate::lifecycle::state;
use crate::ops::recover::{self, Action};
use crate::store::Home;

pub fn run(args: RecoverArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let runs = if args.all {
        home.run_ids()?.iter().map(|id| home.run(id)).collect()
    } else {
        vec![home.run_or_latest(args.run.as_deref())?]
    };
    let items = recover::plan(&runs)?;
    let scope = if args.all {
        "any run".to_string()
    } else {
        format!("run {}", runs[0].id)
    };
    if items.is_empty() {
        crate::outln!("nothing to recover: no lost workers in {scope}");
        return Ok(0);
    }
    if args.dry_run {
        for it in &items {
            match &it.action {
                Action::Resume(t) => crate::outln!(
                    "would resume {} (thread {t}) with: {}",
                    it.worker.address(),
                    recover::RECOVER_PROMPT
                ),
                Action::Restart => crate::outln!(
                    "would start {} again from its prompt (it never reached codex)",
                    it.worker.address()
                ),
            }
        }
        crate::outln!("{} workers, one every {}s", items.len(), args.stagger);
        return Ok(0);
    }
    // codex is found through each worker's saved environment, not this one's.
    crate::sys::tmux::check_version()?;
    recover::check_login(&items[0])?;
    let stagger = Duration::from_secs(args.stagger);
    let mut started = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            let failed = recover::wait_watching(&started, stagger);
            if failed.len() >= recover::AUTH_FAILURES {
                return Err(recover::auth_stop(&failed, items.len() - i).into());
            }
        }
        if !recover::start(&home, it)? {
            crate::outln!(
                "{} is {} now; left alone",
                it.worker.address(),
                state::state_of(&it.worker)
            );
            continue;
        }
        match &it.action {
            Action::Resume(t) => crate::outln!("{} resuming thread {t}", it.worker.address()),
            Action::Restart => {
                crate::outln!("{} starting again from its prompt", it.worker.address())
            }
        }
        started.push(it.worker.clone());
    }
    Ok(0)
}
