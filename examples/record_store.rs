//! A small record store with Sails' resourceful pubsub: CRUD routes that
//! answer plain HTTP and `io.socket` requests alike, and publish every
//! change to the sockets watching, the requester left out.
//!
//! - `GET /records`: all records; a socket caller is subscribed to each and
//!   watches the model (it hears of new records).
//! - `GET /records/{id}`: one record (404 if unknown); a socket caller is subscribed.
//! - `POST /records`: creates `{id, ...fields}` (201) → `record` `{verb: "created", data, id}`.
//! - `PATCH /records/{id}`: merges fields → `{verb: "updated", data, id, previous}`.
//! - `DELETE /records/{id}` → `{verb: "destroyed", id, previous}`.
//! - `PUT|DELETE /records/{id}/links/{other}`: links two records →
//!   `{verb: "addedTo" | "removedFrom", id, attribute: "links", addedId | removedId}`.
//!
//! It runs its own actix-web `HttpServer`, as an app that embeds Switchyard
//! would: `Sails::app` wraps the `App` so that virtual requests run through
//! it. The store keeps at most 1,000 records (409 beyond). Try it:
//! `cargo run --example record_store -- --port 3000`, then
//! `curl -XPOST localhost:3000/records -H 'content-type: application/json' -d '{"name":"a"}'`.

#[path = "common/flags.rs"]
mod flags;

use flags::flag;
use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Map, Value, json};
use switchyard_sails::{Model, Sails, SocketReq, Sockets, VirtualRequestConfig};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;

/// Most records the store keeps.
const MAX_RECORDS: usize = 1000;

/// The records, by id: each an object with `id` and `links` (ids).
#[derive(Default)]
struct Store {
    next: u64,
    records: BTreeMap<u64, Map<String, Value>>,
}

type Shared = web::Data<Mutex<Store>>;

fn lock(store: &Shared) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

fn records(sockets: Sockets) -> Model {
    Model::new(sockets, "record")
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": "no such record" }))
}

async fn list(req: SocketReq, sockets: Sockets, store: Shared) -> HttpResponse {
    let all: Vec<Value> = lock(&store)
        .records
        .values()
        .cloned()
        .map(Value::Object)
        .collect();
    let model = records(sockets);
    let ids = all.iter().map(|r| r["id"].clone());
    if model.subscribe(&req, ids).await.is_err() || model.watch(&req).await.is_err() {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(all)
}

async fn find(req: SocketReq, sockets: Sockets, store: Shared, id: web::Path<u64>) -> HttpResponse {
    let Some(record) = lock(&store).records.get(&id).cloned() else {
        return not_found();
    };
    if records(sockets)
        .subscribe(&req, [json!(*id)])
        .await
        .is_err()
    {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(record)
}

async fn create(
    req: SocketReq,
    sockets: Sockets,
    store: Shared,
    body: web::Json<Map<String, Value>>,
) -> HttpResponse {
    let record = {
        let mut store = lock(&store);
        if store.records.len() >= MAX_RECORDS {
            return HttpResponse::Conflict().json(json!({ "error": "the store is full" }));
        }
        store.next += 1;
        let id = store.next;
        let mut record = body.into_inner();
        record.insert("id".into(), json!(id));
        record.insert("links".into(), json!([]));
        store.records.insert(id, record.clone());
        record
    };
    let id = record["id"].clone();
    let _ = records(sockets)
        .publish_create(id, Value::Object(record.clone()), req.id())
        .await;
    HttpResponse::Created().json(record)
}

async fn update(
    req: SocketReq,
    sockets: Sockets,
    store: Shared,
    id: web::Path<u64>,
    body: web::Json<Map<String, Value>>,
) -> HttpResponse {
    let mut changes = body.into_inner();
    changes.remove("id");
    changes.remove("links");
    let (previous, updated) = {
        let mut store = lock(&store);
        let Some(record) = store.records.get_mut(&id) else {
            return not_found();
        };
        let previous = record.clone();
        record.extend(changes.clone());
        (previous, record.clone())
    };
    let _ = records(sockets)
        .publish_update(
            json!(*id),
            Value::Object(changes),
            Some(Value::Object(previous)),
            req.id(),
        )
        .await;
    HttpResponse::Ok().json(updated)
}

async fn destroy(
    req: SocketReq,
    sockets: Sockets,
    store: Shared,
    id: web::Path<u64>,
) -> HttpResponse {
    let Some(previous) = lock(&store).records.remove(&id) else {
        return not_found();
    };
    let _ = records(sockets)
        .publish_destroy(json!(*id), Some(Value::Object(previous.clone())), req.id())
        .await;
    HttpResponse::Ok().json(previous)
}

/// Adds (`add`) or removes the link `id` → `other`; returns the record.
async fn link(
    req: SocketReq,
    sockets: Sockets,
    store: Shared,
    path: web::Path<(u64, u64)>,
    add: bool,
) -> HttpResponse {
    let (id, other) = *path;
    let record = {
        let mut store = lock(&store);
        if !store.records.contains_key(&other) {
            return not_found();
        }
        let Some(record) = store.records.get_mut(&id) else {
            return not_found();
        };
        let mut links: Vec<u64> =
            serde_json::from_value(record["links"].clone()).unwrap_or_default();
        links.retain(|l| *l != other);
        if add {
            links.push(other);
        }
        record.insert("links".into(), json!(links));
        record.clone()
    };
    let model = records(sockets);
    let published = if add {
        model
            .publish_add(json!(id), "links", json!(other), None, req.id())
            .await
    } else {
        model
            .publish_remove(json!(id), "links", json!(other), req.id())
            .await
    };
    drop(published);
    HttpResponse::Ok().json(record)
}

async fn add_link(r: SocketReq, s: Sockets, st: Shared, p: web::Path<(u64, u64)>) -> HttpResponse {
    link(r, s, st, p, true).await
}

async fn remove_link(
    r: SocketReq,
    s: Sockets,
    st: Shared,
    p: web::Path<(u64, u64)>,
) -> HttpResponse {
    link(r, s, st, p, false).await
}

fn routes(store: Shared) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(store.clone())
            .route("/records", web::get().to(list))
            .route("/records", web::post().to(create))
            .route("/records/{id}", web::get().to(find))
            .route("/records/{id}", web::patch().to(update))
            .route("/records/{id}", web::delete().to(destroy))
            .route("/records/{id}/links/{other}", web::put().to(add_link))
            .route("/records/{id}/links/{other}", web::delete().to(remove_link));
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    // The app runs its own HttpServer: `Sails::app` wraps each worker's App
    // so that virtual requests run through it, as HTTP requests do.
    let sails = Sails::new(VirtualRequestConfig::default());
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns("/", sails.namespace(NamespaceBuilder::default()))
        .build();
    let store = web::Data::new(Mutex::new(Store::default()));
    let server = HttpServer::new(move || {
        sails.app(
            App::new()
                .app_data(Sockets::new(io.main()))
                .configure(io.configure("/socket.io/"))
                .configure(routes(store.clone())),
        )
    })
    .bind(("127.0.0.1", flag("--port", 3000u16)))?;
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    server.run().await
}
