use clap::Parser;

fn main() {
    quiet_on_closed_stdout();
    let cli = orch::cli::args::Cli::parse();
    let code = match orch::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            let (message, code) = orch::model::error::report(&err);
            if let Some(m) = message {
                eprintln!("orch: {m}");
            }
            code
        }
    };
    std::process::exit(code);
}

/// `orch status --json | head -1` closes our stdout early; Rust ignores SIGPIPE, so the
/// next `println!` panics. Like any Unix filter, end quietly instead (128 + SIGPIPE).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") || msg.contains("BrokenPipe") {
            std::process::exit(141);
        }
        if msg.contains("failed printing to stdout") {
            eprintln!("orch: cannot write the output: {msg}");
            std::process::exit(1);
        }
        default(info);
    }));
}
