//! The smallest embedding: a handler that only takes `Event`, mounted on an
//! actix-web app of your own. `cargo run -p switchyard-socketio --example socketio_echo`,
//! then `io("http://127.0.0.1:3000").emit("hi", 1, (reply) => console.log(reply))`.

use actix::prelude::*;
use actix_web::{App, HttpServer};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::socket::Event;

struct Echo;

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<Event> for Echo {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        match ev.ack {
            Some(ack) => ack.send(ev.payload),
            None => drop(ev.socket.emit(&ev.name, ev.payload)),
        }
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let ns = NamespaceBuilder::default().on_event(Echo.start().recipient());
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns("/", ns)
        .build();
    HttpServer::new(move || App::new().configure(io.configure("/socket.io/")))
        .bind("127.0.0.1:3000")?
        .run()
        .await
}
