//! [`IntoRooms`]: what the operators' `to`, `within` and `except` take, one
//! room or several (socket.io's `io.to("a")` and `io.to(["a", "b"])`).

/// One room, or any number of them, as the operators' `to`, `within` and
/// `except` take them (socket.io's `io.to("room")` and `io.to(["a", "b"])`).
///
/// One room is anything that converts [`Into<String>`]: `&str`, `String`,
/// `&String`, `Cow<str>`, `Box<str>`, and a generic `impl Into<String>`.
/// Several rooms are anything iterable whose items are string-like
/// ([`AsRef<str>`]): a `Vec`, an array or a slice of those, a `&Vec`, a
/// `HashSet`, an iterator, an `Option`.
///
/// ```no_run
/// use serde_json::json;
/// use switchyard_socketio::socket::SocketRef;
///
/// async fn news(socket: SocketRef, rooms: Vec<String>) {
///     // socket.to("a").emit(...) and socket.to(["a", "b"]).emit(...)
///     let _ = socket.to("a").emit("news", json!(1)).await;
///     let _ = socket.to(["a", "b"]).emit("news", json!(2)).await;
///     // a socket in both `a` and `b` gets one copy; nobody in `muted` gets one
///     let _ = socket.to(&rooms).except(["muted"]).emit("news", json!(3)).await;
/// }
/// ```
///
/// Rooms add up: `to(["a", "b"])` is `to("a").to("b")`. An empty list adds
/// none, so an operator given only `to([])` still targets every socket,
/// as socket.io's `io.to([])` does.
///
/// `Marker` tells the two kinds apart ([`OneRoom`], [`ManyRooms`]); it is
/// inferred, never written.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a room nor a list of rooms",
    label = "expected a room name or a list of room names",
    note = "one room is `&str`, `String` or another `Into<String>`; several are a Vec, array, \
            slice or iterator of `&str` or `String`"
)]
pub trait IntoRooms<Marker> {
    /// The room names, in order.
    fn into_rooms(self) -> impl Iterator<Item = String>;
}

/// [`IntoRooms`]' marker for one room (an [`Into<String>`]).
#[derive(Debug)]
pub enum OneRoom {}

/// [`IntoRooms`]' marker for several rooms (an iterable of [`AsRef<str>`]).
#[derive(Debug)]
pub enum ManyRooms {}

impl<T: Into<String>> IntoRooms<OneRoom> for T {
    fn into_rooms(self) -> impl Iterator<Item = String> {
        std::iter::once(self.into())
    }
}

impl<I> IntoRooms<ManyRooms> for I
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    fn into_rooms(self) -> impl Iterator<Item = String> {
        self.into_iter().map(|room| room.as_ref().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::collections::{BTreeSet, HashSet};

    fn rooms<M>(r: impl IntoRooms<M>) -> Vec<String> {
        r.into_rooms().collect()
    }

    /// What a caller generic over one room (as `switchyard_sails` is) passes on.
    fn generic(room: impl Into<String>) -> Vec<String> {
        rooms(room)
    }

    #[test]
    fn one_room_in_any_string_form() {
        let owned = String::from("b");
        assert_eq!(rooms("a"), ["a"]);
        assert_eq!(rooms(owned.clone()), ["b"]);
        assert_eq!(rooms(&owned), ["b"]);
        assert_eq!(rooms(Cow::Borrowed("c")), ["c"]);
        assert_eq!(rooms(Box::<str>::from("d")), ["d"]);
        assert_eq!(generic("e"), ["e"]);
        assert_eq!(generic(format!("f{}", 1)), ["f1"]);
    }

    #[test]
    fn several_rooms_from_lists_of_strings() {
        let names = vec![String::from("a"), String::from("b")];
        let strs: &[&str] = &["c", "d"];
        let array: &[&str; 2] = &["a", "b"];
        assert_eq!(rooms(["a", "b"]), ["a", "b"]);
        assert_eq!(rooms(array), ["a", "b"]);
        assert_eq!(rooms(strs), ["c", "d"]);
        assert_eq!(rooms(&names), ["a", "b"]);
        assert_eq!(rooms(&names[..1]), ["a"]);
        assert_eq!(rooms(names.clone()), ["a", "b"]);
        assert_eq!(rooms(vec!["x"]), ["x"]);
        assert_eq!(rooms(BTreeSet::from(["b", "a"])), ["a", "b"]);
        assert_eq!(rooms(HashSet::from(["a"])), ["a"]);
        assert_eq!(rooms(names.iter().filter(|n| *n != "a")), ["b"]);
        assert_eq!(rooms(Some("a")), ["a"]);
        assert_eq!(rooms(None::<&str>), Vec::<String>::new());
        assert_eq!(rooms(Vec::<String>::new()), Vec::<String>::new());
    }
}
