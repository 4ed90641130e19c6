//! How the adapter's `redis::Client` is made from a [`RedisConfig`] (and
//! what a Redis Cluster's client takes from it, in `target`): plain
//! for `redis://`, over TLS for `rediss://` (the redis crate's rustls),
//! trusting the system's roots, or the CA and client certificate the
//! config's [`TlsCertificates`] give. It makes no connection: every link
//! connects with the client it returns, so each of them speaks TLS alike.
//!
//! The name the server's certificate must carry is the URL's host (sent as
//! SNI too); the redis crate has no setting to verify another name.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{RedisAdapterError, RedisConfig, TlsCertificates};

/// The client for `config`'s URL, with its TLS certificates if any.
pub(crate) fn client(config: &RedisConfig) -> Result<redis::Client, RedisAdapterError> {
    let url = config.url.as_str();
    let client = match &config.tls {
        None => redis::Client::open(url).map_err(|source| RedisAdapterError::Url {
            url: config.display_url(),
            source,
        })?,
        Some(certificates) => {
            let client = check(certificates)
                .and_then(|()| redis::Client::build_with_tls(url, certificates.clone()));
            client.map_err(|source| RedisAdapterError::Tls {
                url: config.display_url(),
                source,
            })?
        }
    };
    if matches!(
        client.get_connection_info().addr(),
        redis::ConnectionAddr::TcpTls { .. }
    ) {
        install_crypto_provider();
    }
    Ok(client)
}

/// Refuses a CA file without a certificate, which the redis crate takes for
/// an empty set of roots: every server would then fail to verify, and the
/// error would blame the server's certificate rather than the file.
pub(crate) fn check(certificates: &TlsCertificates) -> redis::RedisResult<()> {
    let Some(ca) = &certificates.root_cert else {
        return Ok(());
    };
    match CertificateDer::pem_slice_iter(ca).next() {
        Some(_) => Ok(()),
        None => Err(redis::RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "the CA certificates hold no PEM certificate",
        ))),
    }
}

/// Gives rustls its process-wide crypto provider, ring, unless the
/// application installed one first (then that one is used). Without it, a
/// program whose other dependencies also compile in aws-lc-rs would panic
/// on its first TLS connection: rustls cannot choose between the two.
/// ring rather than aws-lc-rs keeps the build free of aws-lc's large C
/// library; what it lacks is post-quantum key exchange (hence rustls'
/// deprecation note), which a link to Redis can do without.
pub(crate) fn install_crypto_provider() {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    // An error means a provider is installed already.
    let _ = provider.install_default();
}

#[cfg(test)]
mod tests {
    use super::client;
    use crate::{RedisAdapterError, RedisConfig, TlsCertificates};

    fn with_ca(url: &str, ca: &str) -> RedisConfig {
        RedisConfig {
            tls: Some(TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.as_bytes().to_vec()),
            }),
            ..RedisConfig::new(url)
        }
    }

    fn tls_error(config: RedisConfig) -> String {
        match client(&config) {
            Err(e @ RedisAdapterError::Tls { .. }) => e.to_string(),
            Err(e) => panic!("not a TLS error: {e}"),
            Ok(_) => panic!("built a client for {:?}", config.url),
        }
    }

    #[test]
    fn rediss_alone_trusts_the_system_and_needs_no_certificates() {
        let config = RedisConfig::new("rediss://127.0.0.1:6380");
        let client = client(&config).expect("a TLS client");
        let addr = client.get_connection_info().addr();
        assert!(
            matches!(addr, redis::ConnectionAddr::TcpTls { .. }),
            "{addr:?}"
        );
    }

    #[test]
    fn certificates_that_cannot_be_used_are_refused_before_connecting() {
        let url = "rediss://:s3cret@127.0.0.1:6380";
        assert_eq!(
            tls_error(with_ca(url, "not a certificate")),
            "cannot use the TLS certificates for redis at rediss://:***@127.0.0.1:6380: \
             the CA certificates hold no PEM certificate - InvalidClientConfig"
        );
        let plain = RedisConfig {
            tls: Some(TlsCertificates {
                client_tls: None,
                root_cert: None,
            }),
            ..RedisConfig::new("redis://127.0.0.1:6379")
        };
        let plain = tls_error(plain);
        assert!(
            plain.contains("requires a URL with the `rediss://` scheme"),
            "{plain}"
        );
    }
}
