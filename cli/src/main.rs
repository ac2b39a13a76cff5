//! `rvoip-media`: see the library ([`rvoip_media_cli`]) for what it does.

fn main() -> std::process::ExitCode {
    rvoip_media_cli::main_with(std::env::args_os())
}
