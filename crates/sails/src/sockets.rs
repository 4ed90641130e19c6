//! `sails.sockets`: the room helpers Sails gives handlers, on one namespace,
//! taking a socket as Sails does (its id, the socket, or the request it
//! sent: [`SocketTarget`]); [`SocketReq`], the extractor that tells a
//! handler whether its request came over a socket.
//!
//! They only use the public operators (`to`, `except`, `sockets_join`...),
//! so they reach every socket the namespace's adapter reaches.

use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::future::{Future, IntoFuture, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev};
use futures_util::future::BoxFuture;

use super::sdk::SdkMetadata;
use switchyard_socketio::socket::{
    Applied, BroadcastError, EffectError, NamespaceRef, Payload, SocketRef,
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

    /// The sails.io.js SDK the socket's handshake names (Sails'
    /// `sails.getSDKMetadata(req.socket.handshake)`).
    pub fn sdk(&self) -> Option<SdkMetadata> {
        self.0.as_ref().map(|s| SdkMetadata::of(s.handshake()))
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

/// A socket, as `sails.sockets` takes one: its id (`&str`, `String`), the
/// socket ([`SocketRef`]), or the request it sent ([`SocketReq`], Sails'
/// `sails.sockets.join(req, 'room')`); references and `Option`s of these
/// too (`req.id()`). A request that came over no socket (plain HTTP), or
/// `None`, is no socket: Sails then does nothing.
///
/// ```
/// use switchyard_sails::{SocketReq, SocketTarget};
///
/// assert_eq!("abc".socket_id(), Some("abc"));
/// assert_eq!(SocketReq::default().socket_id(), None); // plain HTTP
/// assert_eq!(None::<&str>.socket_id(), None);
/// ```
pub trait SocketTarget {
    /// The socket's id; `None` when there is no socket.
    fn socket_id(&self) -> Option<&str>;

    /// The socket itself, when this node holds it: a join or leave then
    /// acts on it directly (in its own namespace, as Sails' `socket.join`),
    /// without asking the other nodes. `None` for an id.
    fn socket_ref(&self) -> Option<&SocketRef> {
        None
    }
}

impl SocketTarget for str {
    fn socket_id(&self) -> Option<&str> {
        Some(self)
    }
}

impl SocketTarget for String {
    fn socket_id(&self) -> Option<&str> {
        Some(self)
    }
}

impl SocketTarget for SocketRef {
    fn socket_id(&self) -> Option<&str> {
        Some(self.id())
    }

    fn socket_ref(&self) -> Option<&SocketRef> {
        Some(self)
    }
}

impl SocketTarget for SocketReq {
    fn socket_id(&self) -> Option<&str> {
        self.id()
    }

    fn socket_ref(&self) -> Option<&SocketRef> {
        self.socket()
    }
}

impl<T: SocketTarget + ?Sized> SocketTarget for &T {
    fn socket_id(&self) -> Option<&str> {
        (**self).socket_id()
    }

    fn socket_ref(&self) -> Option<&SocketRef> {
        (**self).socket_ref()
    }
}

impl<T: SocketTarget> SocketTarget for Option<T> {
    fn socket_id(&self) -> Option<&str> {
        self.as_ref().and_then(T::socket_id)
    }

    fn socket_ref(&self) -> Option<&SocketRef> {
        self.as_ref().and_then(T::socket_ref)
    }
}

/// The rooms of a broadcast (Sails' `roomNames`, one name or an array of
/// them): one room (`&str`, `String`, `&String`), or many (an array, a
/// `Vec`, a slice, a `BTreeSet` or `HashSet`, of `&str` or `String`). Any
/// other iterator: `collect` it into a `Vec` first.
pub trait Rooms {
    /// The room names.
    fn into_rooms(self) -> Vec<String>;
}

impl Rooms for &str {
    fn into_rooms(self) -> Vec<String> {
        vec![self.to_string()]
    }
}

impl Rooms for String {
    fn into_rooms(self) -> Vec<String> {
        vec![self]
    }
}

impl Rooms for &String {
    fn into_rooms(self) -> Vec<String> {
        vec![self.clone()]
    }
}

impl<S: Into<String>, const N: usize> Rooms for [S; N] {
    fn into_rooms(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: AsRef<str>, const N: usize> Rooms for &[S; N] {
    fn into_rooms(self) -> Vec<String> {
        self.as_slice().into_rooms()
    }
}

impl<S: AsRef<str>> Rooms for &[S] {
    fn into_rooms(self) -> Vec<String> {
        self.iter().map(|r| r.as_ref().to_string()).collect()
    }
}

impl<S: Into<String>> Rooms for Vec<S> {
    fn into_rooms(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: AsRef<str>> Rooms for &Vec<S> {
    fn into_rooms(self) -> Vec<String> {
        self.as_slice().into_rooms()
    }
}

impl<S: Into<String>> Rooms for BTreeSet<S> {
    fn into_rooms(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: Into<String>, H> Rooms for HashSet<S, H> {
    fn into_rooms(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

/// A join or leave of [`Sockets`]: resolves once it is done. It is under
/// way from the call on; awaiting it tells when it is done and whether the
/// namespace took it. For no socket it resolves at once, having done nothing.
#[must_use = "the join or leave is under way; await it to know that it is done"]
#[derive(Debug)]
pub struct RoomChange(Option<Applied>);

impl Future for RoomChange {
    type Output = Result<(), EffectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Some(applied) => Pin::new(applied).poll(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// Sails' default event name for a broadcast or blast given none
/// (`sails.sockets.DEFAULT_EVENT_NAME`).
pub const DEFAULT_EVENT_NAME: &str = "message";

/// A broadcast or blast of [`Sockets`], sent when awaited: resolves with
/// how many sockets it targeted on this node. [`except`](Self::except)
/// leaves one socket out (Sails' `socketToOmit`).
///
/// ```no_run
/// # async fn f(sockets: switchyard_sails::Sockets, req: switchyard_sails::SocketReq) {
/// use serde_json::json;
///
/// // sails.sockets.broadcast('lobby', {hi: 1}): event "message".
/// let _ = sockets.broadcast("lobby", json!({ "hi": 1 })).await;
/// // sails.sockets.broadcast(['a', 'b'], 'news', data, req)
/// let _ = sockets.broadcast_event(["a", "b"], "news", json!(1)).except(&req).await;
/// # }
/// ```
#[must_use = "a broadcast is sent when it is awaited"]
pub struct Broadcast {
    ns: NamespaceRef,
    /// The rooms; `None` for every socket of the namespace (a blast).
    rooms: Option<Vec<String>>,
    event: String,
    data: Payload,
    except: Option<String>,
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("nsp", &self.ns.name())
            .field("rooms", &self.rooms)
            .field("event", &self.event)
            .field("except", &self.except)
            .finish_non_exhaustive()
    }
}

impl Broadcast {
    /// Leaves out `socket` (its id, the socket, or the request it sent);
    /// no socket (a plain HTTP request, `None`) leaves out nobody.
    pub fn except(mut self, socket: impl SocketTarget) -> Self {
        self.except = socket.socket_id().map(str::to_string);
        self
    }
}

impl IntoFuture for Broadcast {
    type Output = Result<usize, BroadcastError>;
    type IntoFuture = BoxFuture<'static, Result<usize, BroadcastError>>;

    fn into_future(self) -> Self::IntoFuture {
        let Broadcast {
            ns,
            rooms,
            event,
            data,
            except,
        } = self;
        let mut to = ns.to_all();
        if let Some(rooms) = rooms {
            // Sails sends a broadcast to no room to nobody, not to everyone.
            if rooms.is_empty() {
                return Box::pin(ready(Ok(0)));
            }
            to = rooms.into_iter().fold(to, |op, room| op.to(room));
        }
        if let Some(id) = except {
            to = to.except(id);
        }
        Box::pin(async move { to.emit(&event, data).await })
    }
}

/// Sails' `sails.sockets` on one namespace. `serve` puts the main
/// namespace's in the app data, so handlers extract it like any other.
/// A socket is given as Sails takes one ([`SocketTarget`]): its id, the
/// socket, or the request it sent.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use serde_json::json;
/// use switchyard_sails::{SocketReq, Sockets};
///
/// /// POST /rooms/{room}/join: the caller joins the room, and the room hears of it.
/// async fn join(req: SocketReq, sockets: Sockets, room: web::Path<String>) -> HttpResponse {
///     if !req.is_socket() {
///         return HttpResponse::BadRequest().body("socket requests only");
///     }
///     // sails.sockets.join(req, room)
///     if sockets.join(&req, room.as_str()).await.is_err() {
///         return HttpResponse::ServiceUnavailable().finish();
///     }
///     // sails.sockets.broadcast(room, 'joined', id, req)
///     let id = json!(req.id());
///     let _ = sockets.broadcast_event(room.as_str(), "joined", id).except(&req).await;
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

    /// `socket` joins `room` (`sails.sockets.join(socket, room)`): a
    /// socket or a socket request joins directly, an id through the
    /// namespace (on whichever node the socket is); no socket does nothing.
    pub fn join(&self, socket: impl SocketTarget, room: impl Into<String>) -> RoomChange {
        self.room_change(socket, room.into(), true)
    }

    /// `socket` leaves `room` (`sails.sockets.leave(socket, room)`), as
    /// [`join`](Self::join) joins.
    pub fn leave(&self, socket: impl SocketTarget, room: impl Into<String>) -> RoomChange {
        self.room_change(socket, room.into(), false)
    }

    fn room_change(&self, target: impl SocketTarget, room: String, join: bool) -> RoomChange {
        if let Some(socket) = target.socket_ref() {
            return RoomChange(Some(match join {
                true => socket.join([room]),
                false => socket.leave(room),
            }));
        }
        let Some(id) = target.socket_id() else {
            let what = if join { "join" } else { "leave" };
            log::warn!(
                "sails.sockets.{what}({room:?}) for a request that came over no socket: nothing done"
            );
            return RoomChange(None);
        };
        let only = self.ns.to(id);
        RoomChange(Some(match join {
            true => only.sockets_join([room]),
            false => only.sockets_leave([room]),
        }))
    }

    /// Every socket in room `source` leaves every room but its own
    /// (`sails.sockets.leaveAll(source)`); `source` may be a socket's id.
    pub async fn leave_all(&self, source: &str) -> Result<(), EffectError> {
        let found = self.ns.to(source).fetch_sockets().await;
        for socket in found.unwrap_or_else(|e| e.into_partial()) {
            let others = socket.rooms().iter().filter(|r| *r != socket.id());
            self.ns
                .to(socket.id())
                .sockets_leave(others.cloned())
                .await?;
        }
        Ok(())
    }

    /// Sends `data` as event `message` to everyone in `rooms`, one room or
    /// many (`sails.sockets.broadcast(roomNames, data)`); a socket in
    /// several rooms gets one copy, and no room reaches nobody. Await it;
    /// [`Broadcast::except`] leaves a socket out.
    pub fn broadcast(&self, rooms: impl Rooms, data: impl Into<Payload>) -> Broadcast {
        self.broadcast_event(rooms, DEFAULT_EVENT_NAME, data)
    }

    /// Sends `data` as `event` to everyone in `rooms`
    /// (`sails.sockets.broadcast(roomNames, eventName, data)`), as
    /// [`broadcast`](Self::broadcast) does.
    pub fn broadcast_event(
        &self,
        rooms: impl Rooms,
        event: impl Into<String>,
        data: impl Into<Payload>,
    ) -> Broadcast {
        self.sending(Some(rooms.into_rooms()), event.into(), data.into())
    }

    /// Sends `data` as event `message` to every socket of the namespace
    /// (`sails.sockets.blast(data)`). Await it; [`Broadcast::except`]
    /// leaves a socket out.
    pub fn blast(&self, data: impl Into<Payload>) -> Broadcast {
        self.blast_event(DEFAULT_EVENT_NAME, data)
    }

    /// Sends `data` as `event` to every socket of the namespace
    /// (`sails.sockets.blast(eventName, data)`).
    pub fn blast_event(&self, event: impl Into<String>, data: impl Into<Payload>) -> Broadcast {
        self.sending(None, event.into(), data.into())
    }

    fn sending(&self, rooms: Option<Vec<String>>, event: String, data: Payload) -> Broadcast {
        Broadcast {
            ns: self.ns.clone(),
            rooms,
            event,
            data,
            except: None,
        }
    }

    /// Everyone in room `source` joins `rooms`, one or many
    /// (`sails.sockets.addRoomMembersToRooms`).
    pub fn add_room_members_to_rooms(&self, source: &str, rooms: impl Rooms) -> Applied {
        self.ns.to(source).sockets_join(rooms.into_rooms())
    }

    /// Everyone in room `source` leaves `rooms`, one or many
    /// (`sails.sockets.removeRoomMembersFromRooms`).
    pub fn remove_room_members_from_rooms(&self, source: &str, rooms: impl Rooms) -> Applied {
        self.ns.to(source).sockets_leave(rooms.into_rooms())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The id and whether there is a socket, through the trait as `Sockets` uses it.
    fn target(t: impl SocketTarget) -> (Option<String>, bool) {
        (t.socket_id().map(str::to_string), t.socket_ref().is_some())
    }

    #[test]
    fn a_socket_is_an_id_a_socket_or_a_request() {
        let id = String::from("abc");
        let named = (Some("abc".to_string()), false);
        assert_eq!(target(&id), named);
        assert_eq!(target(id.clone()), named);
        assert_eq!(target("abc"), named);
        assert_eq!(target(Some("abc")), named);
        assert_eq!(target(Some(&id)), named);
        assert_eq!(target(None::<&str>), (None, false));
        // A plain HTTP request came over no socket.
        let http = SocketReq::default();
        assert_eq!(target(&http), (None, false));
        assert_eq!(target(http.clone()), (None, false));
        assert_eq!(target(http.socket()), (None, false));
        assert_eq!(http.sdk(), None);
    }

    #[test]
    fn rooms_are_one_name_or_many() {
        assert_eq!("a".into_rooms(), ["a"]);
        assert_eq!(String::from("a").into_rooms(), ["a"]);
        assert_eq!((&String::from("a")).into_rooms(), ["a"]);
        assert_eq!(["a", "b"].into_rooms(), ["a", "b"]);
        assert_eq!([String::from("a")].into_rooms(), ["a"]);
        assert_eq!((&["a", "b"]).into_rooms(), ["a", "b"]);
        assert_eq!(vec!["a"].into_rooms(), ["a"]);
        let owned = vec![String::from("a"), String::from("b")];
        assert_eq!((&owned).into_rooms(), ["a", "b"]);
        assert_eq!(owned.as_slice().into_rooms(), ["a", "b"]);
        assert_eq!(owned.into_rooms(), ["a", "b"]);
        assert_eq!(BTreeSet::from(["b", "a"]).into_rooms(), ["a", "b"]);
        assert_eq!(HashSet::from(["a"]).into_rooms(), ["a"]);
        assert!(Vec::<String>::new().into_rooms().is_empty());
    }

    #[test]
    fn no_socket_joins_nothing_and_is_done_at_once() {
        let done = futures_util::FutureExt::now_or_never(RoomChange(None));
        assert_eq!(done, Some(Ok(())));
    }
}
