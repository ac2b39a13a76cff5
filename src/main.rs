//! `rvoip-media`: the command-line front end of rvoip-media-core.

fn main() -> std::process::ExitCode {
    rvoip_media_core::cli::main()
}
