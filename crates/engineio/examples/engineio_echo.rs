//! A bare Engine.IO endpoint that sends every message back, mounted on an
//! actix-web app of your own. `cargo run -p switchyard-engineio --example engineio_echo`,
//! then connect `engine.io-client` to `http://127.0.0.1:3000` with path `/engine.io/`.

use actix_web::{App, HttpServer};
use switchyard_engineio::{CloseReason, Engine, EngineConfig, EngineHandler, Message, SessionCtx};

struct Echo;

impl EngineHandler for Echo {
    type Upcall = ();
    fn on_message(&mut self, message: Message, session: &mut SessionCtx<'_, Self>) {
        session.send(message);
    }
    fn on_close(&mut self, _: CloseReason, _: &mut SessionCtx<'_, Self>) {}
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let engine = Engine::new(EngineConfig::default(), || Echo);
    HttpServer::new(move || App::new().configure(engine.configure("/engine.io/")))
        .bind("127.0.0.1:3000")?
        .run()
        .await
}
