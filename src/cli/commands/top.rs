//! `orch top` (and `orch status --watch`): the dashboard (`cli::top`).

use std::time::Duration;

use anyhow::Result;

use crate::cli::args::{TopArgs, TopCommandArgs};
use crate::cli::top::{self, Options};
use crate::lifecycle::state::ViewOptions;

pub fn run_command(args: TopCommandArgs) -> Result<i32> {
    top::run(options(args.top, args.all))
}

/// `status --watch`: one run.
pub fn run(args: TopArgs) -> Result<i32> {
    top::run(options(args, false))
}

fn options(args: TopArgs, all: bool) -> Options {
    Options {
        run: args.run,
        all,
        view: ViewOptions {
            stall_after: Duration::from_secs(args.stall.stall_after),
            offline_after: Duration::from_secs(args.stall.offline_after),
            activity: true,
        },
        poll: args.poll.poll,
    }
}
