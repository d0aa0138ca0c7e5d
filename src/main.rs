use std::process::ExitCode;

use clap::Parser;

/// Many small JSON values are built and freed per tick and per event:
/// mimalloc does that at a fraction of glibc malloc's cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
