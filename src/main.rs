//! The `data-exports` binary: parses the command line and hands over to [`data_exports::cli`].

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    data_exports::cli::main()
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser bundle starts from `data_exports::hydrate`, not from here.
}
