//! AWS errors → the manifest's typed errors.
//!
//! An SDK error becomes a [`Failure`]: either a service error with AWS's own code and message (plus the item
//! of a failed condition and the reasons of a cancelled transaction), or a failure to reach DynamoDB at all.
//! Each method's error type is then built from it: a code the method names keeps its identity (for example
//! `ConditionalCheckFailedException` → `ConditionalCheckFailed`), any other code becomes `AwsError` with the
//! code and message untouched, and transport failures become `Failed` with the SDK's full explanation.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation;
use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::types as aws;
use iomod_sdk::{Error, ErrorCode};

use crate::convert::{Unrepresentable, from};
use crate::dynamodb as g;

/// Why a call to DynamoDB failed.
#[derive(Debug)]
pub enum Failure {
    /// DynamoDB answered with an error.
    Service(ServiceFailure),
    /// DynamoDB could not be reached, did not answer in time, or answered something unreadable.
    Sdk(SdkFailure),
}

/// An error DynamoDB (or something in between) answered with.
#[derive(Debug, Default)]
pub struct ServiceFailure {
    /// AWS's error code, for example `ConditionalCheckFailedException`; `Http<status>` for an answer that
    /// is not an AWS error (a proxy's error page, say).
    pub code: String,
    /// AWS's message, or the text of an answer that is not an AWS error (up to [`MAX_BODY_TEXT`] bytes).
    pub message: String,
    /// The HTTP status of the answer.
    pub status: Option<u16>,
    /// The id of the AWS request (`x-amzn-RequestId`).
    pub request_id: Option<String>,
    /// The item of a failed condition, when the request asked for it.
    pub item: Option<BTreeMap<String, g::AttributeValue>>,
    /// The cancellation reasons of a cancelled transaction, one per action.
    pub cancellation_reasons: Option<Vec<g::CancellationReason>>,
    /// Why the request was throttled, when DynamoDB says so.
    pub throttling_reasons: Option<Vec<g::ThrottlingReason>>,
}

/// A call that got no usable answer.
#[derive(Debug)]
pub struct SdkFailure {
    /// What went wrong, as the IOmod protocol's error.
    pub error: Error,
    /// Whether the request may have reached DynamoDB (and been applied): false only when the connection was
    /// refused or the request could not be built.
    pub maybe_applied: bool,
}

/// How much of an answer's text a [`ServiceFailure`] keeps when it is not an AWS error.
pub const MAX_BODY_TEXT: usize = 4096;

/// The details some operation errors carry beyond their code and message.
pub trait Details {
    /// The item of a `ConditionalCheckFailedException`.
    fn take_item(&mut self) -> Option<HashMap<String, aws::AttributeValue>> {
        None
    }
    /// The reasons of a `TransactionCanceledException`.
    fn take_cancellation_reasons(&mut self) -> Option<Vec<aws::CancellationReason>> {
        None
    }
}

impl<E> From<SdkError<E, HttpResponse>> for Failure
where
    E: ProvideErrorMetadata + Details + std::error::Error + Send + Sync + 'static,
{
    fn from(error: SdkError<E, HttpResponse>) -> Self {
        let explanation = DisplayErrorContext(&error).to_string();
        let sdk = |code, message: String, maybe_applied| {
            Failure::Sdk(SdkFailure {
                error: Error::new(code, message),
                maybe_applied,
            })
        };
        match error {
            SdkError::ServiceError(context) => {
                let answer = Answer::of(context.raw());
                service_failure(context.into_err(), answer)
            }
            SdkError::TimeoutError(_) => sdk(
                ErrorCode::DeadlineExceeded,
                format!("DynamoDB did not answer in time: {explanation}"),
                true,
            ),
            SdkError::DispatchFailure(failure) => {
                let refused = failure.as_connector_error().is_some_and(connection_refused);
                sdk(
                    ErrorCode::Unavailable,
                    format!("cannot reach DynamoDB: {explanation}"),
                    !refused,
                )
            }
            SdkError::ConstructionFailure(_) => sdk(
                ErrorCode::InvalidInput,
                format!("the request cannot be sent to DynamoDB: {explanation}"),
                false,
            ),
            SdkError::ResponseError(context) => {
                let answer = Answer::of(context.raw());
                sdk(
                    ErrorCode::Internal,
                    format!(
                        "DynamoDB's answer cannot be read (HTTP {}, request id {}): {explanation}",
                        answer.status,
                        answer.request_id.as_deref().unwrap_or("none")
                    ),
                    true,
                )
            }
            _ => sdk(
                ErrorCode::Internal,
                format!("DynamoDB's answer cannot be read: {explanation}"),
                true,
            ),
        }
    }
}

/// Whether a connection failure happened before anything was sent: the connection was refused.
pub(crate) fn connection_refused<E: std::error::Error + 'static>(failure: &E) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(failure);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// What an error answer says besides its modeled error: its status, request id and body.
struct Answer {
    status: u16,
    request_id: Option<String>,
    body: Option<serde_json::Value>,
    text: String,
}

impl Answer {
    fn of(response: &HttpResponse) -> Answer {
        let bytes = response.body().bytes().unwrap_or_default();
        let mut text =
            String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY_TEXT)]).into_owned();
        if bytes.len() > MAX_BODY_TEXT {
            text.push('…');
        }
        Answer {
            status: response.status().as_u16(),
            request_id: response.request_id().map(str::to_owned),
            body: serde_json::from_slice(bytes).ok(),
            text,
        }
    }

    /// `ThrottlingReasons` of a throttling error's body (the SDK models them on a few errors only).
    fn throttling_reasons(&self) -> Option<Vec<g::ThrottlingReason>> {
        let reasons = self.body.as_ref()?.get("ThrottlingReasons")?.as_array()?;
        let text = |reason: &serde_json::Value, key| {
            reason.get(key).and_then(|v| v.as_str()).map(str::to_owned)
        };
        Some(
            reasons
                .iter()
                .map(|reason| g::ThrottlingReason {
                    reason: text(reason, "reason"),
                    resource: text(reason, "resource"),
                })
                .collect(),
        )
    }
}

fn service_failure<E: ProvideErrorMetadata + Details>(mut error: E, answer: Answer) -> Failure {
    let (code, message) = match error.code() {
        Some(code) => (
            code.rsplit('#').next().unwrap_or(code).to_owned(),
            error.message().unwrap_or_default().to_owned(),
        ),
        // Not an AWS error: a proxy's or load balancer's page, say. Its status and text are what there is.
        None => (format!("Http{}", answer.status), answer.text.clone()),
    };
    let item = from(error.take_item());
    let cancellation_reasons = from(error.take_cancellation_reasons());
    match item.and_then(|item| Ok((item, cancellation_reasons?))) {
        Ok((item, cancellation_reasons)) => Failure::Service(ServiceFailure {
            code,
            message,
            status: Some(answer.status),
            throttling_reasons: answer.throttling_reasons(),
            request_id: answer.request_id,
            item,
            cancellation_reasons,
        }),
        Err(e) => Failure::Sdk(SdkFailure {
            error: Error::new(ErrorCode::Internal, format!("{code}: {message} ({e})")),
            maybe_applied: true,
        }),
    }
}

impl Details for operation::put_item::PutItemError {
    fn take_item(&mut self) -> Option<HashMap<String, aws::AttributeValue>> {
        match self {
            Self::ConditionalCheckFailedException(e) => e.item.take(),
            _ => None,
        }
    }
}

impl Details for operation::update_item::UpdateItemError {
    fn take_item(&mut self) -> Option<HashMap<String, aws::AttributeValue>> {
        match self {
            Self::ConditionalCheckFailedException(e) => e.item.take(),
            _ => None,
        }
    }
}

impl Details for operation::delete_item::DeleteItemError {
    fn take_item(&mut self) -> Option<HashMap<String, aws::AttributeValue>> {
        match self {
            Self::ConditionalCheckFailedException(e) => e.item.take(),
            _ => None,
        }
    }
}

impl Details for operation::transact_write_items::TransactWriteItemsError {
    fn take_cancellation_reasons(&mut self) -> Option<Vec<aws::CancellationReason>> {
        match self {
            Self::TransactionCanceledException(e) => e.cancellation_reasons.take(),
            _ => None,
        }
    }
}

impl Details for operation::transact_get_items::TransactGetItemsError {
    fn take_cancellation_reasons(&mut self) -> Option<Vec<aws::CancellationReason>> {
        match self {
            Self::TransactionCanceledException(e) => e.cancellation_reasons.take(),
            _ => None,
        }
    }
}

impl Details for operation::execute_statement::ExecuteStatementError {
    fn take_item(&mut self) -> Option<HashMap<String, aws::AttributeValue>> {
        match self {
            Self::ConditionalCheckFailedException(e) => e.item.take(),
            _ => None,
        }
    }
}

impl Details for operation::execute_transaction::ExecuteTransactionError {
    fn take_cancellation_reasons(&mut self) -> Option<Vec<aws::CancellationReason>> {
        match self {
            Self::TransactionCanceledException(e) => e.cancellation_reasons.take(),
            _ => None,
        }
    }
}

macro_rules! no_details {
    ($($module:ident::$error:ident),* $(,)?) => {
        $(impl Details for operation::$module::$error {})*
    };
}

no_details!(
    create_table::CreateTableError,
    describe_table::DescribeTableError,
    list_tables::ListTablesError,
    delete_table::DeleteTableError,
    update_table::UpdateTableError,
    get_item::GetItemError,
    query::QueryError,
    scan::ScanError,
    batch_get_item::BatchGetItemError,
    batch_write_item::BatchWriteItemError,
    update_time_to_live::UpdateTimeToLiveError,
    describe_time_to_live::DescribeTimeToLiveError,
    create_backup::CreateBackupError,
    describe_backup::DescribeBackupError,
    list_backups::ListBackupsError,
    delete_backup::DeleteBackupError,
    restore_table_from_backup::RestoreTableFromBackupError,
    describe_continuous_backups::DescribeContinuousBackupsError,
    update_continuous_backups::UpdateContinuousBackupsError,
    restore_table_to_point_in_time::RestoreTableToPointInTimeError,
    export_table_to_point_in_time::ExportTableToPointInTimeError,
    describe_export::DescribeExportError,
    list_exports::ListExportsError,
    import_table::ImportTableError,
    describe_import::DescribeImportError,
    list_imports::ListImportsError,
    create_global_table::CreateGlobalTableError,
    describe_global_table::DescribeGlobalTableError,
    list_global_tables::ListGlobalTablesError,
    update_global_table::UpdateGlobalTableError,
    describe_global_table_settings::DescribeGlobalTableSettingsError,
    update_global_table_settings::UpdateGlobalTableSettingsError,
    describe_table_replica_auto_scaling::DescribeTableReplicaAutoScalingError,
    update_table_replica_auto_scaling::UpdateTableReplicaAutoScalingError,
    batch_execute_statement::BatchExecuteStatementError,
    tag_resource::TagResourceError,
    untag_resource::UntagResourceError,
    list_tags_of_resource::ListTagsOfResourceError,
    describe_limits::DescribeLimitsError,
    describe_endpoints::DescribeEndpointsError,
    describe_contributor_insights::DescribeContributorInsightsError,
    update_contributor_insights::UpdateContributorInsightsError,
    list_contributor_insights::ListContributorInsightsError,
    describe_kinesis_streaming_destination::DescribeKinesisStreamingDestinationError,
    enable_kinesis_streaming_destination::EnableKinesisStreamingDestinationError,
    disable_kinesis_streaming_destination::DisableKinesisStreamingDestinationError,
    update_kinesis_streaming_destination::UpdateKinesisStreamingDestinationError,
    get_resource_policy::GetResourcePolicyError,
    put_resource_policy::PutResourcePolicyError,
    delete_resource_policy::DeleteResourcePolicyError,
    search_vectors::SearchVectorsError,
);

/// A named error of the manifest, and the AWS codes it stands for.
trait AwsException: Sized {
    /// The codes DynamoDB (or the SDK) uses for this error.
    const CODES: &'static [&'static str];
    fn from_service(failure: ServiceFailure) -> Self;
    /// The error for a write whose outcome is unknown, if this is that error.
    fn from_unknown_outcome(_failure: &mut Failure) -> Option<Self> {
        None
    }
}

macro_rules! exceptions {
    ($($name:ident => [$($code:literal),+]),* $(,)?) => {$(
        impl AwsException for g::$name {
            const CODES: &'static [&'static str] = &[$($code),+];
            fn from_service(failure: ServiceFailure) -> Self {
                Self { message: failure.message, request_id: failure.request_id }
            }
        }
    )*};
}

/// Named errors that also carry why the request was throttled.
macro_rules! throttling_exceptions {
    ($($name:ident => [$($code:literal),+]),* $(,)?) => {$(
        impl AwsException for g::$name {
            const CODES: &'static [&'static str] = &[$($code),+];
            fn from_service(failure: ServiceFailure) -> Self {
                Self {
                    message: failure.message,
                    request_id: failure.request_id,
                    throttling_reasons: failure.throttling_reasons,
                }
            }
        }
    )*};
}

exceptions! {
    // Some DynamoDB-compatible servers answer DescribeTimeToLive with the bare `ResourceNotFound`.
    ResourceNotFound => ["ResourceNotFoundException", "ResourceNotFound"],
    ResourceInUse => ["ResourceInUseException"],
    Validation => ["ValidationException"],
    LimitExceeded => ["LimitExceededException"],
    ItemCollectionSizeLimitExceeded => ["ItemCollectionSizeLimitExceededException"],
    TransactionConflict => ["TransactionConflictException"],
    TransactionInProgress => ["TransactionInProgressException"],
    IdempotentParameterMismatch => ["IdempotentParameterMismatchException"],
    InternalServer => ["InternalServerError", "InternalFailure", "ServiceUnavailable"],
    // Backups, restores, exports, imports and global tables. moto answers RestoreTableToPointInTime for a
    // missing source table with `SourceTableNotFoundException`.
    BackupNotFound => ["BackupNotFoundException"],
    BackupInUse => ["BackupInUseException"],
    ContinuousBackupsUnavailable => ["ContinuousBackupsUnavailableException"],
    TableNotFound => ["TableNotFoundException", "SourceTableNotFoundException"],
    TableAlreadyExists => ["TableAlreadyExistsException"],
    TableInUse => ["TableInUseException"],
    PointInTimeRecoveryUnavailable => ["PointInTimeRecoveryUnavailableException"],
    InvalidRestoreTime => ["InvalidRestoreTimeException"],
    ExportNotFound => ["ExportNotFoundException"],
    ExportConflict => ["ExportConflictException"],
    InvalidExportTime => ["InvalidExportTimeException"],
    ImportNotFound => ["ImportNotFoundException"],
    ImportConflict => ["ImportConflictException"],
    GlobalTableNotFound => ["GlobalTableNotFoundException"],
    GlobalTableAlreadyExists => ["GlobalTableAlreadyExistsException"],
    ReplicaNotFound => ["ReplicaNotFoundException"],
    ReplicaAlreadyExists => ["ReplicaAlreadyExistsException"],
    IndexNotFound => ["IndexNotFoundException"],
    // PartiQL and resource-based policies.
    ReplicatedWriteConflict => ["ReplicatedWriteConflictException"],
    DuplicateItem => ["DuplicateItemException"],
    PolicyNotFound => ["PolicyNotFoundException"],
}

throttling_exceptions! {
    ProvisionedThroughputExceeded => ["ProvisionedThroughputExceededException"],
    Throttling => [
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException"
    ],
    RequestLimitExceeded => ["RequestLimitExceeded"],
}

impl AwsException for g::ConditionalCheckFailed {
    const CODES: &'static [&'static str] = &["ConditionalCheckFailedException"];
    fn from_service(failure: ServiceFailure) -> Self {
        Self {
            message: failure.message,
            item: failure.item,
            request_id: failure.request_id,
        }
    }
}

impl AwsException for g::TransactionCanceled {
    const CODES: &'static [&'static str] = &["TransactionCanceledException"];
    fn from_service(failure: ServiceFailure) -> Self {
        Self {
            message: failure.message,
            cancellation_reasons: failure.cancellation_reasons.unwrap_or_default(),
            request_id: failure.request_id,
        }
    }
}

/// The writes that list `OutcomeUnknown` report with it a failure after which the write may or may not
/// have been applied: no answer, an unreadable one, or a 5xx.
impl AwsException for g::OutcomeUnknown {
    const CODES: &'static [&'static str] = &[];
    fn from_service(failure: ServiceFailure) -> Self {
        Self {
            message: failure.message,
            code: Some(failure.code),
            status: failure.status,
            request_id: failure.request_id,
        }
    }
    fn from_unknown_outcome(failure: &mut Failure) -> Option<Self> {
        match failure {
            Failure::Sdk(SdkFailure {
                error,
                maybe_applied: true,
            }) => Some(Self {
                message: format!(
                    "the write may or may not have been applied: {}",
                    error.message
                ),
                code: None,
                status: None,
                request_id: None,
            }),
            Failure::Service(service) if service.status.is_some_and(|status| status >= 500) => {
                let mut outcome = Self::from_service(std::mem::take(service));
                outcome.message = format!(
                    "the write may or may not have been applied: {}: {}",
                    outcome.code.as_deref().unwrap_or_default(),
                    outcome.message
                );
                Some(outcome)
            }
            _ => None,
        }
    }
}

/// A request the SDK refuses to build; the generated types make this unreachable in practice.
fn invalid(error: BuildError) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("invalid request: {}", DisplayErrorContext(&error)),
    )
}

fn unrepresentable(error: Unrepresentable) -> Error {
    Error::new(ErrorCode::Internal, error.to_string())
}

/// For each method's error type: which of its named errors come from AWS codes. `AwsError` and `Failed`
/// are every method's.
macro_rules! method_errors {
    ($($error:ident { $($variant:ident),* $(,)? })*) => {$(
        impl From<Failure> for g::$error {
            fn from(mut failure: Failure) -> Self {
                $(
                    if let Some(error) = <g::$variant as AwsException>::from_unknown_outcome(&mut failure) {
                        return Self::$variant(error);
                    }
                )*
                match failure {
                    Failure::Sdk(failure) => Self::Failed(failure.error),
                    Failure::Service(failure) => {
                        $(
                            if <g::$variant as AwsException>::CODES.contains(&failure.code.as_str()) {
                                return Self::$variant(g::$variant::from_service(failure));
                            }
                        )*
                        Self::AwsError(g::AwsError {
                            code: failure.code,
                            message: failure.message,
                            status: failure.status,
                            request_id: failure.request_id,
                        })
                    }
                }
            }
        }

        impl<E> From<SdkError<E, HttpResponse>> for g::$error
        where
            E: ProvideErrorMetadata + Details + std::error::Error + Send + Sync + 'static,
        {
            fn from(error: SdkError<E, HttpResponse>) -> Self {
                Failure::from(error).into()
            }
        }

        impl From<BuildError> for g::$error {
            fn from(error: BuildError) -> Self {
                Self::Failed(invalid(error))
            }
        }

        impl From<Unrepresentable> for g::$error {
            fn from(error: Unrepresentable) -> Self {
                Self::Failed(unrepresentable(error))
            }
        }
    )*};
}

method_errors! {
    CreateTableError { ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown }
    DescribeTableError { ResourceNotFound, Validation, Throttling, InternalServer }
    ListTablesError { Validation, Throttling, InternalServer }
    DeleteTableError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    UpdateTableError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    PutItemError {
        ConditionalCheckFailed, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, ReplicatedWriteConflict, TransactionConflict,
        RequestLimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    GetItemError {
        ResourceNotFound, ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling,
        InternalServer,
    }
    UpdateItemError {
        ConditionalCheckFailed, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, ReplicatedWriteConflict, TransactionConflict,
        RequestLimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    DeleteItemError {
        ConditionalCheckFailed, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, ReplicatedWriteConflict, TransactionConflict,
        RequestLimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    QueryError {
        ResourceNotFound, ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling,
        InternalServer,
    }
    ScanError {
        ResourceNotFound, ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling,
        InternalServer,
    }
    BatchGetItemError {
        ResourceNotFound, ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling,
        InternalServer,
    }
    BatchWriteItemError {
        ResourceNotFound, ProvisionedThroughputExceeded, ItemCollectionSizeLimitExceeded,
        ReplicatedWriteConflict, RequestLimitExceeded, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    TransactGetItemsError {
        ResourceNotFound, TransactionCanceled, ProvisionedThroughputExceeded, RequestLimitExceeded,
        Validation, Throttling, InternalServer,
    }
    TransactWriteItemsError {
        ResourceNotFound, TransactionCanceled, TransactionInProgress, IdempotentParameterMismatch,
        ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling, InternalServer,
    }
    UpdateTimeToLiveError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    DescribeTimeToLiveError { ResourceNotFound, Validation, Throttling, InternalServer }
    CreateBackupError {
        TableNotFound, TableInUse, BackupInUse, ContinuousBackupsUnavailable, LimitExceeded,
        Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    DescribeBackupError { BackupNotFound, Validation, Throttling, InternalServer }
    ListBackupsError { Validation, Throttling, InternalServer }
    DeleteBackupError {
        BackupNotFound, BackupInUse, LimitExceeded, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    RestoreTableFromBackupError {
        TableAlreadyExists, TableInUse, BackupNotFound, BackupInUse, LimitExceeded, Validation,
        Throttling, InternalServer, OutcomeUnknown,
    }
    DescribeContinuousBackupsError { TableNotFound, Validation, Throttling, InternalServer }
    UpdateContinuousBackupsError {
        TableNotFound, ContinuousBackupsUnavailable, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    RestoreTableToPointInTimeError {
        TableNotFound, TableAlreadyExists, TableInUse, PointInTimeRecoveryUnavailable,
        InvalidRestoreTime, LimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    ExportTableToPointInTimeError {
        TableNotFound, PointInTimeRecoveryUnavailable, InvalidExportTime, ExportConflict,
        LimitExceeded, Validation, Throttling, InternalServer,
    }
    DescribeExportError { ExportNotFound, LimitExceeded, Validation, Throttling, InternalServer }
    ListExportsError { LimitExceeded, Validation, Throttling, InternalServer }
    ImportTableError {
        ResourceInUse, ImportConflict, LimitExceeded, Validation, Throttling, InternalServer,
    }
    DescribeImportError { ImportNotFound, Validation, Throttling, InternalServer }
    ListImportsError { LimitExceeded, Validation, Throttling, InternalServer }
    CreateGlobalTableError {
        GlobalTableAlreadyExists, TableNotFound, LimitExceeded, Validation, Throttling,
        InternalServer, OutcomeUnknown,
    }
    DescribeGlobalTableError { GlobalTableNotFound, Validation, Throttling, InternalServer }
    ListGlobalTablesError { Validation, Throttling, InternalServer }
    UpdateGlobalTableError {
        GlobalTableNotFound, ReplicaAlreadyExists, ReplicaNotFound, TableNotFound, Validation,
        Throttling, InternalServer, OutcomeUnknown,
    }
    DescribeGlobalTableSettingsError { GlobalTableNotFound, Validation, Throttling, InternalServer }
    UpdateGlobalTableSettingsError {
        GlobalTableNotFound, ReplicaNotFound, IndexNotFound, ResourceInUse, LimitExceeded,
        Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    DescribeTableReplicaAutoScalingError {
        ResourceNotFound, Validation, Throttling, InternalServer,
    }
    UpdateTableReplicaAutoScalingError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    ExecuteStatementError {
        ConditionalCheckFailed, DuplicateItem, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, TransactionConflict, RequestLimitExceeded, Validation,
        Throttling, InternalServer, OutcomeUnknown,
    }
    BatchExecuteStatementError {
        RequestLimitExceeded, Validation, Throttling, InternalServer, OutcomeUnknown,
    }
    ExecuteTransactionError {
        ResourceNotFound, TransactionCanceled, TransactionInProgress, IdempotentParameterMismatch,
        ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling, InternalServer,
    }
    TagResourceError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
    }
    UntagResourceError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
    }
    ListTagsOfResourceError { ResourceNotFound, Validation, Throttling, InternalServer }
    DescribeLimitsError { Validation, Throttling, InternalServer }
    DescribeEndpointsError { Validation, Throttling, InternalServer }
    DescribeContributorInsightsError { ResourceNotFound, Validation, Throttling, InternalServer }
    UpdateContributorInsightsError { ResourceNotFound, Validation, Throttling, InternalServer }
    ListContributorInsightsError { ResourceNotFound, Validation, Throttling, InternalServer }
    DescribeKinesisStreamingDestinationError {
        ResourceNotFound, Validation, Throttling, InternalServer,
    }
    EnableKinesisStreamingDestinationError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    DisableKinesisStreamingDestinationError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    UpdateKinesisStreamingDestinationError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
        OutcomeUnknown,
    }
    GetResourcePolicyError { PolicyNotFound, ResourceNotFound, Validation, Throttling, InternalServer }
    PutResourcePolicyError {
        PolicyNotFound, ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling,
        InternalServer, OutcomeUnknown,
    }
    DeleteResourcePolicyError {
        PolicyNotFound, ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling,
        InternalServer, OutcomeUnknown,
    }
    SearchVectorsError {
        ResourceNotFound, RequestLimitExceeded, Validation, Throttling, InternalServer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str) -> Failure {
        Failure::Service(ServiceFailure {
            code: code.to_owned(),
            message: format!("{code} happened"),
            ..ServiceFailure::default()
        })
    }

    #[test]
    fn named_codes_keep_their_identity_and_others_keep_aws_code_and_message() {
        assert!(matches!(
            g::PutItemError::from(service("ConditionalCheckFailedException")),
            g::PutItemError::ConditionalCheckFailed(g::ConditionalCheckFailed { message, item: None, .. })
                if message == "ConditionalCheckFailedException happened"
        ));
        assert!(matches!(
            g::GetItemError::from(service("ThrottlingException")),
            g::GetItemError::Throttling(_)
        ));
        // A code the method does not name: AwsError, untouched.
        assert_eq!(
            g::DescribeTableError::from(service("AccessDeniedException")),
            g::DescribeTableError::AwsError(g::AwsError {
                code: "AccessDeniedException".into(),
                message: "AccessDeniedException happened".into(),
                status: None,
                request_id: None,
            })
        );
        // ConditionalCheckFailed is not one of GetItem's errors: it still reaches the guest by code.
        assert!(matches!(
            g::GetItemError::from(service("ConditionalCheckFailedException")),
            g::GetItemError::AwsError(g::AwsError { code, .. }) if code == "ConditionalCheckFailedException"
        ));
    }

    #[test]
    fn cancelled_transactions_carry_their_reasons() {
        let failure = Failure::Service(ServiceFailure {
            code: "TransactionCanceledException".into(),
            message: "Transaction cancelled".into(),
            cancellation_reasons: Some(vec![g::CancellationReason {
                code: Some("ConditionalCheckFailed".into()),
                message: Some("The conditional request failed".into()),
                item: None,
            }]),
            ..ServiceFailure::default()
        });
        let g::TransactWriteItemsError::TransactionCanceled(canceled) = failure.into() else {
            panic!("not TransactionCanceled");
        };
        assert_eq!(canceled.cancellation_reasons.len(), 1);
    }

    #[test]
    fn transport_failures_are_sdk_errors() {
        let error: g::ScanError = unavailable(true).into();
        assert!(matches!(error, g::ScanError::Failed(e) if e.code == ErrorCode::Unavailable));
    }

    fn unavailable(maybe_applied: bool) -> Failure {
        Failure::Sdk(SdkFailure {
            error: Error::new(ErrorCode::Unavailable, "the connection broke"),
            maybe_applied,
        })
    }

    #[test]
    fn a_write_without_an_answer_has_an_unknown_outcome_and_a_read_does_not() {
        let g::UpdateItemError::OutcomeUnknown(outcome) = unavailable(true).into() else {
            panic!("not OutcomeUnknown");
        };
        assert!(outcome.message.contains("may or may not have been applied"));
        assert!(outcome.message.contains("the connection broke"));
        // A refused connection: nothing was sent.
        assert!(matches!(
            g::UpdateItemError::from(unavailable(false)),
            g::UpdateItemError::Failed(e) if e.code == ErrorCode::Unavailable
        ));
        assert!(matches!(
            g::GetItemError::from(unavailable(true)),
            g::GetItemError::Failed(_)
        ));
    }

    #[test]
    fn a_5xx_answer_to_a_write_has_an_unknown_outcome_and_keeps_what_aws_said() {
        let failure = || {
            Failure::Service(ServiceFailure {
                code: "InternalServerError".into(),
                message: "Internal server error".into(),
                status: Some(500),
                request_id: Some("REQ1".into()),
                ..ServiceFailure::default()
            })
        };
        let g::PutItemError::OutcomeUnknown(outcome) = failure().into() else {
            panic!("not OutcomeUnknown");
        };
        assert_eq!(outcome.code.as_deref(), Some("InternalServerError"));
        assert_eq!(outcome.status, Some(500));
        assert_eq!(outcome.request_id.as_deref(), Some("REQ1"));
        assert!(matches!(
            g::GetItemError::from(failure()),
            g::GetItemError::InternalServer(g::InternalServer { request_id: Some(id), .. }) if id == "REQ1"
        ));
        // A 4xx is an answer: DynamoDB did not apply the write.
        let throttled = Failure::Service(ServiceFailure {
            code: "ThrottlingException".into(),
            status: Some(400),
            throttling_reasons: Some(vec![g::ThrottlingReason {
                reason: Some("TableWriteKeyRangeThroughputExceeded".into()),
                resource: Some("arn:aws:dynamodb:us-east-1:1:table/t".into()),
            }]),
            ..ServiceFailure::default()
        });
        assert!(matches!(
            g::PutItemError::from(throttled),
            g::PutItemError::Throttling(g::Throttling { throttling_reasons: Some(reasons), .. })
                if reasons.len() == 1
        ));
    }

    #[test]
    fn partiql_policy_and_replication_errors_keep_their_identity() {
        assert!(matches!(
            g::ExecuteStatementError::from(service("DuplicateItemException")),
            g::ExecuteStatementError::DuplicateItem(g::DuplicateItem { message, .. })
                if message == "DuplicateItemException happened"
        ));
        assert!(matches!(
            g::GetResourcePolicyError::from(service("PolicyNotFoundException")),
            g::GetResourcePolicyError::PolicyNotFound(_)
        ));
        assert!(matches!(
            g::PutItemError::from(service("ReplicatedWriteConflictException")),
            g::PutItemError::ReplicatedWriteConflict(_)
        ));
        let g::ExecuteTransactionError::TransactionCanceled(canceled) =
            service("TransactionCanceledException").into()
        else {
            panic!("not TransactionCanceled");
        };
        assert!(canceled.cancellation_reasons.is_empty());
    }
}
