//! The `minijwt` command: token tools (`token encode|decode|verify|explain`)
//! and key generation. The JWT work itself is the library's; this binary only
//! reads arguments and files and prints.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run(std::env::args_os().skip(1).collect())
}
