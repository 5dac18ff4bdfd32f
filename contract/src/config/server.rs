//! `source.server`: the address of the fan-out server, as the writer will
//! dial it. The operator checks a SnapshotTable's server with the same
//! function, so it refuses exactly the addresses the writer would.

/// Why `source.server` cannot be dialled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{server:?}: {reason}")]
pub struct InvalidServer {
    /// The configured value.
    pub server: String,
    /// What is wrong with it.
    pub reason: String,
}

/// `http(s)://host:port` from `host:port`, `http://host:port` or
/// `https://host:port` (plaintext when no scheme is given). The writer's
/// gRPC client panics on an origin without a scheme, so one is always added.
pub fn server_origin(server: &str) -> Result<String, InvalidServer> {
    let invalid = |reason: &str| InvalidServer {
        server: server.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = server.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(invalid("empty; expected host:port"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|e| invalid(&format!("not a URL: {e}")))?;
    let scheme = match uri.scheme_str() {
        Some(scheme @ ("http" | "https")) => scheme,
        _ => return Err(invalid("the scheme must be http or https")),
    };
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err(invalid("must not have a path"));
    }
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
    if authority.host().is_empty() {
        return Err(invalid("no host"));
    }
    Ok(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheme_is_added_and_kept() {
        assert_eq!(server_origin("laredo:4002").unwrap(), "http://laredo:4002");
        assert_eq!(
            server_origin(" https://laredo:4002/ ").unwrap(),
            "https://laredo:4002"
        );
    }

    #[test]
    fn what_cannot_be_dialled_says_why() {
        for (server, reason) in [
            ("", "empty; expected host:port"),
            ("ftp://laredo:4002", "the scheme must be http or https"),
            ("http://laredo:4002/x", "must not have a path"),
        ] {
            assert_eq!(
                server_origin(server).unwrap_err().reason,
                reason,
                "{server}"
            );
        }
        assert!(
            server_origin("la redo:4002")
                .unwrap_err()
                .reason
                .starts_with("not a URL")
        );
    }
}
