//! The `switchyard` binary: loads the configuration (embedded default, file,
//! `SWITCHYARD_*` environment, CLI flags) and runs the service with the chat demo.

use switchyard::config::{Config, ConfigError};

#[actix_web::main]
async fn main() {
    let config = match Config::load(std::env::args_os(), std::env::vars_os()) {
        Ok(config) => config,
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("switchyard: {e}");
            std::process::exit(1);
        }
    };
    // After the config, which says the format; nothing logs before it (its
    // errors are printed whole, as one line each).
    switchyard::logging::init(config.log_format);
    if let Err(e) = switchyard::demo::run(config).await {
        eprintln!("switchyard: {e}");
        std::process::exit(1);
    }
}
