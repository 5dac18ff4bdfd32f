//! TLS to an `https://` source: rustls (ring) verifying the server against
//! the system's root certificates plus an optional `source.tls.ca_file`,
//! for every transport (the connector below serves Connect, gRPC-Web and
//! gRPC alike; ALPN offers `h2` for gRPC and `http/1.1` for the others).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Largest CA file read: a bundle of every public root is about 250 KiB.
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `source.tls.ca_file` cannot be read.
    #[error("CA file {path:?}: {source}")]
    ReadCa {
        /// The configured file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `source.tls.ca_file` holds no usable PEM certificate.
    #[error("CA file {path:?}: {reason}")]
    BadCa {
        /// The configured file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Neither the system nor `ca_file` gave a single root certificate.
    #[error(
        "no root certificates: the system store is empty or unreadable ({0}); set source.tls.ca_file"
    )]
    NoRoots(String),
}

/// Reads the PEM certificates of a CA file (bounded), for `check-config`
/// and the client alike.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    use std::io::Read;
    let read = |source| TlsError::ReadCa {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read)?;
    if !metadata.is_file() {
        return Err(TlsError::BadCa {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(read)?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(TlsError::BadCa {
            path: path.to_owned(),
            reason: format!("larger than {MAX_CA_FILE_BYTES} bytes"),
        });
    }
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::BadCa {
            path: path.to_owned(),
            reason: format!("not PEM certificates: {error}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::BadCa {
            path: path.to_owned(),
            reason: "no PEM certificate in it".into(),
        });
    }
    Ok(certs)
}

/// The client config for an origin: for `https://`, the system roots plus
/// the certificates of `ca_file`; for `http://` an empty one, never used
/// (it keeps one connector type for both).
pub fn client_config(https: bool, ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    if https {
        let system = rustls_native_certs::load_native_certs();
        // Unparseable system certificates are skipped, as browsers do.
        roots.add_parsable_certificates(system.certs);
        if let Some(path) = ca_file {
            for cert in read_ca_file(path)? {
                roots.add(cert).map_err(|error| TlsError::BadCa {
                    path: path.to_owned(),
                    reason: error.to_string(),
                })?;
            }
        }
        if roots.is_empty() {
            let why = system
                .errors
                .first()
                .map_or_else(|| "none found".to_owned(), ToString::to_string);
            return Err(TlsError::NoRoots(why));
        }
    }
    // ring explicitly: other crates in the build may enable aws-lc-rs too,
    // and rustls then refuses to guess a process default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::NoRoots(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A connector for `http://` and `https://` origins (TLS only for the
/// latter); `http2` offers only `h2` by ALPN (native gRPC), else only
/// `http/1.1`.
pub(crate) fn connector(
    tls: &ClientConfig,
    connect_timeout: Duration,
    http2: bool,
) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    // The HTTPS connector checks the scheme itself.
    http.enforce_http(false);
    let builder = HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http();
    if http2 {
        builder.enable_http2().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    }
}
