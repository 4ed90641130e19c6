//! The chat demo the default binary serves: nicknames, channels with
//! presence and history, typing hints and private messages. The page
//! (`static/index.html`) talks to it with `io.socket` virtual requests, so
//! every route also answers plain HTTP (`curl localhost:3000/channels`).
//!
//! It uses the public API as any application would: actix-web routes
//! (`routes`), one handler actor per worker for the `typing` event and
//! disconnections (`Presence`), and a bounded in-memory `store`.
//! Nothing below imports from here.

mod routes;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;
use actix_web::web;
use serde_json::{Value, json};

use crate::config::Config;
use switchyard_sails::Sockets;
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::socket::{Connect, Disconnect, Event};

/// The demo's shared state, in the app data of every worker.
#[derive(Default)]
pub struct Demo {
    store: Mutex<store::Store>,
}

/// The Socket.IO room of channel `name`.
fn room(name: &str) -> String {
    format!("channel:{name}")
}

impl Demo {
    fn store(&self) -> MutexGuard<'_, store::Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells channel `name` who is in it now.
    async fn presence(&self, sockets: &Sockets, name: &str) {
        let Ok(members) = self.store().members(name) else {
            return;
        };
        let update = json!({ "channel": name, "members": members });
        let _ = sockets
            .broadcast_event(room(name), "presence", update)
            .await;
    }
}

/// The handler actor: relays `typing` (volatile) and updates the channels
/// of a socket that disconnects.
struct Presence {
    demo: Arc<Demo>,
}

impl Actor for Presence {
    type Context = Context<Self>;
}

impl Handler<Connect> for Presence {
    type Result = ();
    fn handle(&mut self, _: Connect, _: &mut Context<Self>) {}
}

impl Handler<Event> for Presence {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        if ev.name != "typing" {
            return;
        }
        let first = ev.payload.args.first();
        let Some(channel) = first.and_then(|a| a.get("channel")).and_then(Value::as_str) else {
            return;
        };
        let Some(nick) = self
            .demo
            .store()
            .typing(ev.socket.id(), channel)
            .map(str::to_string)
        else {
            return;
        };
        let hint = json!({ "channel": channel, "nick": nick });
        let typing = ev.socket.to(room(channel)).volatile();
        actix::spawn(async move {
            let _ = typing.emit("typing", hint).await;
        });
    }
}

impl Handler<Disconnect> for Presence {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        let channels = self.demo.store().gone(msg.socket.id());
        let demo = self.demo.clone();
        let sockets = Sockets::new(msg.socket.namespace());
        actix::spawn(async move {
            for channel in channels {
                demo.presence(&sockets, &channel).await;
            }
        });
    }
}

/// The demo's main namespace handlers, before virtual requests are added.
fn namespace(demo: Arc<Demo>) -> NamespaceBuilder {
    NamespaceBuilder::default().handler_per_worker(move || Presence { demo: demo.clone() })
}

/// Runs the service described by `config` with the chat demo on it: the
/// page from `config.static_dir`, its routes, and its handlers on `/`.
pub async fn run(config: Config) -> std::io::Result<()> {
    let source = match &config.file {
        Some(file) => format!("{} over the built-in defaults", file.display()),
        None => "the built-in defaults (config/default.toml)".to_string(),
    };
    crate::service::announce(&format!(
        "switchyard {}: the chat demo, config from {source}",
        env!("CARGO_PKG_VERSION")
    ));
    let demo = Arc::new(Demo::default());
    let data = web::Data::from(demo.clone());
    let routes = move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(data.clone());
        routes::configure(cfg);
    };
    crate::service::run(config, namespace(demo), routes).await
}
