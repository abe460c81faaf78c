//! The `crashsafe` command: see `crashsafe --help` and the README.
fn main() -> std::process::ExitCode {
    crashsafe::cli::main()
}
