//! The `lagesbild` binary: a thin wrapper around the command line.

fn main() -> std::process::ExitCode {
    lagesbild::cli::run()
}
