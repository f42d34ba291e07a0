//! What the xtask integration tests share.

use std::ffi::OsStr;
use std::process::Command;

/// Runs the xtask binary with `args`: whether it succeeded, its stdout and its stderr.
pub fn xtask<I, S>(args: I) -> (bool, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
