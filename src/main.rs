use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gamebridge::cli::Cli::parse();
    gamebridge::logging::init(cli.verbose, cli.quiet);
    match gamebridge::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
