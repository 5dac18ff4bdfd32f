//! `spec.credentials`: named AWS credential profiles.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A named AWS credential profile: exactly one of `irsa`, `assumeRole`,
/// `ambient`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.irsa), has(self.assumeRole), has(self.ambient)].exists_one(x, x)").message(super::rules::PROFILE_ONE_KIND))]
pub struct CredentialProfileSpec {
    /// IAM Roles for Service Accounts: the operator puts the role on the
    /// writer's ServiceAccount (`eks.amazonaws.com/role-arn`) and the writer
    /// uses the SDK's web-identity chain. The IAM role's trust policy must
    /// name `system:serviceaccount:<namespace>:<name>-writer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irsa: Option<IrsaProfile>,

    /// STS AssumeRole on top of the pod's ambient identity (which may itself
    /// come from an `irsa` profile), cached and refreshed by the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role: Option<AssumeRoleProfile>,

    /// The SDK default chain as the pod sees it (environment, web identity,
    /// container or instance role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambient: Option<AmbientProfile>,
}

/// An IAM role bound to the writer's ServiceAccount.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IrsaProfile {
    /// ARN of the IAM role, e.g. `arn:aws:iam::123456789012:role/archive-writer`.
    #[schemars(
        regex(pattern = r"^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$"),
        length(max = 2048)
    )]
    pub role_arn: String,
    /// Region for clients using this profile, unless the destination or sink
    /// sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
}

/// A role assumed through STS from the ambient identity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleProfile {
    /// ARN of the role to assume.
    #[schemars(regex(pattern = r"^arn:"), length(max = 2048))]
    pub role_arn: String,
    /// External id required by the role's trust policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1224))]
    pub external_id: Option<String>,
    /// Session name (default `snapshot-writer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 64))]
    pub session_name: Option<String>,
    /// Region of the STS endpoint and of clients using this profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
}

/// The SDK default credential chain.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct AmbientProfile {
    /// Region for clients using this profile, unless the destination or sink
    /// sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
}
