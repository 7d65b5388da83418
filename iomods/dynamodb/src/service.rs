//! The IOmod's methods: each converts its input to an `aws-sdk-dynamodb` request, sends it, and converts
//! the response (or AWS's error) back. Nothing is dropped on the way: every field of the manifest is passed
//! through, and an error keeps AWS's code and message.

use aws_sdk_dynamodb::Client;

use crate::convert::{ToAws, from};
use crate::dynamodb::{self as g, Dynamodb};
use crate::retry;
use crate::{backups, exports, replicas};

/// The DynamoDB IOmod: the manifest's methods, served by one AWS SDK client.
#[derive(Debug, Clone)]
pub struct DynamoDb {
    client: Client,
}

impl DynamoDb {
    /// Serves the methods with `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The SDK client the methods call.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Dynamodb for DynamoDb {
    async fn create_backup(
        &self,
        input: g::CreateBackupInput,
    ) -> Result<g::CreateBackupOutput, g::CreateBackupError> {
        backups::create_backup(&self.client, input).await
    }

    async fn describe_backup(
        &self,
        input: g::DescribeBackupInput,
    ) -> Result<g::DescribeBackupOutput, g::DescribeBackupError> {
        backups::describe_backup(&self.client, input).await
    }

    async fn list_backups(
        &self,
        input: g::ListBackupsInput,
    ) -> Result<g::ListBackupsOutput, g::ListBackupsError> {
        backups::list_backups(&self.client, input).await
    }

    async fn delete_backup(
        &self,
        input: g::DeleteBackupInput,
    ) -> Result<g::DeleteBackupOutput, g::DeleteBackupError> {
        backups::delete_backup(&self.client, input).await
    }

    async fn restore_table_from_backup(
        &self,
        input: g::RestoreTableFromBackupInput,
    ) -> Result<g::RestoreTableFromBackupOutput, g::RestoreTableFromBackupError> {
        backups::restore_table_from_backup(&self.client, input).await
    }

    async fn describe_continuous_backups(
        &self,
        input: g::DescribeContinuousBackupsInput,
    ) -> Result<g::DescribeContinuousBackupsOutput, g::DescribeContinuousBackupsError> {
        backups::describe_continuous_backups(&self.client, input).await
    }

    async fn update_continuous_backups(
        &self,
        input: g::UpdateContinuousBackupsInput,
    ) -> Result<g::UpdateContinuousBackupsOutput, g::UpdateContinuousBackupsError> {
        backups::update_continuous_backups(&self.client, input).await
    }

    async fn restore_table_to_point_in_time(
        &self,
        input: g::RestoreTableToPointInTimeInput,
    ) -> Result<g::RestoreTableToPointInTimeOutput, g::RestoreTableToPointInTimeError> {
        backups::restore_table_to_point_in_time(&self.client, input).await
    }

    async fn export_table_to_point_in_time(
        &self,
        input: g::ExportTableToPointInTimeInput,
    ) -> Result<g::ExportTableToPointInTimeOutput, g::ExportTableToPointInTimeError> {
        exports::export_table_to_point_in_time(&self.client, input).await
    }

    async fn describe_export(
        &self,
        input: g::DescribeExportInput,
    ) -> Result<g::DescribeExportOutput, g::DescribeExportError> {
        exports::describe_export(&self.client, input).await
    }

    async fn list_exports(
        &self,
        input: g::ListExportsInput,
    ) -> Result<g::ListExportsOutput, g::ListExportsError> {
        exports::list_exports(&self.client, input).await
    }

    async fn import_table(
        &self,
        input: g::ImportTableInput,
    ) -> Result<g::ImportTableOutput, g::ImportTableError> {
        exports::import_table(&self.client, input).await
    }

    async fn describe_import(
        &self,
        input: g::DescribeImportInput,
    ) -> Result<g::DescribeImportOutput, g::DescribeImportError> {
        exports::describe_import(&self.client, input).await
    }

    async fn list_imports(
        &self,
        input: g::ListImportsInput,
    ) -> Result<g::ListImportsOutput, g::ListImportsError> {
        exports::list_imports(&self.client, input).await
    }

    async fn create_global_table(
        &self,
        input: g::CreateGlobalTableInput,
    ) -> Result<g::CreateGlobalTableOutput, g::CreateGlobalTableError> {
        replicas::create_global_table(&self.client, input).await
    }

    async fn describe_global_table(
        &self,
        input: g::DescribeGlobalTableInput,
    ) -> Result<g::DescribeGlobalTableOutput, g::DescribeGlobalTableError> {
        replicas::describe_global_table(&self.client, input).await
    }

    async fn list_global_tables(
        &self,
        input: g::ListGlobalTablesInput,
    ) -> Result<g::ListGlobalTablesOutput, g::ListGlobalTablesError> {
        replicas::list_global_tables(&self.client, input).await
    }

    async fn update_global_table(
        &self,
        input: g::UpdateGlobalTableInput,
    ) -> Result<g::UpdateGlobalTableOutput, g::UpdateGlobalTableError> {
        replicas::update_global_table(&self.client, input).await
    }

    async fn describe_global_table_settings(
        &self,
        input: g::DescribeGlobalTableSettingsInput,
    ) -> Result<g::DescribeGlobalTableSettingsOutput, g::DescribeGlobalTableSettingsError> {
        replicas::describe_global_table_settings(&self.client, input).await
    }

    async fn update_global_table_settings(
        &self,
        input: g::UpdateGlobalTableSettingsInput,
    ) -> Result<g::UpdateGlobalTableSettingsOutput, g::UpdateGlobalTableSettingsError> {
        replicas::update_global_table_settings(&self.client, input).await
    }

    async fn describe_table_replica_auto_scaling(
        &self,
        input: g::DescribeTableReplicaAutoScalingInput,
    ) -> Result<g::DescribeTableReplicaAutoScalingOutput, g::DescribeTableReplicaAutoScalingError>
    {
        replicas::describe_table_replica_auto_scaling(&self.client, input).await
    }

    async fn update_table_replica_auto_scaling(
        &self,
        input: g::UpdateTableReplicaAutoScalingInput,
    ) -> Result<g::UpdateTableReplicaAutoScalingOutput, g::UpdateTableReplicaAutoScalingError> {
        replicas::update_table_replica_auto_scaling(&self.client, input).await
    }

    async fn create_table(
        &self,
        input: g::CreateTableInput,
    ) -> Result<g::CreateTableOutput, g::CreateTableError> {
        let output = self
            .client
            .create_table()
            .table_name(input.table_name)
            .set_key_schema(Some(input.key_schema.to_aws()?))
            .set_attribute_definitions(Some(input.attribute_definitions.to_aws()?))
            .set_billing_mode(input.billing_mode.to_aws()?)
            .set_provisioned_throughput(input.provisioned_throughput.to_aws()?)
            .set_global_secondary_indexes(input.global_secondary_indexes.to_aws()?)
            .set_local_secondary_indexes(input.local_secondary_indexes.to_aws()?)
            .set_deletion_protection_enabled(input.deletion_protection_enabled)
            .set_stream_specification(input.stream_specification.to_aws()?)
            .set_sse_specification(input.sse_specification.to_aws()?)
            .set_tags(input.tags.to_aws()?)
            .set_table_class(input.table_class.to_aws()?)
            .set_warm_throughput(input.warm_throughput.to_aws()?)
            .set_resource_policy(input.resource_policy)
            .set_on_demand_throughput(input.on_demand_throughput.to_aws()?)
            .set_global_table_source_arn(input.global_table_source_arn)
            .set_global_table_settings_replication_mode(
                input.global_table_settings_replication_mode.to_aws()?,
            )
            .set_vector_indexes(input.vector_indexes.to_aws()?)
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::CreateTableOutput {
            table_description: from(output.table_description)?,
        })
    }

    async fn describe_table(
        &self,
        input: g::DescribeTableInput,
    ) -> Result<g::DescribeTableOutput, g::DescribeTableError> {
        let output = self
            .client
            .describe_table()
            .table_name(input.table_name)
            .send()
            .await?;
        Ok(g::DescribeTableOutput {
            table: from(output.table)?,
        })
    }

    async fn list_tables(
        &self,
        input: g::ListTablesInput,
    ) -> Result<g::ListTablesOutput, g::ListTablesError> {
        let output = self
            .client
            .list_tables()
            .set_exclusive_start_table_name(input.exclusive_start_table_name)
            .set_limit(input.limit)
            .send()
            .await?;
        Ok(g::ListTablesOutput {
            table_names: output.table_names.unwrap_or_default(),
            last_evaluated_table_name: output.last_evaluated_table_name,
        })
    }

    async fn delete_table(
        &self,
        input: g::DeleteTableInput,
    ) -> Result<g::DeleteTableOutput, g::DeleteTableError> {
        let output = self
            .client
            .delete_table()
            .table_name(input.table_name)
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::DeleteTableOutput {
            table_description: from(output.table_description)?,
        })
    }

    async fn update_table(
        &self,
        input: g::UpdateTableInput,
    ) -> Result<g::UpdateTableOutput, g::UpdateTableError> {
        let output = self
            .client
            .update_table()
            .table_name(input.table_name)
            .set_attribute_definitions(input.attribute_definitions.to_aws()?)
            .set_billing_mode(input.billing_mode.to_aws()?)
            .set_provisioned_throughput(input.provisioned_throughput.to_aws()?)
            .set_global_secondary_index_updates(input.global_secondary_index_updates.to_aws()?)
            .set_deletion_protection_enabled(input.deletion_protection_enabled)
            .set_stream_specification(input.stream_specification.to_aws()?)
            .set_sse_specification(input.sse_specification.to_aws()?)
            .set_replica_updates(input.replica_updates.to_aws()?)
            .set_table_class(input.table_class.to_aws()?)
            .set_multi_region_consistency(input.multi_region_consistency.to_aws()?)
            .set_global_table_witness_updates(input.global_table_witness_updates.to_aws()?)
            .set_on_demand_throughput(input.on_demand_throughput.to_aws()?)
            .set_warm_throughput(input.warm_throughput.to_aws()?)
            .set_global_table_settings_replication_mode(
                input.global_table_settings_replication_mode.to_aws()?,
            )
            .set_disassociation_protection_enabled(input.disassociation_protection_enabled)
            .set_vector_index_updates(input.vector_index_updates.to_aws()?)
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::UpdateTableOutput {
            table_description: from(output.table_description)?,
        })
    }

    async fn put_item(&self, input: g::PutItemInput) -> Result<g::PutItemOutput, g::PutItemError> {
        let output = self
            .client
            .put_item()
            .table_name(input.table_name)
            .set_item(Some(input.item.to_aws()?))
            .set_condition_expression(input.condition_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(input.expression_attribute_values.to_aws()?)
            .set_return_values(input.return_values.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_return_item_collection_metrics(input.return_item_collection_metrics.to_aws()?)
            .set_return_values_on_condition_check_failure(
                input.return_values_on_condition_check_failure.to_aws()?,
            )
            .set_expected(input.expected.to_aws()?)
            .set_conditional_operator(input.conditional_operator.to_aws()?)
            .customize()
            .config_override(retry::write_policy(input.resend))
            .send()
            .await?;
        Ok(g::PutItemOutput {
            attributes: from(output.attributes)?,
            consumed_capacity: from(output.consumed_capacity)?,
            item_collection_metrics: from(output.item_collection_metrics)?,
        })
    }

    async fn get_item(&self, input: g::GetItemInput) -> Result<g::GetItemOutput, g::GetItemError> {
        let output = self
            .client
            .get_item()
            .table_name(input.table_name)
            .set_key(Some(input.key.to_aws()?))
            .set_consistent_read(input.consistent_read)
            .set_projection_expression(input.projection_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_attributes_to_get(input.attributes_to_get)
            .send()
            .await?;
        Ok(g::GetItemOutput {
            item: from(output.item)?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn update_item(
        &self,
        input: g::UpdateItemInput,
    ) -> Result<g::UpdateItemOutput, g::UpdateItemError> {
        let output = self
            .client
            .update_item()
            .table_name(input.table_name)
            .set_key(Some(input.key.to_aws()?))
            .set_update_expression(input.update_expression)
            .set_condition_expression(input.condition_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(input.expression_attribute_values.to_aws()?)
            .set_return_values(input.return_values.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_return_item_collection_metrics(input.return_item_collection_metrics.to_aws()?)
            .set_return_values_on_condition_check_failure(
                input.return_values_on_condition_check_failure.to_aws()?,
            )
            .set_attribute_updates(input.attribute_updates.to_aws()?)
            .set_expected(input.expected.to_aws()?)
            .set_conditional_operator(input.conditional_operator.to_aws()?)
            .customize()
            .config_override(retry::write_policy(input.resend))
            .send()
            .await?;
        Ok(g::UpdateItemOutput {
            attributes: from(output.attributes)?,
            consumed_capacity: from(output.consumed_capacity)?,
            item_collection_metrics: from(output.item_collection_metrics)?,
        })
    }

    async fn delete_item(
        &self,
        input: g::DeleteItemInput,
    ) -> Result<g::DeleteItemOutput, g::DeleteItemError> {
        let output = self
            .client
            .delete_item()
            .table_name(input.table_name)
            .set_key(Some(input.key.to_aws()?))
            .set_condition_expression(input.condition_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(input.expression_attribute_values.to_aws()?)
            .set_return_values(input.return_values.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_return_item_collection_metrics(input.return_item_collection_metrics.to_aws()?)
            .set_return_values_on_condition_check_failure(
                input.return_values_on_condition_check_failure.to_aws()?,
            )
            .set_expected(input.expected.to_aws()?)
            .set_conditional_operator(input.conditional_operator.to_aws()?)
            .customize()
            .config_override(retry::write_policy(input.resend))
            .send()
            .await?;
        Ok(g::DeleteItemOutput {
            attributes: from(output.attributes)?,
            consumed_capacity: from(output.consumed_capacity)?,
            item_collection_metrics: from(output.item_collection_metrics)?,
        })
    }

    async fn query(&self, input: g::QueryInput) -> Result<g::QueryOutput, g::QueryError> {
        let output = self
            .client
            .query()
            .table_name(input.table_name)
            .set_index_name(input.index_name)
            .set_key_condition_expression(input.key_condition_expression)
            .set_filter_expression(input.filter_expression)
            .set_projection_expression(input.projection_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(input.expression_attribute_values.to_aws()?)
            .set_select(input.select.to_aws()?)
            .set_limit(input.limit)
            .set_consistent_read(input.consistent_read)
            .set_scan_index_forward(input.scan_index_forward)
            .set_exclusive_start_key(input.exclusive_start_key.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_attributes_to_get(input.attributes_to_get)
            .set_key_conditions(input.key_conditions.to_aws()?)
            .set_query_filter(input.query_filter.to_aws()?)
            .set_conditional_operator(input.conditional_operator.to_aws()?)
            .send()
            .await?;
        Ok(g::QueryOutput {
            items: from(output.items.unwrap_or_default())?,
            count: output.count,
            scanned_count: output.scanned_count,
            last_evaluated_key: from(output.last_evaluated_key)?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn scan(&self, input: g::ScanInput) -> Result<g::ScanOutput, g::ScanError> {
        let output = self
            .client
            .scan()
            .table_name(input.table_name)
            .set_index_name(input.index_name)
            .set_filter_expression(input.filter_expression)
            .set_projection_expression(input.projection_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(input.expression_attribute_values.to_aws()?)
            .set_select(input.select.to_aws()?)
            .set_limit(input.limit)
            .set_consistent_read(input.consistent_read)
            .set_segment(input.segment)
            .set_total_segments(input.total_segments)
            .set_exclusive_start_key(input.exclusive_start_key.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_attributes_to_get(input.attributes_to_get)
            .set_scan_filter(input.scan_filter.to_aws()?)
            .set_conditional_operator(input.conditional_operator.to_aws()?)
            .send()
            .await?;
        Ok(g::ScanOutput {
            items: from(output.items.unwrap_or_default())?,
            count: output.count,
            scanned_count: output.scanned_count,
            last_evaluated_key: from(output.last_evaluated_key)?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn batch_get_item(
        &self,
        input: g::BatchGetItemInput,
    ) -> Result<g::BatchGetItemOutput, g::BatchGetItemError> {
        let output = self
            .client
            .batch_get_item()
            .set_request_items(Some(input.request_items.to_aws()?))
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .send()
            .await?;
        Ok(g::BatchGetItemOutput {
            responses: from(output.responses.unwrap_or_default())?,
            unprocessed_keys: from(output.unprocessed_keys.unwrap_or_default())?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn batch_write_item(
        &self,
        input: g::BatchWriteItemInput,
    ) -> Result<g::BatchWriteItemOutput, g::BatchWriteItemError> {
        let output = self
            .client
            .batch_write_item()
            .set_request_items(Some(input.request_items.to_aws()?))
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_return_item_collection_metrics(input.return_item_collection_metrics.to_aws()?)
            .customize()
            .config_override(retry::write_policy(input.resend))
            .send()
            .await?;
        Ok(g::BatchWriteItemOutput {
            unprocessed_items: from(output.unprocessed_items.unwrap_or_default())?,
            item_collection_metrics: from(output.item_collection_metrics)?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn transact_get_items(
        &self,
        input: g::TransactGetItemsInput,
    ) -> Result<g::TransactGetItemsOutput, g::TransactGetItemsError> {
        let output = self
            .client
            .transact_get_items()
            .set_transact_items(Some(input.transact_items.to_aws()?))
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .send()
            .await?;
        Ok(g::TransactGetItemsOutput {
            responses: from(output.responses.unwrap_or_default())?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn transact_write_items(
        &self,
        input: g::TransactWriteItemsInput,
    ) -> Result<g::TransactWriteItemsOutput, g::TransactWriteItemsError> {
        let output = self
            .client
            .transact_write_items()
            .set_transact_items(Some(input.transact_items.to_aws()?))
            .set_client_request_token(input.client_request_token)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_return_item_collection_metrics(input.return_item_collection_metrics.to_aws()?)
            .send()
            .await?;
        Ok(g::TransactWriteItemsOutput {
            consumed_capacity: from(output.consumed_capacity)?,
            item_collection_metrics: from(output.item_collection_metrics)?,
        })
    }

    async fn update_time_to_live(
        &self,
        input: g::UpdateTimeToLiveInput,
    ) -> Result<g::UpdateTimeToLiveOutput, g::UpdateTimeToLiveError> {
        let output = self
            .client
            .update_time_to_live()
            .table_name(input.table_name)
            .time_to_live_specification(input.time_to_live_specification.to_aws()?)
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::UpdateTimeToLiveOutput {
            time_to_live_specification: from(output.time_to_live_specification)?,
        })
    }

    async fn describe_time_to_live(
        &self,
        input: g::DescribeTimeToLiveInput,
    ) -> Result<g::DescribeTimeToLiveOutput, g::DescribeTimeToLiveError> {
        let output = self
            .client
            .describe_time_to_live()
            .table_name(input.table_name)
            .send()
            .await?;
        Ok(g::DescribeTimeToLiveOutput {
            time_to_live_description: from(output.time_to_live_description)?,
        })
    }

    async fn execute_statement(
        &self,
        input: g::ExecuteStatementInput,
    ) -> Result<g::ExecuteStatementOutput, g::ExecuteStatementError> {
        let policy = partiql_policy([input.statement.as_str()], input.resend);
        let output = self
            .client
            .execute_statement()
            .statement(input.statement)
            .set_parameters(input.parameters.to_aws()?)
            .set_consistent_read(input.consistent_read)
            .set_next_token(input.next_token)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .set_limit(input.limit)
            .set_return_values_on_condition_check_failure(
                input.return_values_on_condition_check_failure.to_aws()?,
            )
            .customize()
            .config_override(policy)
            .send()
            .await?;
        Ok(g::ExecuteStatementOutput {
            items: from(output.items.unwrap_or_default())?,
            next_token: output.next_token,
            consumed_capacity: from(output.consumed_capacity)?,
            last_evaluated_key: from(output.last_evaluated_key)?,
        })
    }

    async fn batch_execute_statement(
        &self,
        input: g::BatchExecuteStatementInput,
    ) -> Result<g::BatchExecuteStatementOutput, g::BatchExecuteStatementError> {
        let policy = partiql_policy(
            input.statements.iter().map(|s| s.statement.as_str()),
            input.resend,
        );
        let output = self
            .client
            .batch_execute_statement()
            .set_statements(Some(input.statements.to_aws()?))
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .customize()
            .config_override(policy)
            .send()
            .await?;
        Ok(g::BatchExecuteStatementOutput {
            responses: from(output.responses.unwrap_or_default())?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn execute_transaction(
        &self,
        input: g::ExecuteTransactionInput,
    ) -> Result<g::ExecuteTransactionOutput, g::ExecuteTransactionError> {
        // DynamoDB deduplicates a resent transaction by its client request token, which the SDK fills in
        // when the call has none and keeps across attempts: the standard retry is safe.
        let output = self
            .client
            .execute_transaction()
            .set_transact_statements(Some(input.transact_statements.to_aws()?))
            .set_client_request_token(input.client_request_token)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .send()
            .await?;
        Ok(g::ExecuteTransactionOutput {
            responses: from(output.responses.unwrap_or_default())?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }

    async fn tag_resource(
        &self,
        input: g::TagResourceInput,
    ) -> Result<g::TagResourceOutput, g::TagResourceError> {
        // Setting the same tags again changes nothing: the standard retry is safe.
        self.client
            .tag_resource()
            .resource_arn(input.resource_arn)
            .set_tags(Some(input.tags.to_aws()?))
            .send()
            .await?;
        Ok(g::TagResourceOutput {})
    }

    async fn untag_resource(
        &self,
        input: g::UntagResourceInput,
    ) -> Result<g::UntagResourceOutput, g::UntagResourceError> {
        // Removing absent tags changes nothing: the standard retry is safe.
        self.client
            .untag_resource()
            .resource_arn(input.resource_arn)
            .set_tag_keys(Some(input.tag_keys))
            .send()
            .await?;
        Ok(g::UntagResourceOutput {})
    }

    async fn list_tags_of_resource(
        &self,
        input: g::ListTagsOfResourceInput,
    ) -> Result<g::ListTagsOfResourceOutput, g::ListTagsOfResourceError> {
        let output = self
            .client
            .list_tags_of_resource()
            .resource_arn(input.resource_arn)
            .set_next_token(input.next_token)
            .send()
            .await?;
        Ok(g::ListTagsOfResourceOutput {
            tags: from(output.tags.unwrap_or_default())?,
            next_token: output.next_token,
        })
    }

    async fn describe_limits(
        &self,
        _input: g::DescribeLimitsInput,
    ) -> Result<g::DescribeLimitsOutput, g::DescribeLimitsError> {
        let output = self.client.describe_limits().send().await?;
        Ok(g::DescribeLimitsOutput {
            account_max_read_capacity_units: output.account_max_read_capacity_units,
            account_max_write_capacity_units: output.account_max_write_capacity_units,
            table_max_read_capacity_units: output.table_max_read_capacity_units,
            table_max_write_capacity_units: output.table_max_write_capacity_units,
        })
    }

    async fn describe_endpoints(
        &self,
        _input: g::DescribeEndpointsInput,
    ) -> Result<g::DescribeEndpointsOutput, g::DescribeEndpointsError> {
        let output = self.client.describe_endpoints().send().await?;
        Ok(g::DescribeEndpointsOutput {
            endpoints: from(output.endpoints)?,
        })
    }

    async fn describe_contributor_insights(
        &self,
        input: g::DescribeContributorInsightsInput,
    ) -> Result<g::DescribeContributorInsightsOutput, g::DescribeContributorInsightsError> {
        let output = self
            .client
            .describe_contributor_insights()
            .table_name(input.table_name)
            .set_index_name(input.index_name)
            .send()
            .await?;
        Ok(g::DescribeContributorInsightsOutput {
            table_name: output.table_name,
            index_name: output.index_name,
            contributor_insights_rule_list: output.contributor_insights_rule_list,
            contributor_insights_status: from(output.contributor_insights_status)?,
            last_update_date_time: from(output.last_update_date_time)?,
            failure_exception: from(output.failure_exception)?,
            contributor_insights_mode: from(output.contributor_insights_mode)?,
        })
    }

    async fn update_contributor_insights(
        &self,
        input: g::UpdateContributorInsightsInput,
    ) -> Result<g::UpdateContributorInsightsOutput, g::UpdateContributorInsightsError> {
        // Asking for the state the table is already in changes nothing: the standard retry is safe.
        let output = self
            .client
            .update_contributor_insights()
            .table_name(input.table_name)
            .set_index_name(input.index_name)
            .contributor_insights_action(input.contributor_insights_action.to_aws()?)
            .set_contributor_insights_mode(input.contributor_insights_mode.to_aws()?)
            .send()
            .await?;
        Ok(g::UpdateContributorInsightsOutput {
            table_name: output.table_name,
            index_name: output.index_name,
            contributor_insights_status: from(output.contributor_insights_status)?,
            contributor_insights_mode: from(output.contributor_insights_mode)?,
        })
    }

    async fn list_contributor_insights(
        &self,
        input: g::ListContributorInsightsInput,
    ) -> Result<g::ListContributorInsightsOutput, g::ListContributorInsightsError> {
        let output = self
            .client
            .list_contributor_insights()
            .set_table_name(input.table_name)
            .set_next_token(input.next_token)
            .set_max_results(input.max_results)
            .send()
            .await?;
        Ok(g::ListContributorInsightsOutput {
            contributor_insights_summaries: from(
                output.contributor_insights_summaries.unwrap_or_default(),
            )?,
            next_token: output.next_token,
        })
    }

    async fn describe_kinesis_streaming_destination(
        &self,
        input: g::DescribeKinesisStreamingDestinationInput,
    ) -> Result<
        g::DescribeKinesisStreamingDestinationOutput,
        g::DescribeKinesisStreamingDestinationError,
    > {
        let output = self
            .client
            .describe_kinesis_streaming_destination()
            .table_name(input.table_name)
            .send()
            .await?;
        Ok(g::DescribeKinesisStreamingDestinationOutput {
            table_name: output.table_name,
            kinesis_data_stream_destinations: from(
                output.kinesis_data_stream_destinations.unwrap_or_default(),
            )?,
        })
    }

    async fn enable_kinesis_streaming_destination(
        &self,
        input: g::EnableKinesisStreamingDestinationInput,
    ) -> Result<g::EnableKinesisStreamingDestinationOutput, g::EnableKinesisStreamingDestinationError>
    {
        let output = self
            .client
            .enable_kinesis_streaming_destination()
            .table_name(input.table_name)
            .stream_arn(input.stream_arn)
            .set_enable_kinesis_streaming_configuration(
                input.enable_kinesis_streaming_configuration.to_aws()?,
            )
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::EnableKinesisStreamingDestinationOutput {
            table_name: output.table_name,
            stream_arn: output.stream_arn,
            destination_status: from(output.destination_status)?,
            enable_kinesis_streaming_configuration: from(
                output.enable_kinesis_streaming_configuration,
            )?,
        })
    }

    async fn disable_kinesis_streaming_destination(
        &self,
        input: g::DisableKinesisStreamingDestinationInput,
    ) -> Result<
        g::DisableKinesisStreamingDestinationOutput,
        g::DisableKinesisStreamingDestinationError,
    > {
        let output = self
            .client
            .disable_kinesis_streaming_destination()
            .table_name(input.table_name)
            .stream_arn(input.stream_arn)
            .set_enable_kinesis_streaming_configuration(
                input.enable_kinesis_streaming_configuration.to_aws()?,
            )
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::DisableKinesisStreamingDestinationOutput {
            table_name: output.table_name,
            stream_arn: output.stream_arn,
            destination_status: from(output.destination_status)?,
            enable_kinesis_streaming_configuration: from(
                output.enable_kinesis_streaming_configuration,
            )?,
        })
    }

    async fn update_kinesis_streaming_destination(
        &self,
        input: g::UpdateKinesisStreamingDestinationInput,
    ) -> Result<g::UpdateKinesisStreamingDestinationOutput, g::UpdateKinesisStreamingDestinationError>
    {
        let output = self
            .client
            .update_kinesis_streaming_destination()
            .table_name(input.table_name)
            .stream_arn(input.stream_arn)
            .set_update_kinesis_streaming_configuration(
                input.update_kinesis_streaming_configuration.to_aws()?,
            )
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::UpdateKinesisStreamingDestinationOutput {
            table_name: output.table_name,
            stream_arn: output.stream_arn,
            destination_status: from(output.destination_status)?,
            update_kinesis_streaming_configuration: from(
                output.update_kinesis_streaming_configuration,
            )?,
        })
    }

    async fn get_resource_policy(
        &self,
        input: g::GetResourcePolicyInput,
    ) -> Result<g::GetResourcePolicyOutput, g::GetResourcePolicyError> {
        let output = self
            .client
            .get_resource_policy()
            .resource_arn(input.resource_arn)
            .send()
            .await?;
        Ok(g::GetResourcePolicyOutput {
            policy: output.policy,
            revision_id: output.revision_id,
        })
    }

    async fn put_resource_policy(
        &self,
        input: g::PutResourcePolicyInput,
    ) -> Result<g::PutResourcePolicyOutput, g::PutResourcePolicyError> {
        let output = self
            .client
            .put_resource_policy()
            .resource_arn(input.resource_arn)
            .policy(input.policy)
            .set_expected_revision_id(input.expected_revision_id)
            .set_confirm_remove_self_resource_access(input.confirm_remove_self_resource_access)
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::PutResourcePolicyOutput {
            revision_id: output.revision_id,
        })
    }

    async fn delete_resource_policy(
        &self,
        input: g::DeleteResourcePolicyInput,
    ) -> Result<g::DeleteResourcePolicyOutput, g::DeleteResourcePolicyError> {
        let output = self
            .client
            .delete_resource_policy()
            .resource_arn(input.resource_arn)
            .set_expected_revision_id(input.expected_revision_id)
            .customize()
            .config_override(retry::write_policy(None))
            .send()
            .await?;
        Ok(g::DeleteResourcePolicyOutput {
            revision_id: output.revision_id,
        })
    }

    async fn search_vectors(
        &self,
        input: g::SearchVectorsInput,
    ) -> Result<g::SearchVectorsOutput, g::SearchVectorsError> {
        let output = self
            .client
            .search_vectors()
            .table_name(input.table_name)
            .index_name(input.index_name)
            .set_search_vector(Some(input.search_vector.to_aws()?))
            .top_k(input.top_k)
            .set_search_condition_expression(input.search_condition_expression)
            .set_projection_expression(input.projection_expression)
            .set_expression_attribute_names(input.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(input.expression_attribute_values.to_aws()?)
            .set_return_consumed_capacity(input.return_consumed_capacity.to_aws()?)
            .send()
            .await?;
        Ok(g::SearchVectorsOutput {
            search_results: from(output.search_results.unwrap_or_default())?,
            consumed_capacity: from(output.consumed_capacity)?,
        })
    }
}

/// The retry policy of PartiQL statements: the standard retry when they only read (`SELECT`), the write
/// policy otherwise (DynamoDB runs a batch's statements either all as reads or all as writes).
fn partiql_policy<'a>(
    statements: impl IntoIterator<Item = &'a str>,
    resend: Option<bool>,
) -> aws_sdk_dynamodb::config::Builder {
    retry::write_policy(if reads_only(statements) {
        Some(true)
    } else {
        resend
    })
}

/// Whether every statement is a `SELECT`.
fn reads_only<'a>(statements: impl IntoIterator<Item = &'a str>) -> bool {
    statements.into_iter().all(|statement| {
        statement
            .trim_start()
            .get(..6)
            .is_some_and(|word| word.eq_ignore_ascii_case("select"))
    })
}

#[cfg(test)]
mod tests {
    use super::reads_only;

    #[test]
    fn only_select_statements_are_reads() {
        assert!(reads_only([
            "SELECT * FROM t",
            "\n  select a FROM t WHERE k = ?"
        ]));
        assert!(!reads_only([
            "SELECT * FROM t",
            "INSERT INTO t VALUE {'k': 1}"
        ]));
        assert!(!reads_only(["UPDATE t SET a = 1 WHERE k = 2"]));
        assert!(!reads_only(["DELETE FROM t WHERE k = 2", "sel"]));
        assert!(!reads_only(["sélect"]));
    }
}
