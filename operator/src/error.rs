//! The operator's error type.

/// Why a reconcile failed. Expected waits (writer not ready yet, conflict,
/// invalid spec) are not errors: they are reported in status and requeued.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("{action} {kind} {name}: {source}")]
    Kube {
        /// What was attempted (`apply`, `delete`, `patch status`, …).
        action: &'static str,
        /// Kind of the object.
        kind: String,
        /// `namespace/name` of the object.
        name: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The writer config could not be rendered as YAML.
    #[error("rendering the writer config: {0}")]
    Render(#[from] serde_yaml::Error),
    /// The writer did not accept a re-base request, or could not be asked;
    /// retried with backoff.
    #[error("re-base of {table} at {url} failed: {source}")]
    Rebase {
        /// `schema.table`.
        table: String,
        /// The writer's API address.
        url: String,
        /// The failed call.
        source: Box<crate::writer_client::WriterCallError>,
    },
    /// The object lacks a namespace or name (never true for objects from the
    /// API server).
    #[error("SnapshotTable without {0}")]
    MissingMetadata(&'static str),
}

impl Error {
    /// A failed API call on the object `namespace/name` of `kind`.
    pub(crate) fn kube(
        action: &'static str,
        kind: impl Into<String>,
        namespace: &str,
        name: &str,
        source: kube::Error,
    ) -> Self {
        Error::Kube {
            action,
            kind: kind.into(),
            name: format!("{namespace}/{name}"),
            source: Box::new(source),
        }
    }

    /// A failed API call on a SnapshotTable.
    pub(crate) fn on_table(
        action: &'static str,
        table: &crate::crd::SnapshotTable,
        source: kube::Error,
    ) -> Self {
        use kube::ResourceExt;
        Self::kube(
            action,
            "SnapshotTable",
            &table.namespace().unwrap_or_default(),
            &table.name_any(),
            source,
        )
    }

    /// The `reason` label of the errors metric: one stable word per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube_api",
            Error::Render(_) => "render",
            Error::Rebase { .. } => "rebase",
            Error::MissingMetadata(_) => "metadata",
        }
    }
}

/// Result with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
