//! The sails.io.js SDK a socket says it runs, and Sails' check of its
//! version before a virtual request (sails-hook-sockets'
//! `lib/parse-sdk-metadata.js` and `lib/receive-incoming-sails-io-msg.js`).
//!
//! sails.io.js adds `__sails_io_sdk_version`, `__sails_io_sdk_platform` and
//! `__sails_io_sdk_language` to its handshake's query. Sails reads each from
//! the handshake's headers first, then its query; a socket that sent no
//! version is taken to run 0.9.0 (the SDK before versioning). Before it
//! runs a virtual request, Sails rounds the version off to
//! `major.minor.patch` (a prerelease such as `1.2.1-rc.1` counts as 1.2.1)
//! and refuses the request, with its parse error, below 0.11.0. There is no
//! check at connect time: a client that never sends a virtual request is
//! never asked for a version. Pure: no actors, no I/O.

use std::fmt;

use switchyard_socketio::socket::Handshake;

/// The handshake field of the SDK's version.
const VERSION: &str = "__sails_io_sdk_version";
/// The handshake field of the SDK's platform (`browser`, `node`, ...).
const PLATFORM: &str = "__sails_io_sdk_platform";
/// The handshake field of the SDK's language (`javascript`, ...).
const LANGUAGE: &str = "__sails_io_sdk_language";
/// The version Sails assumes when a socket sent none.
const UNVERSIONED: &str = "0.9.0";
/// Longest version text semver reads (its `MAX_LENGTH`).
const MAX_LENGTH: usize = 256;

/// An SDK version's `major.minor.patch`, as Sails compares them (prerelease
/// and build left out).
///
/// ```
/// use switchyard_sails::SdkVersion;
///
/// assert_eq!(SdkVersion::parse("1.2.1-rc.1"), Some(SdkVersion::new(1, 2, 1)));
/// assert!(SdkVersion::parse("0.10.5").unwrap() < SdkVersion::SAILS_MINIMUM);
/// assert_eq!(SdkVersion::parse("1.2"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SdkVersion {
    /// The major version.
    pub major: u64,
    /// The minor version.
    pub minor: u64,
    /// The patch version.
    pub patch: u64,
}

impl SdkVersion {
    /// The oldest SDK Sails serves virtual requests for: 0.11.0.
    pub const SAILS_MINIMUM: SdkVersion = SdkVersion::new(0, 11, 0);

    /// The version `major.minor.patch`.
    pub const fn new(major: u64, minor: u64, patch: u64) -> SdkVersion {
        SdkVersion {
            major,
            minor,
            patch,
        }
    }

    /// Reads `text` as the `semver` package does (not loosely): an optional
    /// `v`, `major.minor.patch` without leading zeros, then optionally a
    /// `-prerelease` and a `+build`, which are dropped; surrounding blanks
    /// are trimmed. `None` for anything else.
    pub fn parse(text: &str) -> Option<SdkVersion> {
        if text.len() > MAX_LENGTH {
            return None;
        }
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let (rest, build) = match text.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (text, None),
        };
        let (main, prerelease) = match rest.split_once('-') {
            Some((main, prerelease)) => (main, Some(prerelease)),
            None => (rest, None),
        };
        let valid_prerelease = |p: &str| p.split('.').all(prerelease_identifier);
        let valid_build = |b: &str| b.split('.').all(build_identifier);
        if !prerelease.is_none_or(valid_prerelease) || !build.is_none_or(valid_build) {
            return None;
        }
        let mut numbers = main.split('.').map(number);
        let version = SdkVersion::new(numbers.next()??, numbers.next()??, numbers.next()??);
        numbers.next().is_none().then_some(version)
    }
}

impl fmt::Display for SdkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Largest number semver takes in a version (JavaScript's `MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A numeric identifier: `0` or digits without a leading zero.
fn number(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok().filter(|n| *n <= MAX_SAFE_INTEGER)
}

/// A prerelease identifier: a number without leading zeros, or
/// alphanumerics and hyphens with at least one non-digit.
fn prerelease_identifier(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let numeric = text.bytes().all(|b| b.is_ascii_digit());
    match numeric {
        true => !text.is_empty() && (text == "0" || !text.starts_with('0')),
        false => text.bytes().all(alnum),
    }
}

/// A build identifier: one or more alphanumerics and hyphens.
fn build_identifier(text: &str) -> bool {
    !text.is_empty() && (text.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What a socket's handshake says of its SDK (Sails'
/// `sails.getSDKMetadata(handshake)`): each field from the handshake's
/// headers, else its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkMetadata {
    /// `__sails_io_sdk_version` as sent, or `0.9.0` when it was not.
    pub version: String,
    /// `__sails_io_sdk_platform` (`browser`, `node`, ...), if sent.
    pub platform: Option<String>,
    /// `__sails_io_sdk_language` (`javascript`, ...), if sent.
    pub language: Option<String>,
}

impl SdkMetadata {
    /// The SDK a socket's `handshake` names.
    pub fn of(handshake: &Handshake) -> SdkMetadata {
        let query = handshake.query();
        SdkMetadata::from_fields(|name| {
            let header = handshake.header(name).filter(|v| !v.is_empty());
            header.or_else(|| query.get(name).map(String::as_str))
        })
    }

    /// The metadata from `field`, which gives a field's value (a header's,
    /// else the query's); empty values count as absent, as in Sails.
    fn from_fields<'a>(field: impl Fn(&str) -> Option<&'a str>) -> SdkMetadata {
        let field = |name| field(name).filter(|v| !v.is_empty()).map(str::to_string);
        SdkMetadata {
            version: field(VERSION).unwrap_or_else(|| UNVERSIONED.to_string()),
            platform: field(PLATFORM),
            language: field(LANGUAGE),
        }
    }

    /// Whether Sails serves this SDK's virtual requests when it wants at
    /// least `min`: the version, rounded off to `major.minor.patch`, is
    /// `min` or later. A version that does not parse is refused (Sails'
    /// `semver.major` throws on it, and the request is never answered).
    pub fn is_compatible(&self, min: SdkVersion) -> bool {
        SdkVersion::parse(&self.version).is_some_and(|v| v >= min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_semver_reads_them_rounded_off_to_major_minor_patch() {
        let v = SdkVersion::new;
        for (text, expected) in [
            ("1.2.1", Some(v(1, 2, 1))),
            ("0.11.0", Some(v(0, 11, 0))),
            ("v0.13.8", Some(v(0, 13, 8))),
            (" 1.0.0 ", Some(v(1, 0, 0))),
            ("1.2.1-rc.1", Some(v(1, 2, 1))),
            ("0.11.0-alpha-1.0a", Some(v(0, 11, 0))),
            ("1.0.0+build.5", Some(v(1, 0, 0))),
            ("1.0.0-beta+exp.sha.5114f85", Some(v(1, 0, 0))),
            ("9007199254740991.0.0", Some(v(MAX_SAFE_INTEGER, 0, 0))),
            ("", None),
            ("1", None),
            ("1.2", None),
            ("1.2.3.4", None),
            ("01.2.3", None),
            ("1.02.3", None),
            ("1.2.x", None),
            ("=1.2.3", None),
            ("V1.2.3", None),
            ("1.2.3-", None),
            ("1.2.3-01", None),
            ("1.2.3-a..b", None),
            ("1.2.3+", None),
            ("1.2.3-a_b", None),
            ("9007199254740992.0.0", None),
            ("-1.2.3", None),
        ] {
            assert_eq!(SdkVersion::parse(text), expected, "{text:?}");
        }
        assert_eq!(
            SdkVersion::parse(&format!("1.0.0-{}", "a".repeat(300))),
            None
        );
    }

    #[test]
    fn versions_compare_by_major_minor_patch() {
        let min = SdkVersion::SAILS_MINIMUM;
        assert_eq!(min.to_string(), "0.11.0");
        assert!(SdkVersion::new(0, 10, 99) < min);
        assert!(SdkVersion::new(0, 11, 0) >= min);
        assert!(SdkVersion::new(0, 12, 0) > min);
        assert!(SdkVersion::new(1, 0, 0) > SdkVersion::new(0, 99, 99));
        assert!(SdkVersion::new(2, 0, 0) > SdkVersion::new(1, 99, 0));
    }

    fn metadata(fields: &[(&str, &str)]) -> SdkMetadata {
        SdkMetadata::from_fields(|name| {
            (fields.iter())
                .find(|(n, _)| *n == name)
                .map(|(_, value)| *value)
        })
    }

    #[test]
    fn a_socket_that_sent_no_version_runs_0_9_0_and_is_refused() {
        let none = metadata(&[]);
        assert_eq!(
            none,
            SdkMetadata {
                version: "0.9.0".into(),
                platform: None,
                language: None,
            }
        );
        assert!(!none.is_compatible(SdkVersion::SAILS_MINIMUM));
        let empty = metadata(&[(VERSION, "")]);
        assert_eq!(empty.version, "0.9.0");
    }

    #[test]
    fn the_sdk_fields_are_read_and_the_version_checked_against_the_minimum() {
        let sdk = metadata(&[
            (VERSION, "1.2.1"),
            (PLATFORM, "node"),
            (LANGUAGE, "javascript"),
        ]);
        assert_eq!(sdk.platform.as_deref(), Some("node"));
        assert_eq!(sdk.language.as_deref(), Some("javascript"));
        let min = SdkVersion::SAILS_MINIMUM;
        assert!(sdk.is_compatible(min));
        assert!(!sdk.is_compatible(SdkVersion::new(1, 3, 0)));
        assert!(metadata(&[(VERSION, "0.11.0-rc.3")]).is_compatible(min));
        assert!(!metadata(&[(VERSION, "0.10.5")]).is_compatible(min));
        // Sails' semver throws on these; here they are refused.
        assert!(!metadata(&[(VERSION, "latest")]).is_compatible(min));
        assert!(!metadata(&[(VERSION, "1.2")]).is_compatible(min));
    }
}
