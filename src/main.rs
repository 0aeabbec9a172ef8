use clap::Parser;

fn main() {
    let cli = orch::cli::Cli::parse();
    let code = match orch::commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            let (message, code) = orch::error::report(&err);
            if let Some(m) = message {
                eprintln!("orch: {m}");
            }
            code
        }
    };
    std::process::exit(code);
}
