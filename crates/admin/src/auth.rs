//! The admin namespace's connect middleware, as Node's
//! `initAuthenticationMiddleware`: a known session id, or the username and
//! a password matching the bcrypt hash, which opens a new session (its id
//! is sent to the UI as `session`, so a reload logs in without the
//! password).
//!
//! Owns: the session ids handed out (bounded) and the password check.
//! Must not touch: what an admin may do once in.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use switchyard_socketio::namespace::ConnectRequest;
use switchyard_socketio::socket::MiddlewareError;

use crate::config::Auth;

/// Most session ids kept; the oldest is forgotten first (counted).
pub(crate) const MAX_SESSIONS: usize = 1024;

/// Where the middleware leaves a new session id in the socket's `data`,
/// for the connect handler to send as `session` (the middleware cannot
/// emit: the socket does not exist yet) and clear.
pub(crate) const NEW_SESSION_KEY: &str = "_adminSession";

/// The session ids handed out to admins who logged in.
#[derive(Default)]
pub(crate) struct Sessions {
    ids: Mutex<(HashSet<String>, VecDeque<String>)>,
    /// Session ids forgotten to keep the store at its bound.
    pub evicted: AtomicU64,
}

impl Sessions {
    fn contains(&self, id: &str) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .contains(id)
    }

    fn save(&self, id: String) {
        let mut guard = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if order.len() >= MAX_SESSIONS
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
            self.evicted.fetch_add(1, Relaxed);
        }
        set.insert(id.clone());
        order.push_back(id);
    }
}

/// Checks one CONNECT to the admin namespace against `auth`.
pub(crate) async fn check(
    auth: Auth,
    sessions: Arc<Sessions>,
    req: ConnectRequest,
) -> Result<(), MiddlewareError> {
    let Auth::Basic {
        username,
        password_hash,
    } = auth
    else {
        return Ok(());
    };
    let given = req.auth();
    if let Some(id) = given.get("sessionId").and_then(Value::as_str)
        && sessions.contains(id)
    {
        return Ok(());
    }
    let user = given.get("username").and_then(Value::as_str);
    let password = given.get("password").and_then(Value::as_str);
    if let (Some(user), Some(password)) = (user, password)
        && user == username
    {
        let password = password.to_string();
        // bcrypt is slow on purpose: off the actor threads.
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &password_hash))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
        if matches {
            let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
            sessions.save(id.clone());
            req.set_data(serde_json::json!({ NEW_SESSION_KEY: id }));
            return Ok(());
        }
    }
    Err(MiddlewareError::new("invalid credentials"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_store_forgets_the_oldest_past_its_bound() {
        let sessions = Sessions::default();
        for i in 0..MAX_SESSIONS + 2 {
            sessions.save(format!("s{i}"));
        }
        assert!(!sessions.contains("s0") && !sessions.contains("s1"));
        assert!(sessions.contains("s2") && sessions.contains(&format!("s{}", MAX_SESSIONS + 1)));
        assert_eq!(sessions.evicted.load(Relaxed), 2);
    }
}
