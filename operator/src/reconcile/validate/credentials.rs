//! Checks of the credential profiles that only a SnapshotTable has (one
//! kind each, `irsa`); finds the `irsa` role for the writer's
//! ServiceAccount. References to profiles, role ARNs of `assumeRole` and
//! the sinks' endpoints are checked by the writer's config validation.

use super::{Errors, IrsaRole};
use crate::crd::rules::{IRSA_WITH_OWN_ACCOUNT, ONE_IRSA_PROFILE, PROFILE_ONE_KIND, SINK_ONE_KIND};
use crate::crd::{CredentialProfileSpec, SnapshotTable};

/// Checks the profiles and returns the `irsa` role, if any.
pub(super) fn check_credentials(table: &SnapshotTable, errors: &mut Errors) -> Option<IrsaRole> {
    let mut irsa: Vec<IrsaRole> = Vec::new();
    for (name, profile) in table.spec.credentials.iter().flatten() {
        let path = format!("spec.credentials.{name}");
        let CredentialProfileSpec {
            irsa: pod_identity,
            assume_role,
            ambient,
        } = profile;
        let kinds = [
            pod_identity.is_some(),
            assume_role.is_some(),
            ambient.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            errors.push(&path, PROFILE_ONE_KIND);
        }
        if let Some(role) = pod_identity {
            if !is_role_arn(&role.role_arn) {
                errors.push(
                    format!("{path}.irsa.roleArn"),
                    format!("invalid IAM role ARN {:?}", role.role_arn),
                );
            }
            irsa.push(IrsaRole {
                profile: name.clone(),
                role_arn: role.role_arn.clone(),
            });
        }
    }
    if irsa.len() > 1 {
        let names: Vec<&str> = irsa.iter().map(|r| r.profile.as_str()).collect();
        errors.push(
            "spec.credentials",
            format!("{ONE_IRSA_PROFILE}; found {}", names.join(", ")),
        );
    }
    let overridden = table
        .spec
        .writer
        .as_ref()
        .and_then(|w| w.service_account_name.as_deref());
    if let (Some(role), Some(account)) = (irsa.first(), overridden) {
        errors.push(
            format!("spec.credentials.{}.irsa", role.profile),
            format!("{IRSA_WITH_OWN_ACCOUNT} (writer.serviceAccountName is {account:?})"),
        );
    }
    irsa.into_iter().next()
}

/// `arn:<partition>:iam::<12-digit account>:role/<name>`.
fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let fields: Vec<&str> = parts.by_ref().collect();
    matches!(fields.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty()))
}

/// `spec.events`: one sink each.
pub(super) fn check_events(table: &SnapshotTable, errors: &mut Errors) {
    for (i, sink) in table.spec.events.iter().flatten().enumerate() {
        if sink.target().is_none() {
            errors.push(format!("spec.events[{i}]"), SINK_ONE_KIND);
        }
    }
}
