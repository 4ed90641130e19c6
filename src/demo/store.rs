//! The chat demo's state: channels with their last messages and members,
//! nicknames of connected sockets, and the message rate limits. Pure and
//! bounded: no actors, no clocks (time is passed in as milliseconds), so
//! every rule is unit-tested here and the routes only translate.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;

use serde::Serialize;

/// Messages a channel keeps (the history a client loads).
pub(crate) const HISTORY: usize = 100;
/// Most channels there may be.
pub(crate) const MAX_CHANNELS: usize = 100;
/// Longest nickname, in characters.
pub(crate) const MAX_NICK: usize = 32;
/// Longest message, in characters.
pub(crate) const MAX_TEXT: usize = 2000;
/// Messages one sender may post per [`RATE_WINDOW_MS`].
const RATE_MAX: usize = 5;
const RATE_WINDOW_MS: u64 = 5000;
/// Addresses whose plain-HTTP posting rate is tracked at once.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Why a request is refused, with the status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChatError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("pick a nickname first")]
    NoNick,
    #[error("join the channel first")]
    NotJoined,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("slow down")]
    TooFast,
}

/// One channel message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Message {
    pub id: u64,
    pub channel: String,
    pub nick: String,
    pub text: String,
    pub time: u64,
}

/// A private message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Private {
    pub from: String,
    pub to: String,
    pub text: String,
    pub time: u64,
}

/// A channel as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ChannelInfo {
    pub name: String,
    pub members: usize,
    pub messages: usize,
}

#[derive(Default)]
struct Channel {
    messages: VecDeque<Message>,
    members: BTreeSet<String>,
    next_id: u64,
}

struct User {
    nick: String,
    channels: BTreeSet<String>,
    rate: Rate,
}

/// The times of the last [`RATE_MAX`] posts.
#[derive(Default)]
struct Rate(VecDeque<u64>);

impl Rate {
    /// Counts a post at `now`, or refuses it when the window is full.
    fn admit(&mut self, now: u64) -> Result<(), ChatError> {
        while self
            .0
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= RATE_WINDOW_MS)
        {
            self.0.pop_front();
        }
        if self.0.len() >= RATE_MAX {
            return Err(ChatError::TooFast);
        }
        self.0.push_back(now);
        Ok(())
    }

    fn expired(&self, now: u64) -> bool {
        self.0
            .back()
            .is_none_or(|t| now.saturating_sub(*t) >= RATE_WINDOW_MS)
    }
}

/// Who posts a message.
pub(crate) enum Author<'a> {
    /// A socket, by id, with its nickname.
    Socket(&'a str),
    /// A plain HTTP request, naming its nick, from an address.
    Http { nick: &'a str, ip: Option<IpAddr> },
}

/// The whole chat.
pub(crate) struct Store {
    channels: BTreeMap<String, Channel>,
    /// Connected sockets with a nickname, by socket id.
    users: HashMap<String, User>,
    /// Lower-cased nickname → socket id.
    nicks: HashMap<String, String>,
    /// Plain-HTTP posting rates by address.
    addresses: HashMap<Option<IpAddr>, Rate>,
}

impl Default for Store {
    fn default() -> Self {
        let mut store = Store {
            channels: BTreeMap::new(),
            users: HashMap::new(),
            nicks: HashMap::new(),
            addresses: HashMap::new(),
        };
        for name in ["general", "random"] {
            store.channels.insert(name.into(), Channel::default());
        }
        store
    }
}

/// A nickname as kept: trimmed, 1 to [`MAX_NICK`] characters, no control characters.
pub(crate) fn valid_nick(nick: &str) -> Result<String, ChatError> {
    let nick = nick.trim();
    let len = nick.chars().count();
    if len == 0 {
        return Err(ChatError::BadRequest("the nickname is empty"));
    }
    if len > MAX_NICK {
        return Err(ChatError::BadRequest("the nickname is over 32 characters"));
    }
    if nick.chars().any(char::is_control) {
        return Err(ChatError::BadRequest("the nickname has control characters"));
    }
    Ok(nick.to_string())
}

fn valid_text(text: &str) -> Result<String, ChatError> {
    let text = text.trim();
    match text.chars().count() {
        0 => Err(ChatError::BadRequest("the message is empty")),
        n if n > MAX_TEXT => Err(ChatError::BadRequest("the message is over 2000 characters")),
        _ => Ok(text.to_string()),
    }
}

fn valid_channel(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=32).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl Store {
    /// The nickname of socket `id`, if it picked one.
    pub fn nick(&self, id: &str) -> Option<&str> {
        self.users.get(id).map(|u| u.nick.as_str())
    }

    /// Socket `id` takes `nick`; returns it as kept and the channels whose
    /// member list changed (a rename).
    pub fn set_nick(&mut self, id: &str, nick: &str) -> Result<(String, Vec<String>), ChatError> {
        let nick = valid_nick(nick)?;
        let key = nick.to_lowercase();
        if self.nicks.get(&key).is_some_and(|owner| owner != id) {
            return Err(ChatError::Conflict("nickname taken"));
        }
        let user = self.users.entry(id.to_string()).or_insert_with(|| User {
            nick: String::new(),
            channels: BTreeSet::new(),
            rate: Rate::default(),
        });
        let old = std::mem::replace(&mut user.nick, nick.clone());
        self.nicks.remove(&old.to_lowercase());
        self.nicks.insert(key, id.to_string());
        Ok((nick, user.channels.iter().cloned().collect()))
    }

    /// Every channel, by name.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let info = |(name, c): (&String, &Channel)| ChannelInfo {
            name: name.clone(),
            members: c.members.len(),
            messages: c.messages.len(),
        };
        self.channels.iter().map(info).collect()
    }

    pub fn create(&mut self, name: &str) -> Result<(), ChatError> {
        if !valid_channel(name) {
            return Err(ChatError::BadRequest(
                "a channel name is 1 to 32 lower-case letters, digits or '-', not starting with '-'",
            ));
        }
        if self.channels.contains_key(name) {
            return Err(ChatError::Conflict("the channel exists"));
        }
        if self.channels.len() >= MAX_CHANNELS {
            return Err(ChatError::Conflict("too many channels"));
        }
        self.channels.insert(name.to_string(), Channel::default());
        Ok(())
    }

    fn channel(&self, name: &str) -> Result<&Channel, ChatError> {
        self.channels
            .get(name)
            .ok_or(ChatError::NotFound("no such channel"))
    }

    /// The nicknames in channel `name`, sorted.
    pub fn members(&self, name: &str) -> Result<Vec<String>, ChatError> {
        let channel = self.channel(name)?;
        let mut nicks: Vec<String> = (channel.members.iter())
            .filter_map(|id| self.nick(id).map(str::to_string))
            .collect();
        nicks.sort_by_key(|n| n.to_lowercase());
        Ok(nicks)
    }

    /// The last [`HISTORY`] messages of channel `name`, oldest first.
    pub fn messages(&self, name: &str) -> Result<Vec<Message>, ChatError> {
        Ok(self.channel(name)?.messages.iter().cloned().collect())
    }

    /// Socket `id` joins channel `name`.
    pub fn join(&mut self, id: &str, name: &str) -> Result<(), ChatError> {
        self.membership(id, name, true)
    }

    /// Socket `id` leaves channel `name`.
    pub fn leave(&mut self, id: &str, name: &str) -> Result<(), ChatError> {
        self.membership(id, name, false)
    }

    /// Socket `id` is in channel `name` from now on, or not.
    fn membership(&mut self, id: &str, name: &str, member: bool) -> Result<(), ChatError> {
        let user = self.users.get_mut(id).ok_or(ChatError::NoNick)?;
        let channel = self
            .channels
            .get_mut(name)
            .ok_or(ChatError::NotFound("no such channel"))?;
        if member {
            channel.members.insert(id.to_string());
            user.channels.insert(name.to_string());
        } else {
            channel.members.remove(id);
            user.channels.remove(name);
        }
        Ok(())
    }

    /// Posts `text` to channel `name` at `now` (ms since the epoch).
    pub fn post(
        &mut self,
        author: Author<'_>,
        name: &str,
        text: &str,
        now: u64,
    ) -> Result<Message, ChatError> {
        let text = valid_text(text)?;
        self.channel(name)?;
        let nick = match author {
            Author::Socket(id) => {
                let user = self.users.get_mut(id).ok_or(ChatError::NoNick)?;
                if !user.channels.contains(name) {
                    return Err(ChatError::NotJoined);
                }
                user.rate.admit(now)?;
                user.nick.clone()
            }
            Author::Http { nick, ip } => {
                let nick = valid_nick(nick)?;
                self.http_rate(ip, now)?;
                nick
            }
        };
        let channel = self
            .channels
            .get_mut(name)
            .ok_or(ChatError::NotFound("no such channel"))?;
        channel.next_id += 1;
        let message = Message {
            id: channel.next_id,
            channel: name.to_string(),
            nick,
            text,
            time: now,
        };
        if channel.messages.len() == HISTORY {
            channel.messages.pop_front();
        }
        channel.messages.push_back(message.clone());
        Ok(message)
    }

    /// Counts a plain-HTTP post from `ip`; the table of addresses is
    /// bounded: expired entries go first, and a full table refuses.
    fn http_rate(&mut self, ip: Option<IpAddr>, now: u64) -> Result<(), ChatError> {
        if !self.addresses.contains_key(&ip) && self.addresses.len() >= MAX_TRACKED_ADDRESSES {
            self.addresses.retain(|_, rate| !rate.expired(now));
            if self.addresses.len() >= MAX_TRACKED_ADDRESSES {
                return Err(ChatError::TooFast);
            }
        }
        self.addresses.entry(ip).or_default().admit(now)
    }

    /// Socket `id` sends `text` to the user called `to`; returns the message
    /// and the socket id of its recipient.
    pub fn private(
        &mut self,
        id: &str,
        to: &str,
        text: &str,
        now: u64,
    ) -> Result<(Private, String), ChatError> {
        let text = valid_text(text)?;
        let target = self
            .nicks
            .get(&to.trim().to_lowercase())
            .cloned()
            .ok_or(ChatError::NotFound("no such user"))?;
        let to = self.nick(&target).unwrap_or_default().to_string();
        let user = self.users.get_mut(id).ok_or(ChatError::NoNick)?;
        user.rate.admit(now)?;
        let message = Private {
            from: user.nick.clone(),
            to,
            text,
            time: now,
        };
        Ok((message, target))
    }

    /// The nickname socket `id` types under in channel `name`, if it may.
    pub fn typing(&self, id: &str, name: &str) -> Option<&str> {
        let user = self.users.get(id)?;
        user.channels.contains(name).then_some(user.nick.as_str())
    }

    /// Socket `id` is gone: returns the channels it was in.
    pub fn gone(&mut self, id: &str) -> Vec<String> {
        let Some(user) = self.users.remove(id) else {
            return Vec::new();
        };
        self.nicks.remove(&user.nick.to_lowercase());
        for name in &user.channels {
            if let Some(channel) = self.channels.get_mut(name) {
                channel.members.remove(id);
            }
        }
        user.channels.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_user(id: &str, nick: &str) -> Store {
        let mut store = Store::default();
        store.set_nick(id, nick).unwrap();
        store
    }

    #[test]
    fn nicknames_are_trimmed_bounded_and_unique_ignoring_case() {
        let mut store = with_user("a", "  Ada ");
        assert_eq!(store.nick("a"), Some("Ada"));
        assert_eq!(
            store.set_nick("b", "ADA"),
            Err(ChatError::Conflict("nickname taken"))
        );
        assert!(matches!(
            store.set_nick("b", " "),
            Err(ChatError::BadRequest(_))
        ));
        assert!(matches!(
            store.set_nick("b", &"x".repeat(33)),
            Err(ChatError::BadRequest(_))
        ));
        assert!(store.set_nick("b", &"é".repeat(32)).is_ok());
        assert!(matches!(
            store.set_nick("c", "a\u{7}b"),
            Err(ChatError::BadRequest(_))
        ));
        // A rename frees the old name.
        store.set_nick("a", "Grace").unwrap();
        assert!(store.set_nick("c", "ada").is_ok());
    }

    #[test]
    fn channels_are_named_bounded_and_listed() {
        let mut store = Store::default();
        assert_eq!(store.channels().len(), 2);
        assert!(store.create("rust-lang").is_ok());
        assert_eq!(
            store.create("rust-lang"),
            Err(ChatError::Conflict("the channel exists"))
        );
        for bad in ["", "-x", "Upper", "a b", &"a".repeat(33)] {
            assert!(
                matches!(store.create(bad), Err(ChatError::BadRequest(_))),
                "{bad:?}"
            );
        }
        for i in 0..97 {
            store.create(&format!("c{i}")).unwrap();
        }
        assert_eq!(
            store.create("one-more"),
            Err(ChatError::Conflict("too many channels"))
        );
    }

    #[test]
    fn members_join_leave_and_go() {
        let mut store = with_user("a", "ada");
        store.set_nick("b", "Bob").unwrap();
        assert_eq!(store.join("x", "general"), Err(ChatError::NoNick));
        assert_eq!(
            store.join("a", "nope"),
            Err(ChatError::NotFound("no such channel"))
        );
        store.join("a", "general").unwrap();
        store.join("b", "general").unwrap();
        store.join("b", "random").unwrap();
        assert_eq!(store.members("general").unwrap(), ["ada", "Bob"]);
        store.leave("a", "general").unwrap();
        assert_eq!(store.members("general").unwrap(), ["Bob"]);
        assert_eq!(store.gone("b"), ["general", "random"]);
        assert!(store.members("random").unwrap().is_empty());
        assert!(
            store.set_nick("c", "bob").is_ok(),
            "a gone user's nick is free"
        );
    }

    #[test]
    fn messages_keep_the_last_hundred_in_order() {
        let mut store = with_user("a", "ada");
        store.join("a", "general").unwrap();
        for i in 0..(HISTORY as u64 + 5) {
            // One second apart: never over the rate.
            let message = store
                .post(Author::Socket("a"), "general", &format!("m{i}"), i * 1000)
                .unwrap();
            assert_eq!(message.id, i + 1);
        }
        let history = store.messages("general").unwrap();
        assert_eq!(history.len(), HISTORY);
        assert_eq!(history[0].text, "m5");
        assert_eq!(history.last().unwrap().nick, "ada");
    }

    #[test]
    fn posting_needs_a_joined_channel_and_sane_text() {
        let mut store = with_user("a", "ada");
        let post = |s: &mut Store, text: &str| s.post(Author::Socket("a"), "general", text, 0);
        assert_eq!(post(&mut store, "hi"), Err(ChatError::NotJoined));
        store.join("a", "general").unwrap();
        assert!(matches!(
            post(&mut store, "   "),
            Err(ChatError::BadRequest(_))
        ));
        assert!(matches!(
            post(&mut store, &"x".repeat(2001)),
            Err(ChatError::BadRequest(_))
        ));
        assert_eq!(post(&mut store, "<b>hi</b>").unwrap().text, "<b>hi</b>");
        let unknown = store.post(Author::Socket("a"), "nope", "hi", 0);
        assert_eq!(unknown, Err(ChatError::NotFound("no such channel")));
    }

    #[test]
    fn five_messages_per_five_seconds_per_sender() {
        let mut store = with_user("a", "ada");
        store.join("a", "general").unwrap();
        for t in 0..5 {
            store.post(Author::Socket("a"), "general", "x", t).unwrap();
        }
        assert_eq!(
            store.post(Author::Socket("a"), "general", "x", 10),
            Err(ChatError::TooFast)
        );
        assert!(
            store
                .post(Author::Socket("a"), "general", "x", 5000)
                .is_ok()
        );
        let ip = Some("127.0.0.1".parse().unwrap());
        for t in 0..5 {
            store
                .post(Author::Http { nick: "web", ip }, "general", "x", t)
                .unwrap();
        }
        let sixth = store.post(Author::Http { nick: "web", ip }, "general", "x", 6);
        assert_eq!(sixth, Err(ChatError::TooFast));
        let bad_nick = store.post(Author::Http { nick: "", ip: None }, "general", "x", 0);
        assert!(matches!(bad_nick, Err(ChatError::BadRequest(_))));
    }

    #[test]
    fn private_messages_find_the_user_by_nick() {
        let mut store = with_user("a", "ada");
        store.set_nick("b", "Bob").unwrap();
        let (message, target) = store.private("a", "bob", "psst", 7).unwrap();
        assert_eq!(
            (message.from.as_str(), message.to.as_str(), target.as_str()),
            ("ada", "Bob", "b")
        );
        assert_eq!(
            store.private("a", "nobody", "x", 7),
            Err(ChatError::NotFound("no such user"))
        );
        assert_eq!(store.private("x", "bob", "x", 7), Err(ChatError::NoNick));
    }

    #[test]
    fn typing_needs_membership() {
        let mut store = with_user("a", "ada");
        assert_eq!(store.typing("a", "general"), None);
        store.join("a", "general").unwrap();
        assert_eq!(store.typing("a", "general"), Some("ada"));
    }
}
