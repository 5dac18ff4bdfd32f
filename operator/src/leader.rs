//! Optional leader election between operator replicas, on a `Lease` through
//! `kube-lease-manager` (server-side apply on the Lease, so two candidates
//! cannot both acquire it). Off by default: one replica needs none.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tracing::info;

/// Where the lease lives and who competes for it.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Name of the Lease object.
    pub name: String,
    /// Namespace of the Lease object.
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// Seconds a lease is valid without renewal.
    pub duration_seconds: u64,
    /// Seconds before expiry the holder renews; also the tolerated clock skew.
    pub grace_seconds: u64,
}

/// Why leader election could not run.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease durations are unusable.
    #[error(
        "lease duration ({duration}s) must be greater than its grace period ({grace}s), and both above 0"
    )]
    Durations {
        /// Lease duration.
        duration: u64,
        /// Grace period.
        grace: u64,
    },
    /// The Lease could not be created or read.
    #[error("lease {namespace}/{name}: {source}")]
    Lease {
        /// Namespace of the lease.
        namespace: String,
        /// Name of the lease.
        name: String,
        /// The manager's error.
        source: LeaseManagerError,
    },
    /// The lease manager stopped before this replica became leader.
    #[error("lease manager stopped before leadership was acquired")]
    Stopped,
}

/// Leadership held by this replica. Dropping it releases the lease.
pub struct Leadership {
    state: watch::Receiver<bool>,
}

impl Leadership {
    /// Resolves when leadership is lost (another replica took the lease
    /// after this one failed to renew it, or the manager stopped).
    pub async fn lost(mut self) {
        while *self.state.borrow_and_update() {
            if self.state.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Waits until this replica holds the lease.
pub async fn acquire(client: Client, config: &LeaseConfig) -> Result<Leadership, LeaderError> {
    let (duration, grace) = (config.duration_seconds, config.grace_seconds);
    if duration == 0 || grace == 0 || grace >= duration {
        return Err(LeaderError::Durations { duration, grace });
    }
    let lease_error = |source| LeaderError::Lease {
        namespace: config.namespace.clone(),
        name: config.name.clone(),
        source,
    };
    let manager = LeaseManagerBuilder::new(client, &config.name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(lease_error)?;
    let (mut state, _task) = manager.watch().await;
    info!(lease = %config.name, identity = %config.identity, "waiting for leadership");
    while !*state.borrow_and_update() {
        state.changed().await.map_err(|_| LeaderError::Stopped)?;
    }
    info!(lease = %config.name, identity = %config.identity, "acquired leadership");
    Ok(Leadership { state })
}
