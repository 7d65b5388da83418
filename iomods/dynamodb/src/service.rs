//! The IOmod's methods: each converts its input to an `aws-sdk-dynamodb` request, sends it, and converts
//! the response (or AWS's error) back. Nothing is dropped on the way: every field of the manifest is passed
//! through, and an error keeps AWS's code and message.

use aws_sdk_dynamodb::Client;

use crate::convert::{ToAws, from};
use crate::dynamodb::{self as g, Dynamodb};
use crate::retry;

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
}
