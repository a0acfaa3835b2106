//! `pgmq`: the command-line tool for operators of pgmq-rs queues. See the README.
//!
//! Output goes through a locked stdout as `std::io::Write` (see `output`), never `println!`,
//! so a closed pipe is handled and the workspace's `print_stdout` lint stays on.

mod cli;
mod commands;
mod error;
mod output;
mod signal;
mod values;

use std::process::ExitCode;

use clap::Parser;

use crate::error::CliError;

fn main() -> ExitCode {
    // A bug should still read as one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = (payload.downcast_ref::<&str>().copied())
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        eprintln!("error: internal error (a bug in pgmq, please report it): {what}");
    }));
    let cli = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(commands::run(cli)),
        Err(e) => Err(CliError::new(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    result.unwrap_or_else(CliError::report)
}
