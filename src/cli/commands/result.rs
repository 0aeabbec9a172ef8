//! `orch result`: the final message, exactly as the worker wrote it.

use std::io::Write;

use anyhow::Result;

use crate::cli::args::ResultArgs;
use crate::ops::output::{final_message, result_report};
use crate::store::Home;

pub fn run(args: ResultArgs) -> Result<i32> {
    let home = Home::from_env()?;
    if args.json {
        let report = result_report(&home, &args.worker)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    let (_, bytes) = final_message(&home, &args.worker)?;
    let mut out = std::io::stdout();
    out.write_all(&bytes)?;
    // Exactly as written when piped; on a terminal the prompt must not end up glued to
    // the message's last line.
    if std::io::IsTerminal::is_terminal(&out) && !bytes.is_empty() && !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(0)
}
