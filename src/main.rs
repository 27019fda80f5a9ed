//! `pickup-terminal`: the clerk's screen, or a desk command when one is given.

use clap::Parser;

fn main() {
    let cli = pickup_terminal::cli::Cli::parse();
    let code = match &cli.command {
        Some(command) => pickup_terminal::cli::run(&cli, command),
        None => pickup_terminal::ui::launch::run(&cli),
    };
    std::process::exit(code);
}
