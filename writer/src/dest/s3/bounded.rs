//! Reading an object whose size the reader knows or caps before it reads:
//! an artifact has the size the manifest records, the manifest a fixed cap.
//! A `Content-Length` above the limit is refused before the body is read,
//! and the body is read only up to the limit, whatever the header said.

use bytes::{Bytes, BytesMut};

use super::S3Destination;
use super::error::S3Failure;
use crate::dest::{DestError, Refusal};

impl S3Destination {
    /// [`Destination::read_bounded`](crate::dest::Destination::read_bounded).
    pub(super) async fn get_bounded(
        &self,
        key: &str,
        limit: u64,
    ) -> Result<Option<Bytes>, DestError> {
        let Some(out) = self.get_object(key).await? else {
            return Ok(None);
        };
        let too_large = |size| DestError::Refused {
            dest: self.name.clone(),
            key: key.to_owned(),
            reason: Refusal::TooLarge { size, limit },
        };
        let announced = out.content_length.and_then(|l| u64::try_from(l).ok());
        if let Some(size) = announced.filter(|size| *size > limit) {
            return Err(too_large(Some(size)));
        }
        let capacity = announced.unwrap_or(0).min(limit);
        let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut stream = out.body;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.failed("get", key, S3Failure::transfer("reading the body", e, true))
            })?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large(None));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body.freeze()))
    }
}
