//! `tidings`: the relay daemon and the operator commands (see `tidings --help`).

fn main() -> std::process::ExitCode {
    tidings_cli::main()
}
