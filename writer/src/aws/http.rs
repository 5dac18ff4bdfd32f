//! The HTTP client every AWS SDK client uses.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// An HTTPS (and plain HTTP, for loopback test servers) client on rustls
/// with ring, the TLS stack the rest of the workspace uses; the SDK's default
/// client would pull in aws-lc. Roots come from the platform store.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
