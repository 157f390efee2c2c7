//! The `tidings` binary, built once more inside this package from the same `tidings_cli::main`,
//! so the fault suite can run it as an OS process: cargo builds a package's binaries for that
//! package's own tests only.

fn main() -> std::process::ExitCode {
    tidings_cli::main()
}
