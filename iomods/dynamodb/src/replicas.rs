//! Global tables (version 2017.11.29) and the auto scaling of replicas: CreateGlobalTable,
//! DescribeGlobalTable, ListGlobalTables, UpdateGlobalTable, DescribeGlobalTableSettings,
//! UpdateGlobalTableSettings, DescribeTableReplicaAutoScaling and UpdateTableReplicaAutoScaling, with the
//! conversions of their types.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types as aws;

use crate::convert::{FromAws, ToAws, Unrepresentable, enums, from};
use crate::dynamodb as g;
use crate::retry;

/// CreateGlobalTable.
pub async fn create_global_table(
    client: &Client,
    input: g::CreateGlobalTableInput,
) -> Result<g::CreateGlobalTableOutput, g::CreateGlobalTableError> {
    let output = client
        .create_global_table()
        .global_table_name(input.global_table_name)
        .set_replication_group(Some(input.replication_group.to_aws()?))
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::CreateGlobalTableOutput {
        global_table_description: from(output.global_table_description)?,
    })
}

/// DescribeGlobalTable.
pub async fn describe_global_table(
    client: &Client,
    input: g::DescribeGlobalTableInput,
) -> Result<g::DescribeGlobalTableOutput, g::DescribeGlobalTableError> {
    let output = client
        .describe_global_table()
        .global_table_name(input.global_table_name)
        .send()
        .await?;
    Ok(g::DescribeGlobalTableOutput {
        global_table_description: from(output.global_table_description)?,
    })
}

/// ListGlobalTables.
pub async fn list_global_tables(
    client: &Client,
    input: g::ListGlobalTablesInput,
) -> Result<g::ListGlobalTablesOutput, g::ListGlobalTablesError> {
    let output = client
        .list_global_tables()
        .set_exclusive_start_global_table_name(input.exclusive_start_global_table_name)
        .set_limit(input.limit)
        .set_region_name(input.region_name)
        .send()
        .await?;
    Ok(g::ListGlobalTablesOutput {
        global_tables: from(output.global_tables.unwrap_or_default())?,
        last_evaluated_global_table_name: output.last_evaluated_global_table_name,
    })
}

/// UpdateGlobalTable.
pub async fn update_global_table(
    client: &Client,
    input: g::UpdateGlobalTableInput,
) -> Result<g::UpdateGlobalTableOutput, g::UpdateGlobalTableError> {
    let output = client
        .update_global_table()
        .global_table_name(input.global_table_name)
        .set_replica_updates(Some(input.replica_updates.to_aws()?))
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::UpdateGlobalTableOutput {
        global_table_description: from(output.global_table_description)?,
    })
}

/// DescribeGlobalTableSettings.
pub async fn describe_global_table_settings(
    client: &Client,
    input: g::DescribeGlobalTableSettingsInput,
) -> Result<g::DescribeGlobalTableSettingsOutput, g::DescribeGlobalTableSettingsError> {
    let output = client
        .describe_global_table_settings()
        .global_table_name(input.global_table_name)
        .send()
        .await?;
    Ok(g::DescribeGlobalTableSettingsOutput {
        global_table_name: output.global_table_name,
        replica_settings: from(output.replica_settings)?,
    })
}

/// UpdateGlobalTableSettings.
pub async fn update_global_table_settings(
    client: &Client,
    input: g::UpdateGlobalTableSettingsInput,
) -> Result<g::UpdateGlobalTableSettingsOutput, g::UpdateGlobalTableSettingsError> {
    let output = client
        .update_global_table_settings()
        .global_table_name(input.global_table_name)
        .set_global_table_billing_mode(input.global_table_billing_mode.to_aws()?)
        .set_global_table_provisioned_write_capacity_units(
            input.global_table_provisioned_write_capacity_units,
        )
        .set_global_table_provisioned_write_capacity_auto_scaling_settings_update(
            input
                .global_table_provisioned_write_capacity_auto_scaling_update
                .to_aws()?,
        )
        .set_replica_settings_update(input.replica_settings_update.to_aws()?)
        .set_global_table_global_secondary_index_settings_update(
            input
                .global_table_global_secondary_index_settings_update
                .to_aws()?,
        )
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::UpdateGlobalTableSettingsOutput {
        global_table_name: output.global_table_name,
        replica_settings: from(output.replica_settings)?,
    })
}

/// DescribeTableReplicaAutoScaling.
pub async fn describe_table_replica_auto_scaling(
    client: &Client,
    input: g::DescribeTableReplicaAutoScalingInput,
) -> Result<g::DescribeTableReplicaAutoScalingOutput, g::DescribeTableReplicaAutoScalingError> {
    let output = client
        .describe_table_replica_auto_scaling()
        .table_name(input.table_name)
        .send()
        .await?;
    Ok(g::DescribeTableReplicaAutoScalingOutput {
        table_auto_scaling_description: from(output.table_auto_scaling_description)?,
    })
}

/// UpdateTableReplicaAutoScaling.
pub async fn update_table_replica_auto_scaling(
    client: &Client,
    input: g::UpdateTableReplicaAutoScalingInput,
) -> Result<g::UpdateTableReplicaAutoScalingOutput, g::UpdateTableReplicaAutoScalingError> {
    let output = client
        .update_table_replica_auto_scaling()
        .set_global_secondary_index_updates(input.global_secondary_index_updates.to_aws()?)
        .table_name(input.table_name)
        .set_provisioned_write_capacity_auto_scaling_update(
            input
                .provisioned_write_capacity_auto_scaling_update
                .to_aws()?,
        )
        .set_replica_updates(input.replica_updates.to_aws()?)
        .customize()
        .config_override(retry::write_policy(None))
        .send()
        .await?;
    Ok(g::UpdateTableReplicaAutoScalingOutput {
        table_auto_scaling_description: from(output.table_auto_scaling_description)?,
    })
}

// --- Conversions --------------------------------------------------------------------------------------

enums! {
    GlobalTableStatus { Creating, Active, Deleting, Updating }
    ReplicaStatus {
        Creating, CreationFailed, Updating, Deleting, Active, RegionDisabled,
        InaccessibleEncryptionCredentials, Archiving, Archived, ReplicationNotAuthorized,
    }
    GlobalTableSettingsReplicationMode { Enabled, Disabled, EnabledWithOverrides }
    TableClass { Standard, StandardInfrequentAccess }
}

impl ToAws for g::Replica {
    type Aws = aws::Replica;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::Replica::builder()
            .set_region_name(self.region_name)
            .build())
    }
}

impl FromAws<aws::Replica> for g::Replica {
    fn from_aws(value: aws::Replica) -> Result<Self, Unrepresentable> {
        Ok(Self {
            region_name: value.region_name,
        })
    }
}

impl FromAws<aws::TableClassSummary> for g::TableClassSummary {
    fn from_aws(value: aws::TableClassSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_class: from(value.table_class)?,
            last_update_date_time: from(value.last_update_date_time)?,
        })
    }
}

impl FromAws<aws::ProvisionedThroughputOverride> for g::ProvisionedThroughputOverride {
    fn from_aws(value: aws::ProvisionedThroughputOverride) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_capacity_units: value.read_capacity_units,
        })
    }
}

impl FromAws<aws::OnDemandThroughputOverride> for g::OnDemandThroughputOverride {
    fn from_aws(value: aws::OnDemandThroughputOverride) -> Result<Self, Unrepresentable> {
        Ok(Self {
            max_read_request_units: value.max_read_request_units,
        })
    }
}

impl FromAws<aws::TableWarmThroughputDescription> for g::TableWarmThroughputDescription {
    fn from_aws(value: aws::TableWarmThroughputDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_units_per_second: value.read_units_per_second,
            write_units_per_second: value.write_units_per_second,
            status: from(value.status)?,
        })
    }
}

impl FromAws<aws::GlobalSecondaryIndexWarmThroughputDescription>
    for g::GlobalSecondaryIndexWarmThroughputDescription
{
    fn from_aws(
        value: aws::GlobalSecondaryIndexWarmThroughputDescription,
    ) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_units_per_second: value.read_units_per_second,
            write_units_per_second: value.write_units_per_second,
            status: from(value.status)?,
        })
    }
}

impl FromAws<aws::ReplicaGlobalSecondaryIndexDescription>
    for g::ReplicaGlobalSecondaryIndexDescription
{
    fn from_aws(
        value: aws::ReplicaGlobalSecondaryIndexDescription,
    ) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            provisioned_throughput_override: from(value.provisioned_throughput_override)?,
            on_demand_throughput_override: from(value.on_demand_throughput_override)?,
            warm_throughput: from(value.warm_throughput)?,
        })
    }
}

impl FromAws<aws::ReplicaDescription> for g::ReplicaDescription {
    fn from_aws(value: aws::ReplicaDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            region_name: value.region_name,
            replica_status: from(value.replica_status)?,
            replica_arn: value.replica_arn,
            replica_status_description: value.replica_status_description,
            replica_status_percent_progress: value.replica_status_percent_progress,
            kms_master_key_id: value.kms_master_key_id,
            provisioned_throughput_override: from(value.provisioned_throughput_override)?,
            on_demand_throughput_override: from(value.on_demand_throughput_override)?,
            warm_throughput: from(value.warm_throughput)?,
            global_secondary_indexes: from(value.global_secondary_indexes)?,
            replica_inaccessible_date_time: from(value.replica_inaccessible_date_time)?,
            replica_table_class_summary: from(value.replica_table_class_summary)?,
            global_table_settings_replication_mode: from(
                value.global_table_settings_replication_mode,
            )?,
        })
    }
}

impl FromAws<aws::GlobalTableDescription> for g::GlobalTableDescription {
    fn from_aws(value: aws::GlobalTableDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            replication_group: from(value.replication_group)?,
            global_table_arn: value.global_table_arn,
            creation_date_time: from(value.creation_date_time)?,
            global_table_status: from(value.global_table_status)?,
            global_table_name: value.global_table_name,
        })
    }
}

impl FromAws<aws::GlobalTable> for g::GlobalTable {
    fn from_aws(value: aws::GlobalTable) -> Result<Self, Unrepresentable> {
        Ok(Self {
            global_table_name: value.global_table_name,
            replication_group: from(value.replication_group)?,
        })
    }
}

impl ToAws for g::ReplicaUpdate {
    type Aws = aws::ReplicaUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let update = aws::ReplicaUpdate::builder();
        Ok(match self {
            g::ReplicaUpdate::Create(action) => update.create(
                aws::CreateReplicaAction::builder()
                    .region_name(action.region_name)
                    .build()?,
            ),
            g::ReplicaUpdate::Delete(action) => update.delete(
                aws::DeleteReplicaAction::builder()
                    .region_name(action.region_name)
                    .build()?,
            ),
        }
        .build())
    }
}

impl FromAws<aws::AutoScalingTargetTrackingScalingPolicyConfigurationDescription>
    for g::AutoScalingTargetTrackingScalingPolicyConfigurationDescription
{
    fn from_aws(
        value: aws::AutoScalingTargetTrackingScalingPolicyConfigurationDescription,
    ) -> Result<Self, Unrepresentable> {
        Ok(Self {
            disable_scale_in: value.disable_scale_in,
            scale_in_cooldown: value.scale_in_cooldown,
            scale_out_cooldown: value.scale_out_cooldown,
            target_value: value.target_value,
        })
    }
}

impl FromAws<aws::AutoScalingPolicyDescription> for g::AutoScalingPolicyDescription {
    fn from_aws(value: aws::AutoScalingPolicyDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            policy_name: value.policy_name,
            target_tracking_scaling_policy_configuration: from(
                value.target_tracking_scaling_policy_configuration,
            )?,
        })
    }
}

impl FromAws<aws::AutoScalingSettingsDescription> for g::AutoScalingSettingsDescription {
    fn from_aws(value: aws::AutoScalingSettingsDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            minimum_units: value.minimum_units,
            maximum_units: value.maximum_units,
            auto_scaling_disabled: value.auto_scaling_disabled,
            auto_scaling_role_arn: value.auto_scaling_role_arn,
            scaling_policies: from(value.scaling_policies)?,
        })
    }
}

impl ToAws for g::AutoScalingTargetTrackingScalingPolicyConfigurationUpdate {
    type Aws = aws::AutoScalingTargetTrackingScalingPolicyConfigurationUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::AutoScalingTargetTrackingScalingPolicyConfigurationUpdate::builder()
            .set_disable_scale_in(self.disable_scale_in)
            .set_scale_in_cooldown(self.scale_in_cooldown)
            .set_scale_out_cooldown(self.scale_out_cooldown)
            .target_value(self.target_value)
            .build()
    }
}

impl ToAws for g::AutoScalingPolicyUpdate {
    type Aws = aws::AutoScalingPolicyUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::AutoScalingPolicyUpdate::builder()
            .set_policy_name(self.policy_name)
            .target_tracking_scaling_policy_configuration(
                self.target_tracking_scaling_policy_configuration.to_aws()?,
            )
            .build())
    }
}

impl ToAws for g::GlobalTableGlobalSecondaryIndexSettingsUpdate {
    type Aws = aws::GlobalTableGlobalSecondaryIndexSettingsUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::GlobalTableGlobalSecondaryIndexSettingsUpdate::builder()
            .index_name(self.index_name)
            .set_provisioned_write_capacity_units(self.provisioned_write_capacity_units)
            .set_provisioned_write_capacity_auto_scaling_settings_update(
                self.provisioned_write_capacity_auto_scaling_settings_update
                    .to_aws()?,
            )
            .build()
    }
}

impl ToAws for g::AutoScalingSettingsUpdate {
    type Aws = aws::AutoScalingSettingsUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::AutoScalingSettingsUpdate::builder()
            .set_minimum_units(self.minimum_units)
            .set_maximum_units(self.maximum_units)
            .set_auto_scaling_disabled(self.auto_scaling_disabled)
            .set_auto_scaling_role_arn(self.auto_scaling_role_arn)
            .set_scaling_policy_update(self.scaling_policy_update.to_aws()?)
            .build())
    }
}

impl FromAws<aws::ReplicaGlobalSecondaryIndexSettingsDescription>
    for g::ReplicaGlobalSecondaryIndexSettingsDescription
{
    fn from_aws(
        value: aws::ReplicaGlobalSecondaryIndexSettingsDescription,
    ) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            index_status: from(value.index_status)?,
            provisioned_read_capacity_units: value.provisioned_read_capacity_units,
            provisioned_read_capacity_auto_scaling_settings: from(
                value.provisioned_read_capacity_auto_scaling_settings,
            )?,
            provisioned_write_capacity_units: value.provisioned_write_capacity_units,
            provisioned_write_capacity_auto_scaling_settings: from(
                value.provisioned_write_capacity_auto_scaling_settings,
            )?,
        })
    }
}

impl FromAws<aws::ReplicaSettingsDescription> for g::ReplicaSettingsDescription {
    fn from_aws(value: aws::ReplicaSettingsDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            region_name: value.region_name,
            replica_status: from(value.replica_status)?,
            replica_billing_mode_summary: from(value.replica_billing_mode_summary)?,
            replica_provisioned_read_capacity_units: value.replica_provisioned_read_capacity_units,
            replica_provisioned_read_capacity_auto_scaling_settings: from(
                value.replica_provisioned_read_capacity_auto_scaling_settings,
            )?,
            replica_provisioned_write_capacity_units: value
                .replica_provisioned_write_capacity_units,
            replica_provisioned_write_capacity_auto_scaling_settings: from(
                value.replica_provisioned_write_capacity_auto_scaling_settings,
            )?,
            replica_global_secondary_index_settings: from(
                value.replica_global_secondary_index_settings,
            )?,
            replica_table_class_summary: from(value.replica_table_class_summary)?,
        })
    }
}

impl ToAws for g::ReplicaGlobalSecondaryIndexSettingsUpdate {
    type Aws = aws::ReplicaGlobalSecondaryIndexSettingsUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::ReplicaGlobalSecondaryIndexSettingsUpdate::builder()
            .index_name(self.index_name)
            .set_provisioned_read_capacity_units(self.provisioned_read_capacity_units)
            .set_provisioned_read_capacity_auto_scaling_settings_update(
                self.provisioned_read_capacity_auto_scaling_settings_update
                    .to_aws()?,
            )
            .build()
    }
}

impl ToAws for g::ReplicaSettingsUpdate {
    type Aws = aws::ReplicaSettingsUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::ReplicaSettingsUpdate::builder()
            .region_name(self.region_name)
            .set_replica_provisioned_read_capacity_units(
                self.replica_provisioned_read_capacity_units,
            )
            .set_replica_provisioned_read_capacity_auto_scaling_settings_update(
                self.replica_provisioned_read_capacity_auto_scaling_settings_update
                    .to_aws()?,
            )
            .set_replica_global_secondary_index_settings_update(
                self.replica_global_secondary_index_settings_update
                    .to_aws()?,
            )
            .set_replica_table_class(self.replica_table_class.to_aws()?)
            .build()
    }
}

impl FromAws<aws::ReplicaGlobalSecondaryIndexAutoScalingDescription>
    for g::ReplicaGlobalSecondaryIndexAutoScalingDescription
{
    fn from_aws(
        value: aws::ReplicaGlobalSecondaryIndexAutoScalingDescription,
    ) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            index_status: from(value.index_status)?,
            provisioned_read_capacity_auto_scaling_settings: from(
                value.provisioned_read_capacity_auto_scaling_settings,
            )?,
            provisioned_write_capacity_auto_scaling_settings: from(
                value.provisioned_write_capacity_auto_scaling_settings,
            )?,
        })
    }
}

impl FromAws<aws::ReplicaAutoScalingDescription> for g::ReplicaAutoScalingDescription {
    fn from_aws(value: aws::ReplicaAutoScalingDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            region_name: value.region_name,
            global_secondary_indexes: from(value.global_secondary_indexes)?,
            replica_provisioned_read_capacity_auto_scaling_settings: from(
                value.replica_provisioned_read_capacity_auto_scaling_settings,
            )?,
            replica_provisioned_write_capacity_auto_scaling_settings: from(
                value.replica_provisioned_write_capacity_auto_scaling_settings,
            )?,
            replica_status: from(value.replica_status)?,
        })
    }
}

impl FromAws<aws::TableAutoScalingDescription> for g::TableAutoScalingDescription {
    fn from_aws(value: aws::TableAutoScalingDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            table_status: from(value.table_status)?,
            replicas: from(value.replicas)?,
        })
    }
}

impl ToAws for g::GlobalSecondaryIndexAutoScalingUpdate {
    type Aws = aws::GlobalSecondaryIndexAutoScalingUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::GlobalSecondaryIndexAutoScalingUpdate::builder()
            .set_index_name(self.index_name)
            .set_provisioned_write_capacity_auto_scaling_update(
                self.provisioned_write_capacity_auto_scaling_update
                    .to_aws()?,
            )
            .build())
    }
}

impl ToAws for g::ReplicaGlobalSecondaryIndexAutoScalingUpdate {
    type Aws = aws::ReplicaGlobalSecondaryIndexAutoScalingUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::ReplicaGlobalSecondaryIndexAutoScalingUpdate::builder()
            .set_index_name(self.index_name)
            .set_provisioned_read_capacity_auto_scaling_update(
                self.provisioned_read_capacity_auto_scaling_update
                    .to_aws()?,
            )
            .build())
    }
}

impl ToAws for g::ReplicaAutoScalingUpdate {
    type Aws = aws::ReplicaAutoScalingUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::ReplicaAutoScalingUpdate::builder()
            .region_name(self.region_name)
            .set_replica_global_secondary_index_updates(
                self.replica_global_secondary_index_updates.to_aws()?,
            )
            .set_replica_provisioned_read_capacity_auto_scaling_update(
                self.replica_provisioned_read_capacity_auto_scaling_update
                    .to_aws()?,
            )
            .build()
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::DateTime;

    use super::*;

    #[test]
    fn replica_updates_become_create_or_delete_actions() {
        let updates = vec![
            g::ReplicaUpdate::Create(g::CreateReplicaAction {
                region_name: "eu-west-1".into(),
            }),
            g::ReplicaUpdate::Delete(g::DeleteReplicaAction {
                region_name: "us-west-2".into(),
            }),
        ]
        .to_aws()
        .unwrap();
        assert_eq!(updates[0].create.as_ref().unwrap().region_name, "eu-west-1");
        assert!(updates[0].delete.is_none());
        assert_eq!(updates[1].delete.as_ref().unwrap().region_name, "us-west-2");
        assert!(updates[1].create.is_none());
    }

    #[test]
    fn auto_scaling_updates_keep_every_setting() {
        let update = g::AutoScalingSettingsUpdate {
            minimum_units: Some(1),
            maximum_units: Some(10),
            auto_scaling_disabled: Some(false),
            auto_scaling_role_arn: Some("arn:aws:iam::1:role/scaling".into()),
            scaling_policy_update: Some(g::AutoScalingPolicyUpdate {
                policy_name: Some("reads".into()),
                target_tracking_scaling_policy_configuration:
                    g::AutoScalingTargetTrackingScalingPolicyConfigurationUpdate {
                        disable_scale_in: Some(true),
                        scale_in_cooldown: Some(60),
                        scale_out_cooldown: Some(30),
                        target_value: 70.5,
                    },
            }),
        }
        .to_aws()
        .unwrap();
        assert_eq!(update.minimum_units, Some(1));
        assert_eq!(update.maximum_units, Some(10));
        assert_eq!(update.auto_scaling_disabled, Some(false));
        let policy = update.scaling_policy_update.unwrap();
        assert_eq!(policy.policy_name.as_deref(), Some("reads"));
        let target = policy.target_tracking_scaling_policy_configuration.unwrap();
        assert_eq!(target.target_value, 70.5);
        assert_eq!(target.scale_in_cooldown, Some(60));
        assert_eq!(target.disable_scale_in, Some(true));

        let replica = g::ReplicaSettingsUpdate {
            region_name: "us-east-1".into(),
            replica_provisioned_read_capacity_units: Some(5),
            replica_provisioned_read_capacity_auto_scaling_settings_update: None,
            replica_global_secondary_index_settings_update: Some(vec![
                g::ReplicaGlobalSecondaryIndexSettingsUpdate {
                    index_name: "by-title".into(),
                    provisioned_read_capacity_units: Some(3),
                    provisioned_read_capacity_auto_scaling_settings_update: None,
                },
            ]),
            replica_table_class: Some(g::TableClass::StandardInfrequentAccess),
        }
        .to_aws()
        .unwrap();
        assert_eq!(
            replica.replica_table_class,
            Some(aws::TableClass::StandardInfrequentAccess)
        );
        assert_eq!(
            replica
                .replica_global_secondary_index_settings_update
                .unwrap()[0]
                .index_name,
            "by-title"
        );
    }

    #[test]
    fn global_table_descriptions_keep_their_replicas() {
        let description = aws::GlobalTableDescription::builder()
            .global_table_name("books")
            .global_table_status(aws::GlobalTableStatus::Active)
            .creation_date_time(DateTime::from_secs_f64(1_700_000_000.25))
            .replication_group(
                aws::ReplicaDescription::builder()
                    .region_name("eu-west-1")
                    .replica_status(aws::ReplicaStatus::CreationFailed)
                    .provisioned_throughput_override(
                        aws::ProvisionedThroughputOverride::builder()
                            .read_capacity_units(7)
                            .build(),
                    )
                    .replica_table_class_summary(
                        aws::TableClassSummary::builder()
                            .table_class(aws::TableClass::Standard)
                            .build(),
                    )
                    .global_secondary_indexes(
                        aws::ReplicaGlobalSecondaryIndexDescription::builder()
                            .index_name("by-title")
                            .warm_throughput(
                                aws::GlobalSecondaryIndexWarmThroughputDescription::builder()
                                    .read_units_per_second(12_000)
                                    .status(aws::IndexStatus::Active)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        let description: g::GlobalTableDescription = from(description).unwrap();
        assert_eq!(description.global_table_name.as_deref(), Some("books"));
        assert_eq!(
            description.global_table_status,
            Some(g::GlobalTableStatus::Active)
        );
        assert_eq!(description.creation_date_time, Some(1_700_000_000.25));
        let replica = &description.replication_group.unwrap()[0];
        assert_eq!(
            replica.replica_status,
            Some(g::ReplicaStatus::CreationFailed)
        );
        assert_eq!(
            replica.provisioned_throughput_override,
            Some(g::ProvisionedThroughputOverride {
                read_capacity_units: Some(7)
            })
        );
        assert_eq!(
            replica
                .replica_table_class_summary
                .as_ref()
                .unwrap()
                .table_class,
            Some(g::TableClass::Standard)
        );
        let index = &replica.global_secondary_indexes.as_ref().unwrap()[0];
        let warm = index.warm_throughput.as_ref().unwrap();
        assert_eq!(warm.read_units_per_second, Some(12_000));
        assert_eq!(warm.status, Some(g::IndexStatus::Active));
    }

    #[test]
    fn replica_auto_scaling_descriptions_keep_their_policies() {
        let settings = aws::AutoScalingSettingsDescription::builder()
            .minimum_units(1)
            .maximum_units(20)
            .scaling_policies(
                aws::AutoScalingPolicyDescription::builder()
                    .policy_name("writes")
                    .target_tracking_scaling_policy_configuration(
                        aws::AutoScalingTargetTrackingScalingPolicyConfigurationDescription::builder()
                            .target_value(65.0)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build();
        let description = aws::TableAutoScalingDescription::builder()
            .table_name("books")
            .table_status(aws::TableStatus::Active)
            .replicas(
                aws::ReplicaAutoScalingDescription::builder()
                    .region_name("us-east-1")
                    .replica_provisioned_write_capacity_auto_scaling_settings(settings)
                    .build(),
            )
            .build();
        let description: g::TableAutoScalingDescription = from(description).unwrap();
        let replica = &description.replicas.unwrap()[0];
        let settings = replica
            .replica_provisioned_write_capacity_auto_scaling_settings
            .as_ref()
            .unwrap();
        assert_eq!(settings.maximum_units, Some(20));
        let policy = &settings.scaling_policies.as_ref().unwrap()[0];
        assert_eq!(policy.policy_name.as_deref(), Some("writes"));
        assert_eq!(
            policy
                .target_tracking_scaling_policy_configuration
                .as_ref()
                .unwrap()
                .target_value,
            65.0
        );
    }
}
