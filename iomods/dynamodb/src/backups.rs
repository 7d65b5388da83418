//! Backups, restores and point-in-time recovery: CreateBackup, DescribeBackup, ListBackups, DeleteBackup,
//! RestoreTableFromBackup, DescribeContinuousBackups, UpdateContinuousBackups and
//! RestoreTableToPointInTime, with the conversions of their types.
//!
//! The table settings a restore can override (on-demand throughput, encryption, vector indexes) and the
//! ones a backup describes (streams, encryption) are converted here too; imports use them as well.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::primitives::DateTime;
use aws_sdk_dynamodb::types as aws;

use crate::convert::{FromAws, ToAws, Unrepresentable, enums, from};
use crate::dynamodb as g;
use crate::retry;

/// Seconds since the Unix epoch, as the SDK's timestamp.
pub(crate) fn date_time(seconds: Option<f64>) -> Option<DateTime> {
    seconds.map(DateTime::from_secs_f64)
}

/// CreateBackup.
pub async fn create_backup(
    client: &Client,
    input: g::CreateBackupInput,
) -> Result<g::CreateBackupOutput, g::CreateBackupError> {
    let output = client
        .create_backup()
        .table_name(input.table_name)
        .backup_name(input.backup_name)
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::CreateBackupOutput {
        backup_details: from(output.backup_details)?,
    })
}

/// DescribeBackup.
pub async fn describe_backup(
    client: &Client,
    input: g::DescribeBackupInput,
) -> Result<g::DescribeBackupOutput, g::DescribeBackupError> {
    let output = client
        .describe_backup()
        .backup_arn(input.backup_arn)
        .send()
        .await?;
    Ok(g::DescribeBackupOutput {
        backup_description: from(output.backup_description)?,
    })
}

/// ListBackups.
pub async fn list_backups(
    client: &Client,
    input: g::ListBackupsInput,
) -> Result<g::ListBackupsOutput, g::ListBackupsError> {
    let output = client
        .list_backups()
        .set_table_name(input.table_name)
        .set_limit(input.limit)
        .set_time_range_lower_bound(date_time(input.time_range_lower_bound))
        .set_time_range_upper_bound(date_time(input.time_range_upper_bound))
        .set_exclusive_start_backup_arn(input.exclusive_start_backup_arn)
        .set_backup_type(input.backup_type.to_aws()?)
        .send()
        .await?;
    Ok(g::ListBackupsOutput {
        backup_summaries: from(output.backup_summaries.unwrap_or_default())?,
        last_evaluated_backup_arn: output.last_evaluated_backup_arn,
    })
}

/// DeleteBackup.
pub async fn delete_backup(
    client: &Client,
    input: g::DeleteBackupInput,
) -> Result<g::DeleteBackupOutput, g::DeleteBackupError> {
    let output = client
        .delete_backup()
        .backup_arn(input.backup_arn)
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::DeleteBackupOutput {
        backup_description: from(output.backup_description)?,
    })
}

/// RestoreTableFromBackup.
pub async fn restore_table_from_backup(
    client: &Client,
    input: g::RestoreTableFromBackupInput,
) -> Result<g::RestoreTableFromBackupOutput, g::RestoreTableFromBackupError> {
    let output = client
        .restore_table_from_backup()
        .target_table_name(input.target_table_name)
        .backup_arn(input.backup_arn)
        .set_billing_mode_override(input.billing_mode_override.to_aws()?)
        .set_global_secondary_index_override(input.global_secondary_index_override.to_aws()?)
        .set_local_secondary_index_override(input.local_secondary_index_override.to_aws()?)
        .set_provisioned_throughput_override(input.provisioned_throughput_override.to_aws()?)
        .set_on_demand_throughput_override(input.on_demand_throughput_override.to_aws()?)
        .set_sse_specification_override(input.sse_specification_override.to_aws()?)
        .set_vector_index_override(input.vector_index_override.to_aws()?)
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::RestoreTableFromBackupOutput {
        table_description: from(output.table_description)?,
    })
}

/// DescribeContinuousBackups.
pub async fn describe_continuous_backups(
    client: &Client,
    input: g::DescribeContinuousBackupsInput,
) -> Result<g::DescribeContinuousBackupsOutput, g::DescribeContinuousBackupsError> {
    let output = client
        .describe_continuous_backups()
        .table_name(input.table_name)
        .send()
        .await?;
    Ok(g::DescribeContinuousBackupsOutput {
        continuous_backups_description: from(output.continuous_backups_description)?,
    })
}

/// UpdateContinuousBackups.
pub async fn update_continuous_backups(
    client: &Client,
    input: g::UpdateContinuousBackupsInput,
) -> Result<g::UpdateContinuousBackupsOutput, g::UpdateContinuousBackupsError> {
    let output = client
        .update_continuous_backups()
        .table_name(input.table_name)
        .point_in_time_recovery_specification(input.point_in_time_recovery_specification.to_aws()?)
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::UpdateContinuousBackupsOutput {
        continuous_backups_description: from(output.continuous_backups_description)?,
    })
}

/// RestoreTableToPointInTime.
pub async fn restore_table_to_point_in_time(
    client: &Client,
    input: g::RestoreTableToPointInTimeInput,
) -> Result<g::RestoreTableToPointInTimeOutput, g::RestoreTableToPointInTimeError> {
    let output = client
        .restore_table_to_point_in_time()
        .set_source_table_arn(input.source_table_arn)
        .set_source_table_name(input.source_table_name)
        .target_table_name(input.target_table_name)
        .set_use_latest_restorable_time(input.use_latest_restorable_time)
        .set_restore_date_time(date_time(input.restore_date_time))
        .set_billing_mode_override(input.billing_mode_override.to_aws()?)
        .set_global_secondary_index_override(input.global_secondary_index_override.to_aws()?)
        .set_local_secondary_index_override(input.local_secondary_index_override.to_aws()?)
        .set_provisioned_throughput_override(input.provisioned_throughput_override.to_aws()?)
        .set_on_demand_throughput_override(input.on_demand_throughput_override.to_aws()?)
        .set_sse_specification_override(input.sse_specification_override.to_aws()?)
        .set_vector_index_override(input.vector_index_override.to_aws()?)
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::RestoreTableToPointInTimeOutput {
        table_description: from(output.table_description)?,
    })
}

// --- Conversions --------------------------------------------------------------------------------------

enums! {
    SseType { Aes256, Kms }
    SseStatus { Enabling, Enabled, Disabling, Disabled, Updating }
    StreamViewType { NewImage, OldImage, NewAndOldImages, KeysOnly }
    VectorDistanceFunction { Cosine, Euclidean, DotProduct }
    SearchSchemaElementType { Hash, InlineFilter }
    BackupStatus { Creating, Deleted, Available }
    BackupType { User, System, AwsBackup }
    BackupTypeFilter { User, System, AwsBackup, All }
    ContinuousBackupsStatus { Enabled, Disabled }
    PointInTimeRecoveryStatus { Enabled, Disabled }
}

impl FromAws<aws::ProvisionedThroughput> for g::ProvisionedThroughput {
    fn from_aws(value: aws::ProvisionedThroughput) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_capacity_units: value.read_capacity_units,
            write_capacity_units: value.write_capacity_units,
        })
    }
}

impl ToAws for g::OnDemandThroughput {
    type Aws = aws::OnDemandThroughput;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::OnDemandThroughput::builder()
            .set_max_read_request_units(self.max_read_request_units)
            .set_max_write_request_units(self.max_write_request_units)
            .build())
    }
}

impl FromAws<aws::OnDemandThroughput> for g::OnDemandThroughput {
    fn from_aws(value: aws::OnDemandThroughput) -> Result<Self, Unrepresentable> {
        Ok(Self {
            max_read_request_units: value.max_read_request_units,
            max_write_request_units: value.max_write_request_units,
        })
    }
}

impl ToAws for g::SseSpecification {
    type Aws = aws::SseSpecification;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::SseSpecification::builder()
            .set_enabled(self.enabled)
            .set_sse_type(self.sse_type.to_aws()?)
            .set_kms_master_key_id(self.kms_master_key_id)
            .build())
    }
}

impl FromAws<aws::SseSpecification> for g::SseSpecification {
    fn from_aws(value: aws::SseSpecification) -> Result<Self, Unrepresentable> {
        Ok(Self {
            enabled: value.enabled,
            sse_type: from(value.sse_type)?,
            kms_master_key_id: value.kms_master_key_id,
        })
    }
}

impl FromAws<aws::SseDescription> for g::SseDescription {
    fn from_aws(value: aws::SseDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            status: from(value.status)?,
            sse_type: from(value.sse_type)?,
            kms_master_key_arn: value.kms_master_key_arn,
            inaccessible_encryption_date_time: from(value.inaccessible_encryption_date_time)?,
        })
    }
}

impl FromAws<aws::StreamSpecification> for g::StreamSpecification {
    fn from_aws(value: aws::StreamSpecification) -> Result<Self, Unrepresentable> {
        Ok(Self {
            stream_enabled: value.stream_enabled,
            stream_view_type: from(value.stream_view_type)?,
        })
    }
}

impl ToAws for g::VectorAttributeDefinition {
    type Aws = aws::VectorAttributeDefinition;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::VectorAttributeDefinition::builder()
            .attribute_name(self.attribute_name)
            .build()
    }
}

impl FromAws<aws::VectorAttributeDefinition> for g::VectorAttributeDefinition {
    fn from_aws(value: aws::VectorAttributeDefinition) -> Result<Self, Unrepresentable> {
        Ok(Self {
            attribute_name: value.attribute_name,
        })
    }
}

impl ToAws for g::SearchSchemaElement {
    type Aws = aws::SearchSchemaElement;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::SearchSchemaElement::builder()
            .attribute_name(self.attribute_name)
            .search_schema_element_type(self.search_schema_element_type.to_aws()?)
            .build()
    }
}

impl FromAws<aws::SearchSchemaElement> for g::SearchSchemaElement {
    fn from_aws(value: aws::SearchSchemaElement) -> Result<Self, Unrepresentable> {
        Ok(Self {
            attribute_name: value.attribute_name,
            search_schema_element_type: from(value.search_schema_element_type)?,
        })
    }
}

impl ToAws for g::VectorIndex {
    type Aws = aws::VectorIndex;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::VectorIndex::builder()
            .index_name(self.index_name)
            .set_vector_attribute(self.vector_attribute.to_aws()?)
            .set_search_schema(self.search_schema.to_aws()?)
            .set_projection(self.projection.to_aws()?)
            .dimensions(self.dimensions)
            .distance_function(self.distance_function.to_aws()?)
            .build()
    }
}

impl FromAws<aws::VectorIndex> for g::VectorIndex {
    fn from_aws(value: aws::VectorIndex) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            vector_attribute: from(value.vector_attribute)?,
            search_schema: from(value.search_schema)?,
            projection: from(value.projection)?,
            dimensions: value.dimensions,
            distance_function: from(value.distance_function)?,
        })
    }
}

impl FromAws<aws::BackupDetails> for g::BackupDetails {
    fn from_aws(value: aws::BackupDetails) -> Result<Self, Unrepresentable> {
        Ok(Self {
            backup_arn: value.backup_arn,
            backup_name: value.backup_name,
            backup_size_bytes: value.backup_size_bytes,
            backup_status: from(value.backup_status)?,
            backup_type: from(value.backup_type)?,
            backup_creation_date_time: from(value.backup_creation_date_time)?,
            backup_expiry_date_time: from(value.backup_expiry_date_time)?,
        })
    }
}

impl FromAws<aws::SourceTableDetails> for g::SourceTableDetails {
    fn from_aws(value: aws::SourceTableDetails) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            table_id: value.table_id,
            table_arn: value.table_arn,
            table_size_bytes: value.table_size_bytes,
            key_schema: from(value.key_schema)?,
            table_creation_date_time: from(value.table_creation_date_time)?,
            provisioned_throughput: from(value.provisioned_throughput)?,
            on_demand_throughput: from(value.on_demand_throughput)?,
            item_count: value.item_count,
            billing_mode: from(value.billing_mode)?,
        })
    }
}

impl FromAws<aws::LocalSecondaryIndexInfo> for g::LocalSecondaryIndexInfo {
    fn from_aws(value: aws::LocalSecondaryIndexInfo) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            key_schema: from(value.key_schema)?,
            projection: from(value.projection)?,
        })
    }
}

impl FromAws<aws::GlobalSecondaryIndexInfo> for g::GlobalSecondaryIndexInfo {
    fn from_aws(value: aws::GlobalSecondaryIndexInfo) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            key_schema: from(value.key_schema)?,
            projection: from(value.projection)?,
            provisioned_throughput: from(value.provisioned_throughput)?,
            on_demand_throughput: from(value.on_demand_throughput)?,
        })
    }
}

impl FromAws<aws::VectorIndexInfo> for g::VectorIndexInfo {
    fn from_aws(value: aws::VectorIndexInfo) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            vector_attribute: from(value.vector_attribute)?,
            search_schema: from(value.search_schema)?,
            projection: from(value.projection)?,
            dimensions: value.dimensions,
            distance_function: from(value.distance_function)?,
        })
    }
}

impl FromAws<aws::SourceTableFeatureDetails> for g::SourceTableFeatureDetails {
    fn from_aws(value: aws::SourceTableFeatureDetails) -> Result<Self, Unrepresentable> {
        Ok(Self {
            local_secondary_indexes: from(value.local_secondary_indexes)?,
            global_secondary_indexes: from(value.global_secondary_indexes)?,
            stream_description: from(value.stream_description)?,
            time_to_live_description: from(value.time_to_live_description)?,
            sse_description: from(value.sse_description)?,
            vector_indexes: from(value.vector_indexes)?,
        })
    }
}

impl FromAws<aws::BackupDescription> for g::BackupDescription {
    fn from_aws(value: aws::BackupDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            backup_details: from(value.backup_details)?,
            source_table_details: from(value.source_table_details)?,
            source_table_feature_details: from(value.source_table_feature_details)?,
        })
    }
}

impl FromAws<aws::BackupSummary> for g::BackupSummary {
    fn from_aws(value: aws::BackupSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            table_id: value.table_id,
            table_arn: value.table_arn,
            backup_arn: value.backup_arn,
            backup_name: value.backup_name,
            backup_creation_date_time: from(value.backup_creation_date_time)?,
            backup_expiry_date_time: from(value.backup_expiry_date_time)?,
            backup_status: from(value.backup_status)?,
            backup_type: from(value.backup_type)?,
            backup_size_bytes: value.backup_size_bytes,
        })
    }
}

impl FromAws<aws::PointInTimeRecoveryDescription> for g::PointInTimeRecoveryDescription {
    fn from_aws(value: aws::PointInTimeRecoveryDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            point_in_time_recovery_status: from(value.point_in_time_recovery_status)?,
            recovery_period_in_days: value.recovery_period_in_days,
            earliest_restorable_date_time: from(value.earliest_restorable_date_time)?,
            latest_restorable_date_time: from(value.latest_restorable_date_time)?,
        })
    }
}

impl FromAws<aws::ContinuousBackupsDescription> for g::ContinuousBackupsDescription {
    fn from_aws(value: aws::ContinuousBackupsDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            continuous_backups_status: from(value.continuous_backups_status)?,
            point_in_time_recovery_description: from(value.point_in_time_recovery_description)?,
        })
    }
}

impl ToAws for g::PointInTimeRecoverySpecification {
    type Aws = aws::PointInTimeRecoverySpecification;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(self.point_in_time_recovery_enabled)
            .set_recovery_period_in_days(self.recovery_period_in_days)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seconds_since_the_epoch() {
        let time = date_time(Some(1_700_000_000.5)).unwrap();
        assert_eq!(time.secs(), 1_700_000_000);
        assert_eq!(time.subsec_nanos(), 500_000_000);
        assert_eq!(date_time(None), None);
        let back: f64 = from(time).unwrap();
        assert_eq!(back, 1_700_000_000.5);
    }

    #[test]
    fn restore_overrides_keep_every_setting() {
        let sse = g::SseSpecification {
            enabled: Some(true),
            sse_type: Some(g::SseType::Kms),
            kms_master_key_id: Some("alias/books".into()),
        }
        .to_aws()
        .unwrap();
        assert_eq!(sse.sse_type, Some(aws::SseType::Kms));
        assert_eq!(sse.kms_master_key_id.as_deref(), Some("alias/books"));
        let index = g::VectorIndex {
            index_name: "by-meaning".into(),
            vector_attribute: Some(g::VectorAttributeDefinition {
                attribute_name: "embedding".into(),
            }),
            search_schema: Some(vec![g::SearchSchemaElement {
                attribute_name: "author".into(),
                search_schema_element_type: g::SearchSchemaElementType::InlineFilter,
            }]),
            projection: None,
            dimensions: 384,
            distance_function: g::VectorDistanceFunction::Cosine,
        };
        let back: g::VectorIndex = from(index.clone().to_aws().unwrap()).unwrap();
        assert_eq!(back, index);
    }
}
