//! WebSocket framing (RFC 6455, server side) and permessage-deflate (RFC 7692).
//!
//! Why this exists: actix-http's WebSocket codec rejects every frame with RSV1
//! set, so it cannot carry compressed messages. This module is the replacement
//! for the wire format only.
//!
//! What it owns (the opening handshake itself is actix-web-actors'):
//! - `Sec-WebSocket-Extensions` negotiation of permessage-deflate
//!   ([`negotiate`], [`Deflate::response_header`]);
//! - frame decoding with every RFC 6455 check a server must make
//!   ([`Decoder`]), message reassembly, UTF-8 validation and size limits;
//! - frame encoding ([`Encoder`], [`header`]) and per-message compression
//!   ([`Deflater`], [`Inflater`]).
//!
//! What it must not touch: sockets, actix, tokio, clocks, logging. Everything
//! here is a deterministic function of its inputs so it can be unit-tested
//! byte for byte; the transport (the WebSocket actor) feeds it bytes and writes
//! out what it produces, and decides what to do on errors (send a close frame
//! with [`WsError::close_code`] and drop the connection).
//!
//! Typical use by the transport:
//!
//! ```text
//! // handshake
//! let deflate = negotiate(req_header("Sec-WebSocket-Extensions"), &settings);
//! respond 101 (actix-web-actors' handshake) and, if deflate is Some,
//!          Sec-WebSocket-Extensions: deflate.response_header()
//! let (inflater, deflater) = deflate.map(Deflate::split).unzip();
//! let mut decoder = Decoder::new(max_message, inflater);
//! let mut encoder = Encoder::new(deflater);
//! // reading
//! read into a BytesMut; while let Some(msg) = decoder.decode(&mut buf)? { handle(msg) }
//! on Err(e): encoder.encode_close(e.close_code(), "", &mut out), flush, close
//! // writing
//! encoder.encode_text(payload, true, &mut out)
//! ```

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The four octets a sync flush ends with (an empty stored block). RFC 7692
/// §7.2.1 has the sender strip them and §7.2.2 the receiver put them back.
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// zlib's default level (what the npm `ws` server uses): a good ratio on
/// JSON-ish Socket.IO traffic without the cost of the higher levels.
const COMPRESSION_LEVEL: u32 = 6;

// ---------------------------------------------------------------------------
// permessage-deflate negotiation
// ---------------------------------------------------------------------------

/// Server configuration for permessage-deflate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateSettings {
    /// Offer-acceptance switch: when false, every client offer of
    /// permessage-deflate is declined.
    pub enabled: bool,
    /// Messages smaller than this many bytes are sent uncompressed: for tiny
    /// payloads the deflate overhead costs more CPU than the bytes it saves.
    pub threshold: usize,
    /// Reset the compressor after every message we send. Costs ratio, and
    /// announces `server_no_context_takeover` so the client may free its
    /// inflate window between messages.
    pub server_no_context_takeover: bool,
    /// Ask the client to reset its compressor after every message, which
    /// lets us reset (and not keep history for) our inflater.
    pub client_no_context_takeover: bool,
    /// Announce `server_max_window_bits`. flate2's default (miniz_oxide)
    /// backend always compresses with a 15-bit window, so only `Some(15)`
    /// can be honoured; any other value declines every client offer
    /// rather than promise a window we would not keep to.
    pub server_max_window_bits: Option<u8>,
}

impl Default for DeflateSettings {
    fn default() -> Self {
        DeflateSettings {
            enabled: false,
            threshold: 1024,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
        }
    }
}

/// The parameters both sides agreed on for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// We reset our compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message, so we may
    /// reset our inflater too.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits` to echo in the response (always 15 when set:
    /// see [`DeflateSettings::server_max_window_bits`]).
    pub server_max_window_bits: Option<u8>,
    /// From [`DeflateSettings::threshold`].
    pub threshold: usize,
}

/// Negotiated permessage-deflate state for one connection: the agreed
/// parameters plus both compression contexts. Split it with
/// [`Deflate::split`] to give the inflate half to the [`Decoder`] and the
/// deflate half to the [`Encoder`].
#[derive(Debug)]
pub struct Deflate {
    params: DeflateParams,
    inflater: Inflater,
    deflater: Deflater,
}

/// Picks the first acceptable permessage-deflate offer from the client's
/// `Sec-WebSocket-Extensions` header, or `None` to run without compression.
///
/// If the request carries the header several times, join the values with
/// `", "` first (RFC 7230 §3.2.2 makes that equivalent). Offers of other
/// extensions, offers with unknown, duplicate or invalid parameters, and
/// offers we cannot honour (`server_max_window_bits` below 15) are skipped,
/// as RFC 7692 §7 prescribes; the next offer is then tried.
pub fn negotiate(offer_header: Option<&str>, settings: &DeflateSettings) -> Option<Deflate> {
    if !settings.enabled {
        return None;
    }
    if settings
        .server_max_window_bits
        .is_some_and(|bits| bits != 15)
    {
        return None;
    }
    let header = offer_header?;
    for extension in parse_extension_list(header).into_iter().flatten() {
        if !extension.name.eq_ignore_ascii_case("permessage-deflate") {
            continue;
        }
        let Some(offer) = DeflateOffer::parse(&extension.params) else {
            continue;
        };
        // We can only compress with a 15-bit window (see DeflateSettings).
        if offer.server_max_window_bits.is_some_and(|bits| bits < 15) {
            continue;
        }
        let params = DeflateParams {
            // A client asking us not to take over context is always honoured:
            // resetting the compressor is something we can always do.
            server_no_context_takeover: offer.server_no_context_takeover
                || settings.server_no_context_takeover,
            // Echoing the client's own hint (as `ws` does) lets us reset the
            // inflater too; otherwise it is our request to the client.
            client_no_context_takeover: offer.client_no_context_takeover
                || settings.client_no_context_takeover,
            // RFC 7692 §7.1.2.1: an offer with server_max_window_bits must be
            // answered with a value no larger than offered; ours is 15.
            server_max_window_bits: (offer.server_max_window_bits.is_some()
                || settings.server_max_window_bits.is_some())
            .then_some(15),
            threshold: settings.threshold,
        };
        // client_max_window_bits (with or without a value) needs no answer:
        // we always inflate with a 15-bit window, which reads any smaller
        // window too, and leaving it out of the response lets the client use
        // its default (RFC 7692 §7.1.2.2; `ws` answers the same way).
        return Some(Deflate::new(params));
    }
    None
}

impl Deflate {
    /// Fresh compression contexts for the given agreed parameters. Normally
    /// reached through [`negotiate`]; public so that tests elsewhere can
    /// build the peer's side of a connection.
    pub fn new(params: DeflateParams) -> Self {
        Deflate {
            params,
            inflater: Inflater::new(params.client_no_context_takeover),
            deflater: Deflater::new(params.server_no_context_takeover, params.threshold),
        }
    }

    /// The agreed parameters.
    #[cfg(test)]
    pub fn params(&self) -> &DeflateParams {
        &self.params
    }

    /// The `Sec-WebSocket-Extensions` value for the 101 response, e.g.
    /// `permessage-deflate; server_no_context_takeover`.
    pub fn response_header(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.params.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.params.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.params.server_max_window_bits {
            out.push_str("; server_max_window_bits=");
            out.push_str(&bits.to_string());
        }
        out
    }

    /// Compresses one outgoing message payload (see [`Deflater::compress`]).
    #[cfg(test)]
    pub fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        self.deflater.compress(payload)
    }

    /// Decompresses one incoming message payload (see [`Inflater::decompress`]).
    #[cfg(test)]
    pub fn decompress(&mut self, payload: &[u8], max_size: usize) -> Result<Vec<u8>, WsError> {
        self.inflater.decompress(payload, max_size)
    }

    /// The receiving half (for the [`Decoder`]) and the sending half (for
    /// the [`Encoder`]); they share no state, so the two directions can live
    /// in different places.
    pub fn split(self) -> (Inflater, Deflater) {
        (self.inflater, self.deflater)
    }
}

/// Outgoing half of permessage-deflate: our compression context.
pub struct Deflater {
    /// Created on first use: a compressor holds a few hundred KiB of tables
    /// and many connections never send a message above the threshold.
    compress: Option<Compress>,
    no_context_takeover: bool,
    threshold: usize,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("allocated", &self.compress.is_some())
            .field("no_context_takeover", &self.no_context_takeover)
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl Deflater {
    fn new(no_context_takeover: bool, threshold: usize) -> Self {
        Deflater {
            compress: None,
            no_context_takeover,
            threshold,
        }
    }

    /// Compresses one whole message: raw DEFLATE, sync flush, trailing
    /// `00 00 ff ff` removed (RFC 7692 §7.2.1). The result is the payload of
    /// a frame with RSV1 set. Messages must be compressed in the order they
    /// are sent: unless `server_no_context_takeover` was agreed, each one may
    /// refer back to the previous ones.
    pub fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let compress = self
            .compress
            .get_or_insert_with(|| Compress::new(Compression::new(COMPRESSION_LEVEL), false));
        let out = match deflate_sync(compress, payload) {
            Some(mut out) => {
                if out.ends_with(&DEFLATE_TAIL) {
                    out.truncate(out.len() - DEFLATE_TAIL.len());
                }
                out
            }
            None => {
                // Unreachable with in-memory buffers, but never panic or send
                // garbage: restart the context and send stored (uncompressed)
                // blocks, which are valid DEFLATE that refers to no history.
                compress.reset();
                stored_blocks(payload)
            }
        };
        if self.no_context_takeover {
            compress.reset();
        }
        out
    }
}

/// Runs one sync-flushed compression of `input`; `None` if flate2 reports an
/// error (which the in-memory backends do not do for valid parameters).
fn deflate_sync(compress: &mut Compress, input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let before_in = compress.total_in();
        let before_out = out.len();
        compress
            .compress_vec(&input[pos..], &mut out, FlushCompress::Sync)
            .ok()?;
        let consumed = (compress.total_in() - before_in) as usize;
        pos += consumed;
        // The flush is complete once all input is in and the compressor
        // stopped with output space to spare.
        if pos == input.len() && out.len() < out.capacity() {
            return Some(out);
        }
        if consumed == 0 && out.len() == before_out && out.len() < out.capacity() {
            return None; // no progress with room on both sides: give up
        }
    }
}

/// `payload` as a series of non-final stored DEFLATE blocks followed by the
/// first octet of an empty one, i.e. a sync flush with its `00 00 ff ff`
/// removed (RFC 7692 §7.2.3.3). Each message starts on a byte boundary, so
/// every block header is a whole `0x00` octet.
fn stored_blocks(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5 * (payload.len() / 0xffff + 1));
    for chunk in payload.chunks(0xffff) {
        let len = chunk.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    // The header octet of the empty block the receiver completes with the
    // `00 00 ff ff` it appends (for the empty message this is all there is).
    out.push(0x00);
    out
}

/// Incoming half of permessage-deflate: our decompression context.
pub struct Inflater {
    /// Created on the first compressed message (see [`Deflater`]).
    decompress: Option<Decompress>,
    no_context_takeover: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.decompress.is_some())
            .field("no_context_takeover", &self.no_context_takeover)
            .finish()
    }
}

impl Inflater {
    fn new(no_context_takeover: bool) -> Self {
        Inflater {
            decompress: None,
            no_context_takeover,
        }
    }

    /// Decompresses one whole message (the concatenated payloads of its
    /// frames): appends `00 00 ff ff` and inflates (RFC 7692 §7.2.2).
    ///
    /// The output never grows past `max_size` bytes: beyond that the result
    /// is [`WsError::TooLarge`], so a tiny "zip bomb" payload costs at most
    /// `max_size` bytes of memory. Corrupt data gives
    /// [`WsError::Decompress`]. Messages must be fed in arrival order.
    pub fn decompress(&mut self, payload: &[u8], max_size: usize) -> Result<Vec<u8>, WsError> {
        let mut out = Vec::new();
        self.decompress_into(payload, max_size, &mut out)?;
        Ok(out)
    }

    fn decompress_into(
        &mut self,
        payload: &[u8],
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), WsError> {
        let decompress = self
            .decompress
            .get_or_insert_with(|| Decompress::new(false));
        let result = inflate_bounded(decompress, payload, max_size, out);
        // A stream that ended (a BFINAL block, RFC 7692 §7.2.3.4) cannot take
        // more input; after an error the state is unknown. Start over in both
        // cases, and after every message when the client resets its side.
        // (After BFINAL this also forgets the window, which a peer using
        // context takeover could still refer to; flate2's default backend
        // cannot preset it, and no known client flushes with BFINAL.)
        if self.no_context_takeover || !matches!(result, Ok(false)) {
            decompress.reset(false);
        }
        result.map(|_| ())
    }
}

/// Inflates `payload` followed by the sync-flush tail into `out`, growing
/// `out` at most to `max_size` bytes. Returns whether the DEFLATE stream
/// ended (a block with BFINAL set).
fn inflate_bounded(
    decompress: &mut Decompress,
    payload: &[u8],
    max_size: usize,
    out: &mut Vec<u8>,
) -> Result<bool, WsError> {
    let corrupt = |e: flate2::DecompressError| WsError::Decompress(e.to_string());
    for input in [payload, &DEFLATE_TAIL[..]] {
        let mut pos = 0;
        loop {
            let before_in = decompress.total_in();
            let before_out = decompress.total_out();
            let at_bound = out.len() == out.capacity() && out.len() >= max_size;
            let status = if at_bound {
                // No room left under the bound: ask for a single byte into a
                // scratch buffer. Any output at all means the message is too
                // large; none means the remaining input was only framing.
                let mut probe = [0u8; 1];
                let status = decompress
                    .decompress(&input[pos..], &mut probe, FlushDecompress::Sync)
                    .map_err(corrupt)?;
                if decompress.total_out() != before_out {
                    return Err(WsError::TooLarge);
                }
                status
            } else {
                if out.len() == out.capacity() {
                    // Grow geometrically from a guess based on the input
                    // size, but never past the bound.
                    let guess = payload.len().saturating_mul(4).clamp(256, 64 * 1024);
                    let target = out.len().saturating_mul(2).max(guess).min(max_size);
                    out.reserve_exact(target - out.len());
                }
                decompress
                    .decompress_vec(&input[pos..], out, FlushDecompress::Sync)
                    .map_err(corrupt)?
            };
            if out.len() > max_size {
                // Only reachable if the allocator gave more capacity than
                // asked for; the bound is on the data either way.
                return Err(WsError::TooLarge);
            }
            let consumed = (decompress.total_in() - before_in) as usize;
            let produced = decompress.total_out() - before_out;
            pos += consumed;
            if status == Status::StreamEnd {
                return Ok(true);
            }
            // The inflater stopped with output space to spare, so it has
            // nothing more to give for the input consumed so far.
            let had_room = at_bound || out.len() < out.capacity();
            if had_room && pos == input.len() {
                break;
            }
            if had_room && consumed == 0 && produced == 0 {
                return Err(WsError::Decompress("inflate made no progress".into()));
            }
        }
    }
    Ok(false)
}

/// One element of a `Sec-WebSocket-Extensions` list, syntactically valid.
#[derive(Debug, PartialEq, Eq)]
struct ExtensionOffer {
    name: String,
    /// Parameter names and values (quotes removed), in order.
    params: Vec<(String, Option<String>)>,
}

/// Splits an extension list (RFC 6455 §9.1) into its elements. Malformed
/// elements come back as `None` so that one bad offer only costs that offer;
/// empty list elements (`a, , b`) are dropped as RFC 7230 §7 allows.
fn parse_extension_list(header: &str) -> Vec<Option<ExtensionOffer>> {
    // First pass: cut at `,` (elements) and `;` (parameters) outside quoted
    // strings. Both are ASCII, so the byte offsets are char boundaries.
    let mut elements: Vec<(Vec<&str>, bool)> = Vec::new();
    let mut segments = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, byte) in header.bytes().enumerate() {
        if in_quotes {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_quotes = true,
            b';' => {
                segments.push(&header[start..i]);
                start = i + 1;
            }
            b',' => {
                segments.push(&header[start..i]);
                elements.push((std::mem::take(&mut segments), true));
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&header[start..]);
    // An unterminated quoted string spoils the element it is in.
    elements.push((segments, !in_quotes));

    elements
        .into_iter()
        .filter(|(segments, _)| !(segments.len() == 1 && trim_ows(segments[0]).is_empty()))
        .map(|(segments, well_formed)| {
            if well_formed {
                parse_extension(&segments)
            } else {
                None
            }
        })
        .collect()
}

fn parse_extension(segments: &[&str]) -> Option<ExtensionOffer> {
    let (name, params) = segments.split_first()?;
    let name = trim_ows(name);
    if !is_token(name) {
        return None;
    }
    let params = params
        .iter()
        .map(|segment| {
            let segment = trim_ows(segment);
            let (key, value) = match segment.split_once('=') {
                Some((key, value)) => (trim_ows(key), Some(parse_param_value(trim_ows(value))?)),
                None => (segment, None),
            };
            is_token(key).then(|| (key.to_ascii_lowercase(), value))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ExtensionOffer {
        name: name.to_owned(),
        params,
    })
}

/// A parameter value: a token, or a quoted string whose unescaped content
/// is a token (RFC 6455 §9.1).
fn parse_param_value(raw: &str) -> Option<String> {
    let value = match raw.strip_prefix('"') {
        Some(rest) => {
            let inner = rest.strip_suffix('"')?;
            let mut value = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?),
                    '"' => return None,
                    c => value.push(c),
                }
            }
            value
        }
        None => raw.to_owned(),
    };
    is_token(&value).then_some(value)
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// RFC 7230 §3.2.6 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The permessage-deflate parameters of one offer (RFC 7692 §7.1).
#[derive(Debug, Default, PartialEq, Eq)]
struct DeflateOffer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value. Parsed only to validate the
    /// offer: any client window fits our 15-bit inflater.
    client_max_window_bits: Option<Option<u8>>,
}

impl DeflateOffer {
    /// `None` if the offer must be declined: unknown or duplicate parameter,
    /// or a value where none belongs or a missing/invalid one (RFC 7692 §7).
    fn parse(params: &[(String, Option<String>)]) -> Option<Self> {
        let mut offer = DeflateOffer::default();
        let mut seen = [false; 4];
        for (key, value) in params {
            let slot = match key.as_str() {
                "server_no_context_takeover" => 0,
                "client_no_context_takeover" => 1,
                "server_max_window_bits" => 2,
                "client_max_window_bits" => 3,
                _ => return None,
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            let value = value.as_deref();
            match slot {
                0 if value.is_none() => offer.server_no_context_takeover = true,
                1 if value.is_none() => offer.client_no_context_takeover = true,
                2 => offer.server_max_window_bits = Some(parse_window_bits(value?)?),
                3 => {
                    offer.client_max_window_bits = Some(match value {
                        Some(v) => Some(parse_window_bits(v)?),
                        None => None,
                    })
                }
                _ => return None,
            }
        }
        Some(offer)
    }
}

/// 8..=15 written in decimal without leading zeros (RFC 7692 §7.1.2).
fn parse_window_bits(value: &str) -> Option<u8> {
    if value.is_empty() || value.len() > 2 || value.starts_with('0') {
        return None;
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (8..=15).contains(&bits).then_some(bits)
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why the peer's bytes are not an acceptable WebSocket stream. Every variant
/// is fatal for the connection: close with [`WsError::close_code`].
// Each variant's `#[error]` message documents it (reachable from outside the
// crate only through the `fuzzing` feature's re-export).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    #[error("frame has RSV2 or RSV3 set")]
    ReservedBits,
    #[error("RSV1 set without permessage-deflate, on a control frame or on a continuation")]
    UnexpectedRsv1,
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    #[error("client frame is not masked")]
    Unmasked,
    #[error("control frame is fragmented")]
    FragmentedControl,
    #[error("control frame payload exceeds 125 bytes")]
    ControlTooLong,
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    #[error("new data frame while a fragmented message is in progress")]
    ExpectedContinuation,
    #[error("64-bit payload length has its most significant bit set")]
    InvalidLength,
    #[error("close frame payload of one byte")]
    InvalidClosePayload,
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    #[error("message exceeds the size limit")]
    TooLarge,
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    #[error("invalid compressed data: {0}")]
    Decompress(String),
}

impl WsError {
    /// The close code to send before dropping the connection (RFC 6455
    /// §7.4.1): 1009 for size, 1007 for data inconsistent with its type
    /// (bad UTF-8, and undecodable DEFLATE as `ws` does), 1002 otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::TooLarge => 1009,
            WsError::InvalidUtf8 | WsError::Decompress(_) => 1007,
            _ => 1002,
        }
    }
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

/// Frame opcodes (RFC 6455 §5.2). Reserved values are not representable.
#[allow(missing_docs)] // the RFC's names
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, `None` for reserved ones.
    pub fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong.
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// One complete incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, reassembled, decompressed and validated as UTF-8.
    Text(String),
    /// A binary message, reassembled and decompressed.
    Binary(Bytes),
    /// A ping and its payload.
    Ping(Bytes),
    /// A pong and its payload.
    Pong(Bytes),
    /// `None` for an empty close frame, else the code and the reason.
    Close(Option<(u16, String)>),
}

/// The frame header for a server frame (FIN set, unmasked): the bytes are
/// `buf[..len]` of the returned pair (2 to 10 bytes).
///
/// This is the zero-copy path: write the header, then the payload `Bytes`
/// as a second buffer (vectored write, or a `BytesMut` chained with the
/// payload), so a message shared by many recipients is never copied. The
/// payload must be exactly `len` bytes; set `rsv1` only if it is the output
/// of [`Deflater::compress`] ([`Encoder::will_compress`] tells when the
/// encoder would compress, in which case use the `encode_*` methods).
pub fn header(opcode: OpCode, len: usize, rsv1: bool) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    buf[0] = 0x80 | if rsv1 { 0x40 } else { 0 } | opcode.as_u8();
    let n = if len < 126 {
        buf[1] = len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        buf[1] = 126;
        buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        buf[1] = 127;
        buf[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (buf, n)
}

/// Whether a close code may appear on the wire (RFC 6455 §7.4): 1000-1014
/// less the ones reserved for local use (1004-1006), and the registered and
/// private ranges 3000-4999. Same rule as `ws`.
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------

/// Turns the client's bytes into [`Message`]s, enforcing RFC 6455 (and RFC
/// 7692 when an [`Inflater`] is given).
///
/// After an error the stream cannot be resynchronised: send a close frame
/// with [`WsError::close_code`] and drop the connection; do not call
/// [`Decoder::decode`] again.
#[derive(Debug)]
pub struct Decoder {
    max_message: usize,
    inflater: Option<Inflater>,
    /// The fragmented data message being reassembled, if any.
    partial: Option<Partial>,
}

#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
    /// How far `data` is known to be valid UTF-8 (uncompressed text only),
    /// so that bad text fails on the fragment that carries it.
    utf8_checked: usize,
}

impl Partial {
    fn check_utf8_prefix(&mut self) -> Result<(), WsError> {
        if !self.text || self.compressed {
            return Ok(());
        }
        match std::str::from_utf8(&self.data[self.utf8_checked..]) {
            Ok(_) => self.utf8_checked = self.data.len(),
            // An incomplete sequence at the end may finish in the next frame.
            Err(e) if e.error_len().is_none() => self.utf8_checked += e.valid_up_to(),
            Err(_) => return Err(WsError::InvalidUtf8),
        }
        Ok(())
    }
}

/// A parsed frame header, before the payload is consumed.
struct FrameHead {
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: [u8; 4],
    header_len: usize,
    payload_len: usize,
}

impl Decoder {
    /// `max_message` bounds every data message after reassembly and
    /// decompression (and so every frame). `inflater` is the receiving half
    /// of a negotiated [`Deflate`]; without it RSV1 is a protocol error.
    pub fn new(max_message: usize, inflater: Option<Inflater>) -> Self {
        Decoder {
            max_message,
            inflater,
            partial: None,
        }
    }

    /// Consumes complete frames from the front of `buf` until one completes
    /// a message, and returns it. Returns `Ok(None)` when `buf` holds no
    /// complete message yet; an incomplete trailing frame is left in `buf`
    /// (whole, not even its header is consumed), and fragments of a message
    /// are kept inside the decoder. Call again after each `Some` until
    /// `None`: one read may carry several messages.
    ///
    /// Violations are reported as soon as the bytes that show them arrive:
    /// a declared length above the limit fails on the header alone, before
    /// any payload is buffered.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WsError> {
        loop {
            let Some(head) = self.parse_head(buf)? else {
                return Ok(None);
            };
            let frame_len = head
                .header_len
                .checked_add(head.payload_len)
                .ok_or(WsError::TooLarge)?;
            if buf.len() < frame_len {
                return Ok(None);
            }
            buf.advance(head.header_len);
            let mut payload = buf.split_to(head.payload_len);
            unmask(&mut payload, head.mask);
            if let Some(message) = self.on_frame(&head, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Validates the header at the front of `buf` without consuming it.
    fn parse_head(&self, buf: &[u8]) -> Result<Option<FrameHead>, WsError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        if b0 & 0x30 != 0 {
            return Err(WsError::ReservedBits);
        }
        let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(WsError::ReservedOpcode(b0 & 0x0f))?;
        // RFC 6455 §5.1: the server must fail the connection on an unmasked
        // client frame.
        if b1 & 0x80 == 0 {
            return Err(WsError::Unmasked);
        }
        let len7 = b1 & 0x7f;
        if opcode.is_control() {
            if !fin {
                return Err(WsError::FragmentedControl);
            }
            // Also refuses the 16- and 64-bit length forms whatever length
            // they hold: for at most 125 bytes they are not the minimal
            // encoding RFC 6455 §5.2 requires (`ws` does the same;
            // tungstenite reads them, see fuzz/src/ws_diff.rs).
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(WsError::ControlTooLong);
            }
            if rsv1 {
                return Err(WsError::UnexpectedRsv1);
            }
        } else {
            match (opcode, &self.partial) {
                (OpCode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(WsError::ExpectedContinuation);
                }
                _ => {}
            }
            // RFC 7692 §6.1: RSV1 marks the first frame of a compressed
            // message; it is an error anywhere else or without the extension.
            if rsv1 && (self.inflater.is_none() || opcode == OpCode::Continuation) {
                return Err(WsError::UnexpectedRsv1);
            }
        }
        // Non-minimal length encodings are accepted, like browsers and `ws`
        // do; only the 64-bit form's top bit is checked (RFC 6455 §5.2).
        let (declared, len_bytes): (u64, usize) = match len7 {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(WsError::InvalidLength);
                    }
                    (len, 8)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 0),
        };
        if !opcode.is_control() {
            let buffered = self.partial.as_ref().map_or(0, |p| p.data.len());
            let room = self.max_message.saturating_sub(buffered);
            if declared > room as u64 {
                return Err(WsError::TooLarge);
            }
        }
        // Fits in usize: bounded by max_message or by 125 just above.
        let payload_len = declared as usize;
        let header_len = 2 + len_bytes + 4;
        let Some(mask) = buf.get(header_len - 4..header_len) else {
            return Ok(None);
        };
        Ok(Some(FrameHead {
            fin,
            rsv1,
            opcode,
            mask: [mask[0], mask[1], mask[2], mask[3]],
            header_len,
            payload_len,
        }))
    }

    fn on_frame(
        &mut self,
        head: &FrameHead,
        payload: BytesMut,
    ) -> Result<Option<Message>, WsError> {
        let message = match head.opcode {
            OpCode::Ping => Message::Ping(payload.freeze()),
            OpCode::Pong => Message::Pong(payload.freeze()),
            OpCode::Close => parse_close(&payload)?,
            OpCode::Text | OpCode::Binary => {
                let text = head.opcode == OpCode::Text;
                if head.fin {
                    self.finish(text, head.rsv1, payload)?
                } else {
                    let mut partial = Partial {
                        text,
                        compressed: head.rsv1,
                        data: payload,
                        utf8_checked: 0,
                    };
                    partial.check_utf8_prefix()?;
                    self.partial = Some(partial);
                    return Ok(None);
                }
            }
            OpCode::Continuation => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(WsError::UnexpectedContinuation);
                };
                partial.data.extend_from_slice(&payload);
                partial.check_utf8_prefix()?;
                if !head.fin {
                    return Ok(None);
                }
                let Some(partial) = self.partial.take() else {
                    return Err(WsError::UnexpectedContinuation);
                };
                self.finish(partial.text, partial.compressed, partial.data)?
            }
        };
        Ok(Some(message))
    }

    /// Builds the message from its complete (possibly compressed) payload.
    fn finish(&mut self, text: bool, compressed: bool, data: BytesMut) -> Result<Message, WsError> {
        if compressed {
            let inflater = self.inflater.as_mut().ok_or(WsError::UnexpectedRsv1)?;
            let data = inflater.decompress(&data, self.max_message)?;
            return Ok(if text {
                Message::Text(String::from_utf8(data).map_err(|_| WsError::InvalidUtf8)?)
            } else {
                Message::Binary(Bytes::from(data))
            });
        }
        Ok(if text {
            Message::Text(String::from_utf8(Vec::from(data)).map_err(|_| WsError::InvalidUtf8)?)
        } else {
            Message::Binary(data.freeze())
        })
    }
}

fn parse_close(payload: &[u8]) -> Result<Message, WsError> {
    match payload {
        [] => Ok(Message::Close(None)),
        [_] => Err(WsError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(WsError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
            Ok(Message::Close(Some((code, reason.to_owned()))))
        }
    }
}

/// XORs the payload with the masking key (RFC 6455 §5.3).
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, m) in chunks.into_remainder().iter_mut().zip(mask) {
        *byte ^= m;
    }
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/// Builds server frames: unmasked (RFC 6455 §5.1), FIN set, one frame per
/// message, RSV1 and a compressed payload when permessage-deflate applies.
#[derive(Debug)]
pub struct Encoder {
    deflater: Option<Deflater>,
}

impl Encoder {
    /// `deflater` is the sending half of a negotiated [`Deflate`].
    pub fn new(deflater: Option<Deflater>) -> Self {
        Encoder { deflater }
    }

    /// Whether `encode_text`/`encode_binary` would compress a payload of
    /// `len` bytes with this `compress` flag. When false, the zero-copy
    /// [`header`] path produces identical bytes.
    pub fn will_compress(&self, len: usize, compress: bool) -> bool {
        compress && self.deflater.as_ref().is_some_and(|d| len >= d.threshold)
    }

    /// Appends a text frame. `text` must be UTF-8 (it is the caller's
    /// encoded packet; checked in debug builds only).
    pub fn encode_text(&mut self, text: &[u8], compress: bool, out: &mut BytesMut) {
        debug_assert!(
            std::str::from_utf8(text).is_ok(),
            "text frame payload must be UTF-8"
        );
        self.encode_data(OpCode::Text, text, compress, out);
    }

    /// Appends a binary frame.
    pub fn encode_binary(&mut self, data: &[u8], compress: bool, out: &mut BytesMut) {
        self.encode_data(OpCode::Binary, data, compress, out);
    }

    fn encode_data(&mut self, opcode: OpCode, payload: &[u8], compress: bool, out: &mut BytesMut) {
        if self.will_compress(payload.len(), compress)
            && let Some(deflater) = self.deflater.as_mut()
        {
            let compressed = deflater.compress(payload);
            put_frame(opcode, &compressed, true, out);
        } else {
            put_frame(opcode, payload, false, out);
        }
    }

    /// Appends a control frame (Ping, Pong or Close). Payloads longer than
    /// 125 bytes are cut to 125 (RFC 6455 §5.5): a longer one would make
    /// the client fail the connection.
    ///
    /// # Panics
    /// If `opcode` is not a control opcode (a programming error).
    pub fn encode_control(&self, opcode: OpCode, payload: &[u8], out: &mut BytesMut) {
        assert!(opcode.is_control(), "{opcode:?} is not a control opcode");
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        put_frame(opcode, payload, false, out);
    }

    /// Appends a Close frame with a code and a reason; the reason is cut at
    /// a character boundary to fit the 123 bytes left after the code.
    pub fn encode_close(&self, code: u16, reason: &str, out: &mut BytesMut) {
        let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&code.to_be_bytes());
        payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
        put_frame(OpCode::Close, &payload[..2 + end], false, out);
    }
}

fn put_frame(opcode: OpCode, payload: &[u8], rsv1: bool, out: &mut BytesMut) {
    let (head, n) = header(opcode, payload.len(), rsv1);
    out.reserve(n + payload.len());
    out.extend_from_slice(&head[..n]);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests;
