//! Switchyard mounted in an actix-web app you build yourself (instead of
//! `switchyard_socketio::server::serve`): `SocketIo::configure` adds the Socket.IO
//! endpoint as ordinary routes beside your own, and WebSockets run through
//! actix-web's HTTP/1 dispatcher. `serve` is leaner (it takes upgraded
//! connections over); this is for apps that own their `HttpServer`.
//!
//! On `/`: `message` → `message-back` with the same arguments; an event with
//! an ack is acked with its arguments. `GET /hello` answers `hello`.
//!
//! `cargo run --example in_app [-- --port N]` (default 3000; 0 picks a free port).

#[path = "common/flags.rs"]
mod flags;

use actix::prelude::*;
use actix_web::{App, HttpServer, web};
use flags::flag;
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::socket::{Connect, Disconnect, Event};

struct Echo;

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<Connect> for Echo {
    type Result = ();
    fn handle(&mut self, _: Connect, _: &mut Context<Self>) {}
}

impl Handler<Disconnect> for Echo {
    type Result = ();
    fn handle(&mut self, _: Disconnect, _: &mut Context<Self>) {}
}

impl Handler<Event> for Echo {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        match ev.ack {
            Some(ack) => ack.send(ev.payload),
            None if ev.name == "message" => drop(ev.socket.emit("message-back", ev.payload)),
            None => {}
        }
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns("/", NamespaceBuilder::default().handler_per_worker(|| Echo))
        .build();
    let mount = io.configure("/socket.io/");
    let server = HttpServer::new(move || {
        App::new()
            .configure(mount.clone())
            .route("/hello", web::get().to(|| async { "hello" }))
    })
    .bind(("127.0.0.1", flag("--port", 3000u16)))?;
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    server.run().await
}
