//! Exports to and imports from S3: ExportTableToPointInTime, DescribeExport, ListExports, ImportTable,
//! DescribeImport and ListImports, with the conversions of their types.
//!
//! An export or import runs on after its call returns: its description says how far it got. Both calls
//! carry a client token (the SDK fills one in when the call does not), so DynamoDB recognizes a resent
//! request and they keep the SDK's standard retry.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types as aws;

use crate::backups::date_time;
use crate::convert::{FromAws, ToAws, Unrepresentable, enums, from};
use crate::dynamodb as g;

/// ExportTableToPointInTime.
pub async fn export_table_to_point_in_time(
    client: &Client,
    input: g::ExportTableToPointInTimeInput,
) -> Result<g::ExportTableToPointInTimeOutput, g::ExportTableToPointInTimeError> {
    let output = client
        .export_table_to_point_in_time()
        .table_arn(input.table_arn)
        .set_export_time(date_time(input.export_time))
        .set_client_token(input.client_token)
        .s3_bucket(input.s3_bucket)
        .set_s3_bucket_owner(input.s3_bucket_owner)
        .set_s3_prefix(input.s3_prefix)
        .set_s3_sse_algorithm(input.s3_sse_algorithm.to_aws()?)
        .set_s3_sse_kms_key_id(input.s3_sse_kms_key_id)
        .set_export_format(input.export_format.to_aws()?)
        .set_export_type(input.export_type.to_aws()?)
        .set_incremental_export_specification(input.incremental_export_specification.to_aws()?)
        .set_filter_specification(input.filter_specification.to_aws()?)
        .send()
        .await?;
    Ok(g::ExportTableToPointInTimeOutput {
        export_description: from(output.export_description)?,
    })
}

/// DescribeExport.
pub async fn describe_export(
    client: &Client,
    input: g::DescribeExportInput,
) -> Result<g::DescribeExportOutput, g::DescribeExportError> {
    let output = client
        .describe_export()
        .export_arn(input.export_arn)
        .send()
        .await?;
    Ok(g::DescribeExportOutput {
        export_description: from(output.export_description)?,
    })
}

/// ListExports.
pub async fn list_exports(
    client: &Client,
    input: g::ListExportsInput,
) -> Result<g::ListExportsOutput, g::ListExportsError> {
    let output = client
        .list_exports()
        .set_table_arn(input.table_arn)
        .set_max_results(input.max_results)
        .set_next_token(input.next_token)
        .send()
        .await?;
    Ok(g::ListExportsOutput {
        export_summaries: from(output.export_summaries.unwrap_or_default())?,
        next_token: output.next_token,
    })
}

/// ImportTable.
pub async fn import_table(
    client: &Client,
    input: g::ImportTableInput,
) -> Result<g::ImportTableOutput, g::ImportTableError> {
    let output = client
        .import_table()
        .set_client_token(input.client_token)
        .s3_bucket_source(input.s3_bucket_source.to_aws()?)
        .input_format(input.input_format.to_aws()?)
        .set_input_format_options(input.input_format_options.to_aws()?)
        .set_input_compression_type(input.input_compression_type.to_aws()?)
        .table_creation_parameters(input.table_creation_parameters.to_aws()?)
        .send()
        .await?;
    Ok(g::ImportTableOutput {
        import_table_description: from(output.import_table_description)?,
    })
}

/// DescribeImport.
pub async fn describe_import(
    client: &Client,
    input: g::DescribeImportInput,
) -> Result<g::DescribeImportOutput, g::DescribeImportError> {
    let output = client
        .describe_import()
        .import_arn(input.import_arn)
        .send()
        .await?;
    Ok(g::DescribeImportOutput {
        import_table_description: from(output.import_table_description)?,
    })
}

/// ListImports.
pub async fn list_imports(
    client: &Client,
    input: g::ListImportsInput,
) -> Result<g::ListImportsOutput, g::ListImportsError> {
    let output = client
        .list_imports()
        .set_table_arn(input.table_arn)
        .set_page_size(input.page_size)
        .set_next_token(input.next_token)
        .send()
        .await?;
    Ok(g::ListImportsOutput {
        import_summary_list: from(output.import_summary_list.unwrap_or_default())?,
        next_token: output.next_token,
    })
}

// --- Conversions --------------------------------------------------------------------------------------

enums! {
    ExportStatus { InProgress, Completed, Failed }
    ExportFormat { DynamodbJson, Ion }
    ExportType { FullExport, IncrementalExport }
    ExportViewType { NewImage, NewAndOldImages }
    S3SseAlgorithm { Aes256, Kms }
    InputFormat { DynamodbJson, Ion, Csv }
    InputCompressionType { Gzip, Zstd, None }
    ImportStatus { InProgress, Completed, Cancelling, Cancelled, Failed }
}

impl ToAws for g::IncrementalExportSpecification {
    type Aws = aws::IncrementalExportSpecification;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::IncrementalExportSpecification::builder()
            .set_export_from_time(date_time(self.export_from_time))
            .set_export_to_time(date_time(self.export_to_time))
            .set_export_view_type(self.export_view_type.to_aws()?)
            .build())
    }
}

impl FromAws<aws::IncrementalExportSpecification> for g::IncrementalExportSpecification {
    fn from_aws(value: aws::IncrementalExportSpecification) -> Result<Self, Unrepresentable> {
        Ok(Self {
            export_from_time: from(value.export_from_time)?,
            export_to_time: from(value.export_to_time)?,
            export_view_type: from(value.export_view_type)?,
        })
    }
}

impl ToAws for g::FilterSpecification {
    type Aws = aws::FilterSpecification;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::FilterSpecification::builder()
            .set_filter_expression(self.filter_expression)
            .set_projection_expression(self.projection_expression)
            .set_key_condition_expression(self.key_condition_expression)
            .set_expression_attribute_names(self.expression_attribute_names.to_aws()?)
            .set_expression_attribute_values(self.expression_attribute_values.to_aws()?)
            .build())
    }
}

impl FromAws<aws::FilterSpecification> for g::FilterSpecification {
    fn from_aws(value: aws::FilterSpecification) -> Result<Self, Unrepresentable> {
        Ok(Self {
            filter_expression: value.filter_expression,
            projection_expression: value.projection_expression,
            key_condition_expression: value.key_condition_expression,
            expression_attribute_names: from(value.expression_attribute_names)?,
            expression_attribute_values: from(value.expression_attribute_values)?,
        })
    }
}

impl FromAws<aws::ExportDescription> for g::ExportDescription {
    fn from_aws(value: aws::ExportDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            export_arn: value.export_arn,
            export_status: from(value.export_status)?,
            start_time: from(value.start_time)?,
            end_time: from(value.end_time)?,
            export_manifest: value.export_manifest,
            table_arn: value.table_arn,
            table_id: value.table_id,
            export_time: from(value.export_time)?,
            client_token: value.client_token,
            s3_bucket: value.s3_bucket,
            s3_bucket_owner: value.s3_bucket_owner,
            s3_prefix: value.s3_prefix,
            s3_sse_algorithm: from(value.s3_sse_algorithm)?,
            s3_sse_kms_key_id: value.s3_sse_kms_key_id,
            failure_code: value.failure_code,
            failure_message: value.failure_message,
            export_format: from(value.export_format)?,
            billed_size_bytes: value.billed_size_bytes,
            item_count: value.item_count,
            export_type: from(value.export_type)?,
            incremental_export_specification: from(value.incremental_export_specification)?,
            filter_specification: from(value.filter_specification)?,
        })
    }
}

impl FromAws<aws::ExportSummary> for g::ExportSummary {
    fn from_aws(value: aws::ExportSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            export_arn: value.export_arn,
            export_status: from(value.export_status)?,
            export_type: from(value.export_type)?,
        })
    }
}

impl ToAws for g::S3BucketSource {
    type Aws = aws::S3BucketSource;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::S3BucketSource::builder()
            .set_s3_bucket_owner(self.s3_bucket_owner)
            .s3_bucket(self.s3_bucket)
            .set_s3_key_prefix(self.s3_key_prefix)
            .build()
    }
}

impl FromAws<aws::S3BucketSource> for g::S3BucketSource {
    fn from_aws(value: aws::S3BucketSource) -> Result<Self, Unrepresentable> {
        Ok(Self {
            s3_bucket_owner: value.s3_bucket_owner,
            s3_bucket: value.s3_bucket,
            s3_key_prefix: value.s3_key_prefix,
        })
    }
}

impl ToAws for g::CsvOptions {
    type Aws = aws::CsvOptions;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::CsvOptions::builder()
            .set_delimiter(self.delimiter)
            .set_header_list(self.header_list)
            .build())
    }
}

impl FromAws<aws::CsvOptions> for g::CsvOptions {
    fn from_aws(value: aws::CsvOptions) -> Result<Self, Unrepresentable> {
        Ok(Self {
            delimiter: value.delimiter,
            header_list: value.header_list,
        })
    }
}

impl ToAws for g::InputFormatOptions {
    type Aws = aws::InputFormatOptions;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::InputFormatOptions::builder()
            .set_csv(self.csv.to_aws()?)
            .build())
    }
}

impl FromAws<aws::InputFormatOptions> for g::InputFormatOptions {
    fn from_aws(value: aws::InputFormatOptions) -> Result<Self, Unrepresentable> {
        Ok(Self {
            csv: from(value.csv)?,
        })
    }
}

/// The global secondary indexes of an import's table, as DynamoDB describes them back.
impl FromAws<aws::GlobalSecondaryIndex> for g::GlobalSecondaryIndex {
    fn from_aws(value: aws::GlobalSecondaryIndex) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            key_schema: from(value.key_schema)?,
            projection: from::<_, Option<g::Projection>>(value.projection)?.unwrap_or_default(),
            provisioned_throughput: from(value.provisioned_throughput)?,
            on_demand_throughput: from(value.on_demand_throughput)?,
            warm_throughput: from(value.warm_throughput)?,
        })
    }
}

impl ToAws for g::TableCreationParameters {
    type Aws = aws::TableCreationParameters;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::TableCreationParameters::builder()
            .table_name(self.table_name)
            .set_attribute_definitions(Some(self.attribute_definitions.to_aws()?))
            .set_key_schema(Some(self.key_schema.to_aws()?))
            .set_billing_mode(self.billing_mode.to_aws()?)
            .set_provisioned_throughput(self.provisioned_throughput.to_aws()?)
            .set_on_demand_throughput(self.on_demand_throughput.to_aws()?)
            .set_sse_specification(self.sse_specification.to_aws()?)
            .set_global_secondary_indexes(self.global_secondary_indexes.to_aws()?)
            .set_vector_indexes(self.vector_indexes.to_aws()?)
            .build()
    }
}

impl FromAws<aws::TableCreationParameters> for g::TableCreationParameters {
    fn from_aws(value: aws::TableCreationParameters) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            attribute_definitions: from(value.attribute_definitions)?,
            key_schema: from(value.key_schema)?,
            billing_mode: from(value.billing_mode)?,
            provisioned_throughput: from(value.provisioned_throughput)?,
            on_demand_throughput: from(value.on_demand_throughput)?,
            sse_specification: from(value.sse_specification)?,
            global_secondary_indexes: from(value.global_secondary_indexes)?,
            vector_indexes: from(value.vector_indexes)?,
        })
    }
}

impl FromAws<aws::ImportTableDescription> for g::ImportTableDescription {
    fn from_aws(value: aws::ImportTableDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            import_arn: value.import_arn,
            import_status: from(value.import_status)?,
            table_arn: value.table_arn,
            table_id: value.table_id,
            client_token: value.client_token,
            s3_bucket_source: from(value.s3_bucket_source)?,
            error_count: value.error_count,
            cloud_watch_log_group_arn: value.cloud_watch_log_group_arn,
            input_format: from(value.input_format)?,
            input_format_options: from(value.input_format_options)?,
            input_compression_type: from(value.input_compression_type)?,
            table_creation_parameters: from(value.table_creation_parameters)?,
            start_time: from(value.start_time)?,
            end_time: from(value.end_time)?,
            processed_size_bytes: value.processed_size_bytes,
            processed_item_count: value.processed_item_count,
            imported_item_count: value.imported_item_count,
            failure_code: value.failure_code,
            failure_message: value.failure_message,
        })
    }
}

impl FromAws<aws::ImportSummary> for g::ImportSummary {
    fn from_aws(value: aws::ImportSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            import_arn: value.import_arn,
            import_status: from(value.import_status)?,
            table_arn: value.table_arn,
            s3_bucket_source: from(value.s3_bucket_source)?,
            cloud_watch_log_group_arn: value.cloud_watch_log_group_arn,
            input_format: from(value.input_format)?,
            start_time: from(value.start_time)?,
            end_time: from(value.end_time)?,
        })
    }
}
