//! The `data-exports` binary: parses the command line and hands over to [`data_exports::cli`].

/// mimalloc frees a block on whichever thread it was allocated without taking a lock shared with
/// it (the export engine decodes on one thread and encodes on another).
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    data_exports::cli::main()
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser bundle starts from `data_exports::hydrate`, not from here.
}
