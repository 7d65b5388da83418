//! Any call of the DynamoDB IOmod, as JSON: the input is one call, `{"method": "put_item", "input": {..}}`,
//! or a list of calls made in order; the output is, per call, `{"ok": <output>}`, `{"error": {"<Error>":
//! <its value>}}` (the method's typed error, as its error schema describes it), or `{"bad_request":
//! "<why>"}` when the call itself is malformed. Inputs and outputs are the shapes of the method's JSON
//! Schemas (`iomods/dynamodb/json/`).

use dynamodb_guest as db;
use serde::Serialize;
use serde_json::{Value, json};

async fn handler(input: Vec<u8>) -> Vec<u8> {
    let output = match serde_json::from_slice::<Value>(&input) {
        Ok(Value::Array(calls)) => {
            let mut outputs = Vec::with_capacity(calls.len());
            for call in calls {
                outputs.push(one(call).await);
            }
            Value::Array(outputs)
        }
        Ok(call) => one(call).await,
        Err(e) => json!({ "bad_request": format!("the input is not JSON: {e}") }),
    };
    serde_json::to_vec(&output).unwrap_or_default()
}

fn outcome<T: Serialize, E: Serialize>(result: Result<T, E>) -> Value {
    match result {
        Ok(output) => json!({ "ok": output }),
        Err(error) => json!({ "error": error }),
    }
}

macro_rules! dispatch {
    ($method:expr, $input:expr; $($name:ident: $input_type:ident),* $(,)?) => {
        match $method {
            $(stringify!($name) => match serde_json::from_value::<db::$input_type>($input) {
                Ok(input) => outcome(db::$name(input).await),
                Err(e) => json!({
                    "bad_request": format!("the input of `{}` is not valid: {e}", stringify!($name))
                }),
            },)*
            other => json!({ "bad_request": format!("unknown method `{other}`") }),
        }
    };
}

async fn one(call: Value) -> Value {
    let Value::Object(mut call) = call else {
        return json!({ "bad_request": "a call is an object: {\"method\": .., \"input\": ..}" });
    };
    let Some(Value::String(method)) = call.remove("method") else {
        return json!({ "bad_request": "a call needs \"method\", a string" });
    };
    let input = call.remove("input").unwrap_or_else(|| json!({}));
    dispatch!(method.as_str(), input;
        create_backup: CreateBackupInput,
        describe_backup: DescribeBackupInput,
        list_backups: ListBackupsInput,
        delete_backup: DeleteBackupInput,
        restore_table_from_backup: RestoreTableFromBackupInput,
        describe_continuous_backups: DescribeContinuousBackupsInput,
        update_continuous_backups: UpdateContinuousBackupsInput,
        restore_table_to_point_in_time: RestoreTableToPointInTimeInput,
        export_table_to_point_in_time: ExportTableToPointInTimeInput,
        describe_export: DescribeExportInput,
        list_exports: ListExportsInput,
        import_table: ImportTableInput,
        describe_import: DescribeImportInput,
        list_imports: ListImportsInput,
        create_global_table: CreateGlobalTableInput,
        describe_global_table: DescribeGlobalTableInput,
        list_global_tables: ListGlobalTablesInput,
        update_global_table: UpdateGlobalTableInput,
        describe_global_table_settings: DescribeGlobalTableSettingsInput,
        update_global_table_settings: UpdateGlobalTableSettingsInput,
        describe_table_replica_auto_scaling: DescribeTableReplicaAutoScalingInput,
        update_table_replica_auto_scaling: UpdateTableReplicaAutoScalingInput,
        create_table: CreateTableInput,
        describe_table: DescribeTableInput,
        list_tables: ListTablesInput,
        delete_table: DeleteTableInput,
        update_table: UpdateTableInput,
        put_item: PutItemInput,
        get_item: GetItemInput,
        update_item: UpdateItemInput,
        delete_item: DeleteItemInput,
        query: QueryInput,
        scan: ScanInput,
        batch_get_item: BatchGetItemInput,
        batch_write_item: BatchWriteItemInput,
        transact_get_items: TransactGetItemsInput,
        transact_write_items: TransactWriteItemsInput,
        update_time_to_live: UpdateTimeToLiveInput,
        describe_time_to_live: DescribeTimeToLiveInput,
        execute_statement: ExecuteStatementInput,
        batch_execute_statement: BatchExecuteStatementInput,
        execute_transaction: ExecuteTransactionInput,
        tag_resource: TagResourceInput,
        untag_resource: UntagResourceInput,
        list_tags_of_resource: ListTagsOfResourceInput,
        describe_limits: DescribeLimitsInput,
        describe_endpoints: DescribeEndpointsInput,
        describe_contributor_insights: DescribeContributorInsightsInput,
        update_contributor_insights: UpdateContributorInsightsInput,
        list_contributor_insights: ListContributorInsightsInput,
        describe_kinesis_streaming_destination: DescribeKinesisStreamingDestinationInput,
        enable_kinesis_streaming_destination: EnableKinesisStreamingDestinationInput,
        disable_kinesis_streaming_destination: DisableKinesisStreamingDestinationInput,
        update_kinesis_streaming_destination: UpdateKinesisStreamingDestinationInput,
        get_resource_policy: GetResourcePolicyInput,
        put_resource_policy: PutResourcePolicyInput,
        delete_resource_policy: DeleteResourcePolicyInput,
        search_vectors: SearchVectorsInput,
    )
}

iomod_sdk::function!(handler);
