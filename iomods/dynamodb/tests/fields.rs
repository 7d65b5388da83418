//! Every field of DynamoDB's API is in the manifest: for each method, each type and each named error of
//! `iomod.toml`, the field names (enum values, union variants) are compared with those of the
//! `aws-sdk-dynamodb` shape it mirrors, read from the `Debug` text of the SDK's builders (which lists every
//! member). A field the SDK has and the manifest lacks fails here, and so does a manifest field no SDK shape
//! has (a typo). The few differences are listed below, each with its reason.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use aws_sdk_dynamodb::operation;
use aws_sdk_dynamodb::types as aws;
use aws_sdk_dynamodb::types::error as aws_error;
use iomod_codegen::{Manifest, TypeKind};

/// Member names of an SDK builder, from its `Debug` text: `PutItemInputBuilder { table_name: None, .. }`.
/// Members starting with `_` (`_request_id`) are the SDK's own.
fn members(debug: String) -> BTreeSet<String> {
    let inner = debug
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map_or("", |(inner, _)| inner);
    inner
        .split(", ")
        .filter_map(|member| member.split_once(": "))
        .map(|(name, value)| (name.trim(), value.trim()))
        .inspect(|(name, value)| assert_eq!(*value, "None", "{debug}: `{name}` is set"))
        .map(|(name, _)| name.to_owned())
        .filter(|name| !name.starts_with('_'))
        .collect()
}

/// The members of the SDK shape `name` (a structure of `aws_sdk_dynamodb::types`).
macro_rules! sdk_structs {
    ($($name:ident),* $(,)?) => {
        fn sdk_struct(name: &str) -> Option<BTreeSet<String>> {
            match name {
                $(stringify!($name) => Some(members(format!("{:?}", aws::$name::builder()))),)*
                _ => None,
            }
        }
    };
}

sdk_structs! {
    ArchivalSummary, AttributeDefinition, AttributeValueUpdate, AutoScalingPolicyDescription,
    AutoScalingPolicyUpdate, AutoScalingSettingsDescription, AutoScalingSettingsUpdate,
    AutoScalingTargetTrackingScalingPolicyConfigurationDescription,
    AutoScalingTargetTrackingScalingPolicyConfigurationUpdate, BackupDescription, BackupDetails,
    BackupSummary, BatchStatementError, BatchStatementRequest, BatchStatementResponse,
    BillingModeSummary, CancellationReason, Capacity, Condition, ConditionCheck, ConsumedCapacity,
    ContinuousBackupsDescription, ContributorInsightsSummary, CreateGlobalSecondaryIndexAction,
    CreateGlobalTableWitnessGroupMemberAction, CreateReplicaAction,
    CreateReplicationGroupMemberAction, CreateVectorIndexAction, CsvOptions, Delete,
    DeleteGlobalSecondaryIndexAction, DeleteGlobalTableWitnessGroupMemberAction,
    DeleteReplicaAction, DeleteReplicationGroupMemberAction, DeleteRequest, DeleteVectorIndexAction,
    DisassociateReplicationGroupMemberAction, EnableKinesisStreamingConfiguration, Endpoint,
    ExpectedAttributeValue, ExportDescription, ExportSummary, FailureException, FilterSpecification,
    Get, GlobalSecondaryIndex, GlobalSecondaryIndexAutoScalingUpdate,
    GlobalSecondaryIndexDescription, GlobalSecondaryIndexInfo, GlobalSecondaryIndexUpdate,
    GlobalSecondaryIndexWarmThroughputDescription, GlobalTable, GlobalTableDescription,
    GlobalTableGlobalSecondaryIndexSettingsUpdate, GlobalTableWitnessDescription,
    GlobalTableWitnessGroupUpdate, ImportSummary, ImportTableDescription,
    IncrementalExportSpecification, InputFormatOptions, ItemCollectionMetrics, ItemResponse,
    KeySchemaElement, KeysAndAttributes, KinesisDataStreamDestination, LocalSecondaryIndex,
    LocalSecondaryIndexDescription, LocalSecondaryIndexInfo, OnDemandThroughput,
    OnDemandThroughputOverride, ParameterizedStatement, PointInTimeRecoveryDescription,
    PointInTimeRecoverySpecification, Projection, ProvisionedThroughput,
    ProvisionedThroughputDescription, ProvisionedThroughputOverride, Put, PutRequest, Replica,
    ReplicaAutoScalingDescription, ReplicaAutoScalingUpdate, ReplicaDescription,
    ReplicaGlobalSecondaryIndex, ReplicaGlobalSecondaryIndexAutoScalingDescription,
    ReplicaGlobalSecondaryIndexAutoScalingUpdate, ReplicaGlobalSecondaryIndexDescription,
    ReplicaGlobalSecondaryIndexSettingsDescription, ReplicaGlobalSecondaryIndexSettingsUpdate,
    ReplicaSettingsDescription, ReplicaSettingsUpdate, ReplicaUpdate, ReplicationGroupUpdate,
    RestoreSummary, S3BucketSource, SearchResultItem, SearchSchemaElement, SourceTableDetails,
    SourceTableFeatureDetails, SseDescription, SseSpecification, StreamSpecification,
    TableAutoScalingDescription, TableClassSummary, TableCreationParameters, TableDescription,
    TableWarmThroughputDescription, Tag, ThrottlingReason, TimeToLiveDescription,
    TimeToLiveSpecification, TransactGetItem, TransactWriteItem, Update,
    UpdateGlobalSecondaryIndexAction, UpdateKinesisStreamingConfiguration,
    UpdateReplicationGroupMemberAction, VectorAttributeDefinition, VectorCapacity, VectorIndex,
    VectorIndexDescription, VectorIndexInfo, VectorIndexUpdate, WarmThroughput, WriteRequest,
}

/// The values of the SDK enum `name`, in the manifest's spelling (`STANDARD_INFREQUENT_ACCESS` and
/// `ConditionalCheckFailed` → `standard_infrequent_access`, `conditional_check_failed`).
macro_rules! sdk_enums {
    ($($name:ident),* $(,)?) => {
        fn sdk_enum(name: &str) -> Option<BTreeSet<String>> {
            match name {
                $(stringify!($name) => Some(aws::$name::values().iter().map(|v| snake(v)).collect()),)*
                _ => None,
            }
        }
    };
}

sdk_enums! {
    ApproximateCreationDateTimePrecision, AttributeAction, BackupStatus, BackupType,
    BackupTypeFilter, BatchStatementErrorCodeEnum, BillingMode, ComparisonOperator,
    ConditionalOperator, ContinuousBackupsStatus, ContributorInsightsAction,
    ContributorInsightsMode, ContributorInsightsStatus, DestinationStatus, DisassociationMode,
    ExportFormat, ExportStatus, ExportType, ExportViewType, GlobalTableSettingsReplicationMode,
    GlobalTableStatus, ImportStatus, IndexStatus, InputCompressionType, InputFormat, KeyType,
    MultiRegionConsistency, PointInTimeRecoveryStatus, ProjectionType, ReplicaStatus,
    ReturnConsumedCapacity, ReturnItemCollectionMetrics, ReturnValue,
    ReturnValuesOnConditionCheckFailure, S3SseAlgorithm, ScalarAttributeType,
    SearchSchemaElementType, Select, SseStatus, SseType, StreamViewType, TableClass, TableStatus,
    TimeToLiveStatus, VectorDistanceFunction, WitnessStatus,
}

/// The members of an operation's input and output.
macro_rules! sdk_operations {
    ($($module:ident => $input:ident, $output:ident;)*) => {
        const SDK_OPERATIONS: &[&str] = &[$(stringify!($module)),*];

        fn sdk_operation(name: &str) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
            match name {
                $(stringify!($module) => Some((
                    members(format!("{:?}", operation::$module::$input::builder())),
                    members(format!("{:?}", operation::$module::$output::builder())),
                )),)*
                _ => None,
            }
        }
    };
}

sdk_operations! {
    batch_execute_statement => BatchExecuteStatementInput, BatchExecuteStatementOutput;
    batch_get_item => BatchGetItemInput, BatchGetItemOutput;
    batch_write_item => BatchWriteItemInput, BatchWriteItemOutput;
    create_backup => CreateBackupInput, CreateBackupOutput;
    create_global_table => CreateGlobalTableInput, CreateGlobalTableOutput;
    create_table => CreateTableInput, CreateTableOutput;
    delete_backup => DeleteBackupInput, DeleteBackupOutput;
    delete_item => DeleteItemInput, DeleteItemOutput;
    delete_resource_policy => DeleteResourcePolicyInput, DeleteResourcePolicyOutput;
    delete_table => DeleteTableInput, DeleteTableOutput;
    describe_backup => DescribeBackupInput, DescribeBackupOutput;
    describe_continuous_backups => DescribeContinuousBackupsInput, DescribeContinuousBackupsOutput;
    describe_contributor_insights =>
        DescribeContributorInsightsInput, DescribeContributorInsightsOutput;
    describe_endpoints => DescribeEndpointsInput, DescribeEndpointsOutput;
    describe_export => DescribeExportInput, DescribeExportOutput;
    describe_global_table => DescribeGlobalTableInput, DescribeGlobalTableOutput;
    describe_global_table_settings =>
        DescribeGlobalTableSettingsInput, DescribeGlobalTableSettingsOutput;
    describe_import => DescribeImportInput, DescribeImportOutput;
    describe_kinesis_streaming_destination =>
        DescribeKinesisStreamingDestinationInput, DescribeKinesisStreamingDestinationOutput;
    describe_limits => DescribeLimitsInput, DescribeLimitsOutput;
    describe_table => DescribeTableInput, DescribeTableOutput;
    describe_table_replica_auto_scaling =>
        DescribeTableReplicaAutoScalingInput, DescribeTableReplicaAutoScalingOutput;
    describe_time_to_live => DescribeTimeToLiveInput, DescribeTimeToLiveOutput;
    disable_kinesis_streaming_destination =>
        DisableKinesisStreamingDestinationInput, DisableKinesisStreamingDestinationOutput;
    enable_kinesis_streaming_destination =>
        EnableKinesisStreamingDestinationInput, EnableKinesisStreamingDestinationOutput;
    execute_statement => ExecuteStatementInput, ExecuteStatementOutput;
    execute_transaction => ExecuteTransactionInput, ExecuteTransactionOutput;
    export_table_to_point_in_time => ExportTableToPointInTimeInput, ExportTableToPointInTimeOutput;
    get_item => GetItemInput, GetItemOutput;
    get_resource_policy => GetResourcePolicyInput, GetResourcePolicyOutput;
    import_table => ImportTableInput, ImportTableOutput;
    list_backups => ListBackupsInput, ListBackupsOutput;
    list_contributor_insights => ListContributorInsightsInput, ListContributorInsightsOutput;
    list_exports => ListExportsInput, ListExportsOutput;
    list_global_tables => ListGlobalTablesInput, ListGlobalTablesOutput;
    list_imports => ListImportsInput, ListImportsOutput;
    list_tables => ListTablesInput, ListTablesOutput;
    list_tags_of_resource => ListTagsOfResourceInput, ListTagsOfResourceOutput;
    put_item => PutItemInput, PutItemOutput;
    put_resource_policy => PutResourcePolicyInput, PutResourcePolicyOutput;
    query => QueryInput, QueryOutput;
    restore_table_from_backup => RestoreTableFromBackupInput, RestoreTableFromBackupOutput;
    restore_table_to_point_in_time =>
        RestoreTableToPointInTimeInput, RestoreTableToPointInTimeOutput;
    scan => ScanInput, ScanOutput;
    search_vectors => SearchVectorsInput, SearchVectorsOutput;
    tag_resource => TagResourceInput, TagResourceOutput;
    transact_get_items => TransactGetItemsInput, TransactGetItemsOutput;
    transact_write_items => TransactWriteItemsInput, TransactWriteItemsOutput;
    untag_resource => UntagResourceInput, UntagResourceOutput;
    update_continuous_backups => UpdateContinuousBackupsInput, UpdateContinuousBackupsOutput;
    update_contributor_insights => UpdateContributorInsightsInput, UpdateContributorInsightsOutput;
    update_global_table => UpdateGlobalTableInput, UpdateGlobalTableOutput;
    update_global_table_settings => UpdateGlobalTableSettingsInput, UpdateGlobalTableSettingsOutput;
    update_item => UpdateItemInput, UpdateItemOutput;
    update_kinesis_streaming_destination =>
        UpdateKinesisStreamingDestinationInput, UpdateKinesisStreamingDestinationOutput;
    update_table => UpdateTableInput, UpdateTableOutput;
    update_table_replica_auto_scaling =>
        UpdateTableReplicaAutoScalingInput, UpdateTableReplicaAutoScalingOutput;
    update_time_to_live => UpdateTimeToLiveInput, UpdateTimeToLiveOutput;
}

/// The members of the SDK exception a named error stands for (`meta`, the SDK's code and message holder,
/// left out).
macro_rules! sdk_exceptions {
    ($($error:ident => $exception:ident),* $(,)?) => {
        fn sdk_exception(name: &str) -> Option<BTreeSet<String>> {
            let mut members = match name {
                $(stringify!($error) => members(format!("{:?}", aws_error::$exception::builder())),)*
                _ => return None,
            };
            members.remove("meta");
            Some(members)
        }
    };
}

sdk_exceptions! {
    BackupInUse => BackupInUseException,
    BackupNotFound => BackupNotFoundException,
    ConditionalCheckFailed => ConditionalCheckFailedException,
    ContinuousBackupsUnavailable => ContinuousBackupsUnavailableException,
    DuplicateItem => DuplicateItemException,
    ExportConflict => ExportConflictException,
    ExportNotFound => ExportNotFoundException,
    GlobalTableAlreadyExists => GlobalTableAlreadyExistsException,
    GlobalTableNotFound => GlobalTableNotFoundException,
    IdempotentParameterMismatch => IdempotentParameterMismatchException,
    ImportConflict => ImportConflictException,
    ImportNotFound => ImportNotFoundException,
    IndexNotFound => IndexNotFoundException,
    InternalServer => InternalServerError,
    InvalidEndpoint => InvalidEndpointException,
    InvalidExportTime => InvalidExportTimeException,
    InvalidRestoreTime => InvalidRestoreTimeException,
    ItemCollectionSizeLimitExceeded => ItemCollectionSizeLimitExceededException,
    LimitExceeded => LimitExceededException,
    PointInTimeRecoveryUnavailable => PointInTimeRecoveryUnavailableException,
    PolicyNotFound => PolicyNotFoundException,
    ProvisionedThroughputExceeded => ProvisionedThroughputExceededException,
    ReplicaAlreadyExists => ReplicaAlreadyExistsException,
    ReplicaNotFound => ReplicaNotFoundException,
    ReplicatedWriteConflict => ReplicatedWriteConflictException,
    RequestLimitExceeded => RequestLimitExceeded,
    ResourceInUse => ResourceInUseException,
    ResourceNotFound => ResourceNotFoundException,
    TableAlreadyExists => TableAlreadyExistsException,
    TableInUse => TableInUseException,
    TableNotFound => TableNotFoundException,
    Throttling => ThrottlingException,
    TransactionCanceled => TransactionCanceledException,
    TransactionConflict => TransactionConflictException,
    TransactionInProgress => TransactionInProgressException,
}

/// Manifest types that mirror SDK shapes of other names (besides the one of their own name, if any).
const MIRRORS: &[(&str, &[&str])] = &[
    // One type describes both kinds of secondary index; a local index leaves the global-only fields empty.
    (
        "IndexDescription",
        &[
            "GlobalSecondaryIndexDescription",
            "LocalSecondaryIndexDescription",
        ],
    ),
    // The `create` variants of index updates carry the index as CreateTable declares it.
    (
        "GlobalSecondaryIndex",
        &["CreateGlobalSecondaryIndexAction"],
    ),
    ("VectorIndex", &["CreateVectorIndexAction"]),
];

/// Manifest types with no SDK shape to compare with, and why.
const NO_SHAPE: &[(&str, &str)] = &[(
    "AttributeValue",
    "the SDK's AttributeValue is a Rust enum, not a structure with a builder; convert.rs matches every \
     variant, and its unit test round-trips each data type",
)];

/// Manifest errors that stand for no modeled SDK exception, and why.
const NO_EXCEPTION: &[(&str, &str)] = &[
    (
        "Validation",
        "ValidationException is not in DynamoDB's model: its code and message are all",
    ),
    (
        "OutcomeUnknown",
        "the IOmod's own: a write whose answer was lost",
    ),
    (
        "AwsError",
        "the IOmod's own: any other AWS error, with its code and message",
    ),
];

/// Fields the manifest has and DynamoDB does not: `(owner, field, why)`; owner `*` is any method or error.
const EXTRA: &[(&str, &str, &str)] = &[
    (
        "*",
        "resend",
        "the IOmod's retry choice for a write whose answer was lost; it is not sent to DynamoDB",
    ),
    (
        "*",
        "request_id",
        "an error's AWS request id comes from the answer's headers, not from the error's members",
    ),
    ("AwsError", "code", "AWS's error code, from the answer"),
    ("AwsError", "status", "the HTTP status of the answer"),
];

/// DynamoDB names the manifest spells differently: `(type, DynamoDB's name, the manifest's)`.
const RENAMED: &[(&str, &str, &str)] = &[
    // `in` is a Rust keyword.
    ("ComparisonOperator", "in", "in_list"),
    // 68 characters: a manifest name has at most 64.
    (
        "update_global_table_settings input",
        "global_table_provisioned_write_capacity_auto_scaling_settings_update",
        "global_table_provisioned_write_capacity_auto_scaling_update",
    ),
];

/// `NEW_AND_OLD_IMAGES` → `new_and_old_images`; `ConditionalCheckFailed` → `conditional_check_failed`.
fn snake(name: &str) -> String {
    if !name.contains(|c: char| c.is_ascii_lowercase()) {
        return name.to_ascii_lowercase();
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/iomod.toml");

fn parse(source: &str) -> Manifest {
    Manifest::parse(MANIFEST, source).unwrap_or_else(|e| panic!("{e}"))
}

fn manifest() -> Manifest {
    parse(&std::fs::read_to_string(MANIFEST).unwrap())
}

/// Compares the manifest's `names` of `owner` with the SDK's `shapes`: every SDK member the manifest lacks,
/// and every manifest member no shape has, is a problem.
fn compare(
    owner: &str,
    names: &BTreeSet<String>,
    shapes: &[BTreeSet<String>],
    problems: &mut Vec<String>,
) {
    let renamed = |sdk: &String| {
        RENAMED
            .iter()
            .find(|(ty, from, _)| *ty == owner && from == sdk)
            .map_or_else(|| sdk.clone(), |(_, _, to)| (*to).to_owned())
    };
    let mut all = BTreeSet::new();
    for shape in shapes {
        let shape: BTreeSet<String> = shape.iter().map(renamed).collect();
        let missing: Vec<&String> = shape.difference(names).collect();
        if !missing.is_empty() {
            problems.push(format!("{owner}: the manifest lacks {missing:?}"));
        }
        all.extend(shape);
    }
    let extra: Vec<&String> = names
        .difference(&all)
        .filter(|name| {
            !EXTRA
                .iter()
                .any(|(o, field, _)| (*o == "*" || *o == owner) && field == name)
        })
        .collect();
    if !extra.is_empty() {
        problems.push(format!("{owner}: no SDK shape has {extra:?}"));
    }
}

fn field_names(fields: &[iomod_codegen::Field]) -> BTreeSet<String> {
    fields.iter().map(|f| f.name.clone()).collect()
}

/// Operations that are no method, methods that are no operation, and the fields inputs and outputs lack
/// or have in excess.
fn method_problems(manifest: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    let methods: BTreeSet<&str> = manifest.methods.iter().map(|m| m.name.as_str()).collect();
    for operation in SDK_OPERATIONS {
        if !methods.contains(operation) {
            problems.push(format!("operation {operation} is not a method"));
        }
    }
    for method in &manifest.methods {
        let Some((input, output)) = sdk_operation(&method.name) else {
            problems.push(format!("method {} is no SDK operation", method.name));
            continue;
        };
        compare(
            &format!("{} input", method.name),
            &field_names(manifest.struct_fields(&method.input)),
            &[input],
            &mut problems,
        );
        compare(
            &format!("{} output", method.name),
            &field_names(manifest.struct_fields(&method.output)),
            &[output],
            &mut problems,
        );
    }
    problems
}

/// The fields, variants and values the manifest's types lack or have in excess, and the types that
/// mirror nothing.
fn type_problems(manifest: &Manifest) -> (Vec<String>, usize) {
    let inputs_and_outputs: BTreeSet<&str> = manifest
        .methods
        .iter()
        .flat_map(|m| [m.input.as_str(), m.output.as_str()])
        .collect();
    let mut problems = Vec::new();
    let mut compared = 0;
    for ty in &manifest.types {
        let name = ty.name.as_str();
        if inputs_and_outputs.contains(name) || NO_SHAPE.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let (names, own) = match &ty.kind {
            TypeKind::Enum { values, .. } => (
                values.iter().map(|v| v.name.clone()).collect(),
                sdk_enum(name),
            ),
            TypeKind::Struct(fields) | TypeKind::Union(fields) => {
                (field_names(fields), sdk_struct(name))
            }
        };
        let mut shapes: Vec<BTreeSet<String>> = own.into_iter().collect();
        for (_, others) in MIRRORS.iter().filter(|(n, _)| *n == name) {
            shapes.extend(others.iter().map(|other| sdk_struct(other).unwrap()));
        }
        if shapes.is_empty() {
            problems.push(format!(
                "type {name} mirrors no SDK shape: name the shape in MIRRORS, or say why in NO_SHAPE"
            ));
            continue;
        }
        compare(name, &names, &shapes, &mut problems);
        compared += 1;
    }
    (problems, compared)
}

/// The fields the manifest's named errors lack or have in excess, and the errors that stand for nothing.
fn error_problems(manifest: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    for error in &manifest.errors {
        let name = error.name.as_str();
        match sdk_exception(name) {
            Some(members) => compare(name, &field_names(&error.fields), &[members], &mut problems),
            None if NO_EXCEPTION.iter().any(|(n, _)| *n == name) => {}
            None => problems.push(format!(
                "error {name} stands for no SDK exception: add it to sdk_exceptions!, or say why in \
                 NO_EXCEPTION"
            )),
        }
    }
    problems
}

#[test]
fn every_operation_is_a_method_with_every_field() {
    let problems = method_problems(&manifest());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_type_has_every_field() {
    let (problems, compared) = type_problems(&manifest());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared > 100, "only {compared} types compared");
}

#[test]
fn every_named_error_has_every_field() {
    let problems = error_problems(&manifest());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `source` without the line starting with `line` in the section headed `section`.
fn without(source: &str, section: &str, line: &str) -> String {
    let start = source.find(section).unwrap();
    let at = start + source[start..].find(&format!("\n{line}")).unwrap() + 1;
    let end = at + source[at..].find('\n').unwrap() + 1;
    format!("{}{}", &source[..at], &source[end..])
}

#[test]
fn a_field_missing_from_the_manifest_is_found() {
    let source = std::fs::read_to_string(MANIFEST).unwrap();
    let source = without(&source, "[methods.get_item]", "input.attributes_to_get");
    let source = without(&source, "[methods.execute_statement]", "output.next_token");
    let source = without(&source, "[types.IndexDescription]", "fields.backfilling");
    let source = without(&source, "[types.ComparisonOperator]", "enum = ");
    let source = source.replace(
        "[types.ComparisonOperator]\n",
        "[types.ComparisonOperator]\nenum = [\"eq\", \"ne\", \"in_list\"]\n",
    );
    let source = without(&source, "[errors.ConditionalCheckFailed]", "fields.item");
    let manifest = parse(&source);
    let problems = method_problems(&manifest).join("\n");
    assert!(problems.contains(r#"get_item input: the manifest lacks ["attributes_to_get"]"#));
    assert!(problems.contains(r#"execute_statement output: the manifest lacks ["next_token"]"#));
    let problems = type_problems(&manifest).0.join("\n");
    assert!(problems.contains(r#"IndexDescription: the manifest lacks ["backfilling"]"#));
    assert!(
        problems.contains(r#"ComparisonOperator: the manifest lacks ["begins_with", "between""#)
    );
    let problems = error_problems(&manifest).join("\n");
    assert!(problems.contains(r#"ConditionalCheckFailed: the manifest lacks ["item"]"#));
}

#[test]
fn a_field_no_sdk_shape_has_is_found() {
    let source = std::fs::read_to_string(MANIFEST).unwrap().replace(
        "[types.Tag]\n",
        "[types.Tag]\nfields.colour = \"option<string>\"\n",
    );
    let problems = type_problems(&parse(&source)).0.join("\n");
    assert!(
        problems.contains(r#"Tag: no SDK shape has ["colour"]"#),
        "{problems}"
    );
}

#[test]
fn builder_members_are_read_from_debug_text() {
    let put = members(format!(
        "{:?}",
        operation::put_item::PutItemInput::builder()
    ));
    assert!(
        put.contains("table_name") && put.contains("expected"),
        "{put:?}"
    );
    let output = members(format!(
        "{:?}",
        operation::get_item::GetItemOutput::builder()
    ));
    assert_eq!(
        output,
        BTreeSet::from(["item".to_owned(), "consumed_capacity".to_owned()])
    );
    assert_eq!(snake("NEW_AND_OLD_IMAGES"), "new_and_old_images");
    assert_eq!(snake("ConditionalCheckFailed"), "conditional_check_failed");
}
