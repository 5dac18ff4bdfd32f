//! Checks of the credential profiles and of the references to them; finds
//! the `irsa` role for the writer's ServiceAccount.

use super::{Errors, IrsaRole, check_endpoint};
use crate::crd::rules::{
    IRSA_WITH_OWN_ACCOUNT, ONE_IRSA_PROFILE, PROFILE_ONE_KIND, SINK_ONE_KIND,
    SINK_PROFILE_UNDEFINED,
};
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
        if let Some(role) = assume_role
            && !role.role_arn.starts_with("arn:")
        {
            errors.push(
                format!("{path}.assumeRole.roleArn"),
                format!("invalid role ARN {:?}", role.role_arn),
            );
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

/// `spec.events`: one sink each, endpoints and profile references.
pub(super) fn check_events(table: &SnapshotTable, errors: &mut Errors) {
    for (i, sink) in table.spec.events.iter().flatten().enumerate() {
        let path = format!("spec.events[{i}]");
        let Some((kind, key, value, common)) = sink.target() else {
            errors.push(&path, SINK_ONE_KIND);
            continue;
        };
        if value.is_empty() {
            errors.push(format!("{path}.{kind}.{key}"), "must not be empty");
        }
        check_endpoint(
            errors,
            &format!("{path}.{kind}.endpoint"),
            common.endpoint.as_deref(),
        );
        check_profile_reference(
            table,
            errors,
            &format!("{path}.{kind}.credentials"),
            common.credentials.as_deref(),
            SINK_PROFILE_UNDEFINED,
        );
    }
}

/// A profile name must be defined in `spec.credentials`; `rule` is the
/// CEL rule's message for the referring field.
pub(super) fn check_profile_reference(
    table: &SnapshotTable,
    errors: &mut Errors,
    path: &str,
    name: Option<&str>,
    rule: &str,
) {
    let Some(name) = name else { return };
    let profiles = table.spec.credentials.as_ref();
    if profiles.is_some_and(|p| p.contains_key(name)) {
        return;
    }
    let defined: Vec<&str> = profiles
        .into_iter()
        .flat_map(|p| p.keys())
        .map(String::as_str)
        .collect();
    let defined = if defined.is_empty() {
        "none".to_owned()
    } else {
        defined.join(", ")
    };
    errors.push(
        path,
        format!("{rule}: unknown profile {name:?} (defined: {defined})"),
    );
}
