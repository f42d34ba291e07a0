//! `dupaudit`: the duplicate audit of a folder tree (or of the CIFAR-10 binaries) from the
//! command line. See the crate's README.

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    dupaudit::cli::run(std::env::args_os())
}
