//! Shapes of the layers API: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
//! ListLayerVersions and the layer version policy calls.

use ignis_model::layer::{LayerVersion, layer_arn, layer_version_arn};
use ignis_model::{Account, time};
use serde::{Deserialize, Serialize};

/// `Content` of PublishLayerVersion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerContentInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
}

/// PublishLayerVersion's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishLayerVersionRequest {
    pub content: Option<LayerContentInput>,
    pub description: Option<String>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// `LayerVersionContentOutput`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionContent {
    pub location: String,
    pub code_sha256: String,
    pub code_size: u64,
}

/// PublishLayerVersion's and GetLayerVersion(ByArn)'s answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionResponse {
    pub content: LayerVersionContent,
    pub layer_arn: String,
    pub layer_version_arn: String,
    pub description: String,
    pub created_date: String,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_runtimes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_architectures: Option<Vec<String>>,
}

impl LayerVersionResponse {
    /// The answer for `v`; `location` is its code download URL.
    pub fn new(v: &LayerVersion, account: &Account, location: String) -> LayerVersionResponse {
        LayerVersionResponse {
            content: LayerVersionContent {
                location,
                code_sha256: v.code.sha256_base64.clone(),
                code_size: v.code.size,
            },
            layer_arn: layer_arn(account, &v.name),
            layer_version_arn: layer_version_arn(account, &v.name, v.version),
            description: v.description.clone(),
            created_date: time::last_modified(v.created_ms),
            version: v.version,
            compatible_runtimes: v.compatible_runtimes.clone(),
            license_info: v.license_info.clone(),
            compatible_architectures: v.compatible_architectures.clone(),
        }
    }
}

/// `LayerVersionsListItem`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionsListItem {
    pub layer_version_arn: String,
    pub version: u64,
    pub description: String,
    pub created_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_runtimes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_architectures: Option<Vec<String>>,
}

impl LayerVersionsListItem {
    pub fn new(v: &LayerVersion, account: &Account) -> LayerVersionsListItem {
        LayerVersionsListItem {
            layer_version_arn: layer_version_arn(account, &v.name, v.version),
            version: v.version,
            description: v.description.clone(),
            created_date: time::last_modified(v.created_ms),
            compatible_runtimes: v.compatible_runtimes.clone(),
            license_info: v.license_info.clone(),
            compatible_architectures: v.compatible_architectures.clone(),
        }
    }
}

/// `LayersListItem`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayersListItem {
    pub layer_name: String,
    pub layer_arn: String,
    pub latest_matching_version: LayerVersionsListItem,
}

/// ListLayers' answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayersResponse {
    pub layers: Vec<LayersListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// ListLayerVersions' answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayerVersionsResponse {
    pub layer_versions: Vec<LayerVersionsListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// AddLayerVersionPermission's body (`RevisionId` is in the query).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddLayerVersionPermissionRequest {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub organization_id: Option<String>,
}

/// AddLayerVersionPermission's answer: the statement as a JSON string.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AddLayerVersionPermissionResponse {
    pub statement: String,
    pub revision_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_model::function::CodeRef;

    #[test]
    fn layer_version_has_aws_member_names() {
        let account = Account {
            id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        let v = LayerVersion {
            name: "deps".into(),
            version: 2,
            description: String::new(),
            compatible_runtimes: Some(vec!["python3.12".into()]),
            compatible_architectures: None,
            license_info: None,
            code: CodeRef {
                sha256_hex: "00".into(),
                sha256_base64: "b64".into(),
                size: 10,
                unzipped_size: 20,
            },
            created_ms: 1_569_263_553_857,
        };
        let j = serde_json::to_value(LayerVersionResponse::new(&v, &account, "u".into())).unwrap();
        assert_eq!(
            j["LayerVersionArn"],
            "arn:aws:lambda:us-east-1:000000000000:layer:deps:2"
        );
        assert_eq!(
            j["LayerArn"],
            "arn:aws:lambda:us-east-1:000000000000:layer:deps"
        );
        assert_eq!(j["Version"], 2);
        assert_eq!(j["CreatedDate"], "2019-09-23T18:32:33.857+0000");
        assert_eq!(j["Content"]["CodeSha256"], "b64");
        assert_eq!(j["Content"]["CodeSize"], 10);
        assert_eq!(j["Content"]["Location"], "u");
        assert_eq!(j["Description"], "");
        assert_eq!(j["CompatibleRuntimes"][0], "python3.12");
        assert!(j.get("CompatibleArchitectures").is_none());
        assert!(j.get("LicenseInfo").is_none());
    }
}
