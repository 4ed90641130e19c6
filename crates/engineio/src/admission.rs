//! Admission: who a handshake comes from, and whether that address may
//! open another session now. Plain data with time passed in; the endpoint
//! asks it before every handshake and tells it when each session ends.
//!
//! - The client's address is the peer's, unless the peer is a trusted
//!   proxy: then the nearest address in `X-Forwarded-For` (or `Forwarded:
//!   for=`) that is not itself a trusted proxy. Headers from anyone else
//!   are ignored, so a client cannot choose its own address.
//! - Per address: at most `max_sessions` live sessions, and handshakes at
//!   most `rate` per second on average with bursts of `burst` (a token
//!   bucket). Refusals are counted by the caller.
//! - The table is bounded: addresses with no live session and a full
//!   bucket carry no information and are pruned when it grows (amortised
//!   O(1) per handshake).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Per-address limits on new sessions; 0 turns a limit off.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionConfig {
    /// Most live sessions one address may hold.
    pub max_sessions_per_ip: usize,
    /// Handshakes per second one address may make, on average.
    pub handshakes_per_second: u32,
    /// Handshakes one address may make at once, above the average.
    pub handshake_burst: u32,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for AdmissionConfig {
    /// The safe limits the `switchyard` binary documents: 1,000 live
    /// sessions per address, 50 handshakes a second with bursts of 100, no
    /// trusted proxy.
    fn default() -> Self {
        AdmissionConfig {
            max_sessions_per_ip: 1000,
            handshakes_per_second: 50,
            handshake_burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

impl AdmissionConfig {
    /// No per-address limit at all: for load generators and test fixtures
    /// that open thousands of sessions from one loopback address. Not for
    /// a server that faces the Internet.
    pub fn unlimited() -> Self {
        AdmissionConfig {
            max_sessions_per_ip: 0,
            handshakes_per_second: 0,
            handshake_burst: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The address holds its maximum of live sessions.
    #[error("too many connections from this address")]
    TooManySessions,
    /// The address is handshaking faster than allowed.
    #[error("too many handshakes from this address; slow down")]
    TooManyHandshakes,
}

#[derive(Debug)]
struct Slot {
    live: usize,
    tokens: f64,
    at: Instant,
}

/// The per-address table.
#[derive(Debug)]
pub(crate) struct Admission {
    config: AdmissionConfig,
    slots: HashMap<IpAddr, Slot>,
    prune_at: usize,
}

/// Smallest table size at which pruning is worth a pass.
const PRUNE_MIN: usize = 1024;

impl Admission {
    pub fn new(config: AdmissionConfig) -> Admission {
        Admission {
            config,
            slots: HashMap::new(),
            prune_at: PRUNE_MIN,
        }
    }

    /// Whether anything here limits anyone.
    pub fn limits(&self) -> bool {
        self.config.max_sessions_per_ip > 0 || self.config.handshakes_per_second > 0
    }

    /// The client's address, given the peer's and the request's headers
    /// (names lower-case).
    pub fn client_ip<'a>(&self, peer: IpAddr, header: impl Fn(&str) -> Option<&'a str>) -> IpAddr {
        if !self.trusted(peer) {
            return peer;
        }
        let hops = match header("x-forwarded-for") {
            Some(list) => forwarded_for(list),
            None => header("forwarded").map(forwarded).unwrap_or_default(),
        };
        // Nearest first: the last hop that is not one of ours is the client.
        (hops.into_iter().rev())
            .find(|ip| !self.trusted(*ip))
            .unwrap_or(peer)
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.config.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// Takes a session for `ip` at `now`, or says why not.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        if !self.limits() {
            return Ok(());
        }
        self.prune(now);
        let (rate, burst) = (
            self.config.handshakes_per_second,
            self.config.handshake_burst,
        );
        let capacity = f64::from(burst.max(1));
        let slot = self.slots.entry(ip).or_insert(Slot {
            live: 0,
            tokens: capacity,
            at: now,
        });
        if self.config.max_sessions_per_ip > 0 && slot.live >= self.config.max_sessions_per_ip {
            return Err(Refusal::TooManySessions);
        }
        if rate > 0 {
            let refill = now.saturating_duration_since(slot.at).as_secs_f64() * f64::from(rate);
            slot.tokens = (slot.tokens + refill).min(capacity);
            slot.at = now;
            if slot.tokens < 1.0 {
                return Err(Refusal::TooManyHandshakes);
            }
            slot.tokens -= 1.0;
        }
        slot.live += 1;
        Ok(())
    }

    /// A session of `ip` has ended.
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(slot) = self.slots.get_mut(&ip) {
            slot.live = slot.live.saturating_sub(1);
        }
    }

    /// Live sessions of `ip`.
    #[cfg(test)]
    fn live(&self, ip: IpAddr) -> usize {
        self.slots.get(&ip).map_or(0, |s| s.live)
    }

    fn prune(&mut self, now: Instant) {
        if self.slots.len() < self.prune_at {
            return;
        }
        let rate = f64::from(self.config.handshakes_per_second.max(1));
        let capacity = f64::from(self.config.handshake_burst.max(1));
        let full = Duration::from_secs_f64(capacity / rate);
        self.slots
            .retain(|_, s| s.live > 0 || now.saturating_duration_since(s.at) < full);
        self.prune_at = (2 * self.slots.len()).max(PRUNE_MIN);
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`, so one address has one key and one match.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `X-Forwarded-For: client, proxy1, proxy2`, farthest first.
fn forwarded_for(list: &str) -> Vec<IpAddr> {
    (list.split(','))
        .filter_map(|item| parse_ip(item.trim()))
        .collect()
}

/// `Forwarded: for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"` (RFC 7239).
fn forwarded(value: &str) -> Vec<IpAddr> {
    (value.split(','))
        .filter_map(|element| {
            let pair = element.split(';').map(str::trim).find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.eq_ignore_ascii_case("for").then_some(v)
            })?;
            parse_ip(pair.trim_matches('"'))
        })
        .collect()
}

/// An address, with or without a port, IPv6 possibly bracketed.
fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let bracketed = text.strip_prefix('[')?.split(']').next()?;
    bracketed.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests;
