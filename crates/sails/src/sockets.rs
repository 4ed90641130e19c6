//! `sails.sockets`: the room helpers Sails gives handlers, by socket id, on
//! one namespace, and [`SocketReq`], the extractor that tells a handler
//! whether its request came over a socket.
//!
//! They only use the public operators (`to`, `except`, `sockets_join`...),
//! so they reach every socket the namespace's adapter reaches.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev};

use switchyard_socketio::socket::{
    Applied, BroadcastError, BroadcastOperator, EffectError, NamespaceRef, Payload, SocketRef,
};

/// Whether an actix-web request came over a socket (a virtual request),
/// and from which: `req.isSocket` and `req.socket` in Sails. Extract it in
/// any handler; over plain HTTP, [`is_socket`](Self::is_socket) is false.
///
/// ```
/// use actix_web::HttpResponse;
/// use switchyard_sails::SocketReq;
///
/// async fn whoami(req: SocketReq) -> HttpResponse {
///     match req.id() {
///         Some(id) => HttpResponse::Ok().body(format!("socket {id}")),
///         None => HttpResponse::Ok().body("plain HTTP"),
///     }
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct SocketReq(Option<SocketRef>);

impl SocketReq {
    pub(crate) fn new(socket: SocketRef) -> Self {
        SocketReq(Some(socket))
    }

    /// Whether the request came over a socket (Sails' `req.isSocket`).
    pub fn is_socket(&self) -> bool {
        self.0.is_some()
    }

    /// The socket it came from (Sails' `req.socket`): emit, join, broadcast.
    pub fn socket(&self) -> Option<&SocketRef> {
        self.0.as_ref()
    }

    /// The socket's id (`sails.sockets.getId(req)`).
    pub fn id(&self) -> Option<&str> {
        self.0.as_ref().map(SocketRef::id)
    }
}

impl FromRequest for SocketReq {
    type Error = Infallible;
    type Future = Ready<Result<SocketReq, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<SocketReq>()
            .cloned()
            .unwrap_or_default()))
    }
}

/// Sails' `sails.sockets` on one namespace. `serve` puts the main
/// namespace's in the app data, so handlers extract it like any other:
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use serde_json::json;
/// use switchyard_sails::{SocketReq, Sockets};
///
/// /// POST /rooms/{room}/join: the caller joins the room, and the room hears of it.
/// async fn join(req: SocketReq, sockets: Sockets, room: web::Path<String>) -> HttpResponse {
///     let Some(id) = req.id() else {
///         return HttpResponse::BadRequest().body("socket requests only");
///     };
///     if sockets.join(id, room.as_str()).await.is_err() {
///         return HttpResponse::ServiceUnavailable().finish();
///     }
///     let _ = sockets.broadcast([room.as_str()], "joined", json!(id), Some(id)).await;
///     HttpResponse::Ok().json(json!({ "joined": *room }))
/// }
/// ```
#[derive(Clone)]
pub struct Sockets {
    ns: NamespaceRef,
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sockets")
            .field("nsp", &self.ns.name())
            .finish()
    }
}

impl Sockets {
    /// The helpers for namespace `ns`.
    pub fn new(ns: NamespaceRef) -> Self {
        Sockets { ns }
    }

    /// The namespace they act on.
    pub fn namespace(&self) -> &NamespaceRef {
        &self.ns
    }

    /// The socket `id` joins `room` (`sails.sockets.join`).
    pub fn join(&self, id: &str, room: impl Into<String>) -> Applied {
        self.ns.to(id).sockets_join([room.into()])
    }

    /// The socket `id` leaves `room` (`sails.sockets.leave`).
    pub fn leave(&self, id: &str, room: impl Into<String>) -> Applied {
        self.ns.to(id).sockets_leave([room.into()])
    }

    /// The socket `id` leaves every room but its own (`sails.sockets.leaveAll`).
    pub async fn leave_all(&self, id: &str) -> Result<(), EffectError> {
        let found = self.ns.to(id).fetch_sockets().await;
        for socket in found.unwrap_or_else(|e| e.into_partial()) {
            let others = socket.rooms().iter().filter(|r| *r != socket.id());
            self.ns
                .to(socket.id())
                .sockets_leave(others.cloned())
                .await?;
        }
        Ok(())
    }

    /// Emits `event` to everyone in `rooms` but the socket `except`
    /// (`sails.sockets.broadcast`); resolves with how many were targeted.
    pub async fn broadcast(
        &self,
        rooms: impl IntoIterator<Item = impl Into<String>>,
        event: &str,
        data: impl Into<Payload>,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let to = rooms
            .into_iter()
            .fold(self.selection(except), |op, room| op.to(room));
        to.emit(event, data).await
    }

    /// Emits `event` to every socket of the namespace but `except`
    /// (`sails.sockets.blast`).
    pub async fn blast(
        &self,
        event: &str,
        data: impl Into<Payload>,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        self.selection(except).emit(event, data).await
    }

    /// Everyone in room `source` joins `rooms` (`sails.sockets.addRoomMembersToRooms`).
    pub fn add_room_members_to_rooms(
        &self,
        source: &str,
        rooms: impl IntoIterator<Item = impl Into<String>>,
    ) -> Applied {
        self.ns.to(source).sockets_join(rooms)
    }

    /// Everyone in room `source` leaves `rooms` (`sails.sockets.removeRoomMembersFromRooms`).
    pub fn remove_room_members_from_rooms(
        &self,
        source: &str,
        rooms: impl IntoIterator<Item = impl Into<String>>,
    ) -> Applied {
        self.ns.to(source).sockets_leave(rooms)
    }

    /// The whole namespace, less the socket `except` (its own-id room).
    fn selection(&self, except: Option<&str>) -> BroadcastOperator {
        let all = self.ns.to_all();
        match except {
            Some(id) => all.except(id),
            None => all,
        }
    }
}

impl FromRequest for Sockets {
    type Error = actix_web::Error;
    type Future = Ready<Result<Sockets, actix_web::Error>>;

    /// The app's `Sockets` (the main namespace's under `serve`), else the
    /// namespace of the socket the request came from.
    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        let found = req.app_data::<Sockets>().cloned().or_else(|| {
            let socket = req.extensions().get::<SocketReq>()?.socket()?.clone();
            Some(Sockets::new(socket.namespace()))
        });
        ready(found.ok_or_else(|| {
            actix_web::error::ErrorInternalServerError("no Sockets in the app data")
        }))
    }
}
