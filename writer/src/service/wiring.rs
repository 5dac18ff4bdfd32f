//! Turns a table's config into live destinations and event sinks.

use std::sync::Arc;

use crate::aws::{AwsError, CredentialResolver};
use crate::config::{DestinationConfig, TableConfig};
use crate::dest::Destination;
use crate::dest::local::LocalDestination;
use crate::dest::s3::{S3Destination, S3Location};
use crate::events::{EventSink, connect_sink};

/// Builds every destination of `table`, in config order (the first one's
/// URIs go into the manifest and events).
pub async fn destinations(
    table: &TableConfig,
    resolver: &CredentialResolver,
) -> Result<Vec<Arc<dyn Destination>>, AwsError> {
    let mut built: Vec<Arc<dyn Destination>> = Vec::with_capacity(table.destinations.len());
    for config in &table.destinations {
        match config {
            DestinationConfig::Local { path } => built.push(Arc::new(LocalDestination::new(path))),
            DestinationConfig::S3 { .. } => {
                // from_config answers None only for a non-S3 config.
                if let Some(location) = S3Location::from_config(config) {
                    built.push(Arc::new(S3Destination::connect(&location, resolver).await?));
                }
            }
        }
    }
    Ok(built)
}

/// Connects every event sink of `table`.
pub async fn event_sinks(
    table: &TableConfig,
    resolver: &CredentialResolver,
) -> Result<Vec<Arc<dyn EventSink>>, AwsError> {
    let mut sinks = Vec::with_capacity(table.events.len());
    for config in &table.events {
        sinks.push(connect_sink(config, resolver).await?);
    }
    Ok(sinks)
}
