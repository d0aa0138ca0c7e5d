use clap::Args;
#[derive(Debug, Args)]
pub struct CallBench {}
pub fn run(_: CallBench) -> anyhow::Result<()> {
    Ok(())
}
