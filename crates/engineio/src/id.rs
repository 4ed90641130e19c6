//! Random identifiers for sessions and sockets (the layers above use them for
//! socket ids and adapter uids too).

use base64::Engine as _;

/// 20 random base64url characters (15 random bytes), like socket.io's `base64id`.
pub fn random_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    // Bytes 6 and 8 carry UUID version/variant bits; skip byte 6 to keep
    // the id as unpredictable as the 120 bits it stands for allow.
    let mut raw = [0u8; 15];
    raw[..6].copy_from_slice(&bytes[..6]);
    raw[6..].copy_from_slice(&bytes[7..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_20_url_safe_chars_and_distinct() {
        let a = super::random_id();
        let b = super::random_id();
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }
}
