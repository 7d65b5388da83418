//! AWS errors → the manifest's typed errors.
//!
//! An SDK error becomes a [`Failure`]: either a service error with AWS's own code and message (plus the item
//! of a failed condition and the reasons of a cancelled transaction), or a failure to reach DynamoDB at all.
//! Each method's error type is then built from it: a code the method names keeps its identity (for example
//! `ConditionalCheckFailedException` → `ConditionalCheckFailed`), any other code becomes `AwsError` with the
//! code and message untouched, and transport failures become `Failed` with the SDK's full explanation.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation;
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
    Sdk(Error),
}

/// An error DynamoDB answered with.
#[derive(Debug, Default)]
pub struct ServiceFailure {
    /// AWS's error code, for example `ConditionalCheckFailedException`.
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// The item of a failed condition, when the request asked for it.
    pub item: Option<BTreeMap<String, g::AttributeValue>>,
    /// The cancellation reasons of a cancelled transaction, one per action.
    pub cancellation_reasons: Option<Vec<g::CancellationReason>>,
}

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

impl<E, R> From<SdkError<E, R>> for Failure
where
    E: ProvideErrorMetadata + Details + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    fn from(error: SdkError<E, R>) -> Self {
        let explanation = DisplayErrorContext(&error).to_string();
        match error {
            SdkError::ServiceError(context) => service_failure(context.into_err()),
            SdkError::TimeoutError(_) => Failure::Sdk(Error::new(
                ErrorCode::DeadlineExceeded,
                format!("DynamoDB did not answer in time: {explanation}"),
            )),
            SdkError::DispatchFailure(_) => Failure::Sdk(Error::new(
                ErrorCode::Unavailable,
                format!("cannot reach DynamoDB: {explanation}"),
            )),
            SdkError::ConstructionFailure(_) => Failure::Sdk(Error::new(
                ErrorCode::InvalidInput,
                format!("the request cannot be sent to DynamoDB: {explanation}"),
            )),
            _ => Failure::Sdk(Error::new(
                ErrorCode::Internal,
                format!("DynamoDB's answer cannot be read: {explanation}"),
            )),
        }
    }
}

fn service_failure<E: ProvideErrorMetadata + Details>(mut error: E) -> Failure {
    let code = error
        .code()
        .map(|code| code.rsplit('#').next().unwrap_or(code).to_owned())
        .unwrap_or_else(|| "Unknown".to_owned());
    let message = error.message().unwrap_or_default().to_owned();
    let item = from(error.take_item());
    let cancellation_reasons = from(error.take_cancellation_reasons());
    match item.and_then(|item| Ok((item, cancellation_reasons?))) {
        Ok((item, cancellation_reasons)) => Failure::Service(ServiceFailure {
            code,
            message,
            item,
            cancellation_reasons,
        }),
        Err(e) => Failure::Sdk(Error::new(
            ErrorCode::Internal,
            format!("{code}: {message} ({e})"),
        )),
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
);

/// A named error of the manifest, and the AWS codes it stands for.
trait AwsException: Sized {
    /// The codes DynamoDB (or the SDK) uses for this error.
    const CODES: &'static [&'static str];
    fn from_service(failure: ServiceFailure) -> Self;
}

macro_rules! exceptions {
    ($($name:ident => [$($code:literal),+]),* $(,)?) => {$(
        impl AwsException for g::$name {
            const CODES: &'static [&'static str] = &[$($code),+];
            fn from_service(failure: ServiceFailure) -> Self {
                Self { message: failure.message }
            }
        }
    )*};
}

exceptions! {
    // Some DynamoDB-compatible servers answer DescribeTimeToLive with the bare `ResourceNotFound`.
    ResourceNotFound => ["ResourceNotFoundException", "ResourceNotFound"],
    ResourceInUse => ["ResourceInUseException"],
    Validation => ["ValidationException"],
    ProvisionedThroughputExceeded => ["ProvisionedThroughputExceededException"],
    Throttling => [
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException"
    ],
    RequestLimitExceeded => ["RequestLimitExceeded"],
    LimitExceeded => ["LimitExceededException"],
    ItemCollectionSizeLimitExceeded => ["ItemCollectionSizeLimitExceededException"],
    TransactionConflict => ["TransactionConflictException"],
    TransactionInProgress => ["TransactionInProgressException"],
    IdempotentParameterMismatch => ["IdempotentParameterMismatchException"],
    InternalServer => ["InternalServerError", "InternalFailure", "ServiceUnavailable"],
}

impl AwsException for g::ConditionalCheckFailed {
    const CODES: &'static [&'static str] = &["ConditionalCheckFailedException"];
    fn from_service(failure: ServiceFailure) -> Self {
        Self {
            message: failure.message,
            item: failure.item,
        }
    }
}

impl AwsException for g::TransactionCanceled {
    const CODES: &'static [&'static str] = &["TransactionCanceledException"];
    fn from_service(failure: ServiceFailure) -> Self {
        Self {
            message: failure.message,
            cancellation_reasons: failure.cancellation_reasons.unwrap_or_default(),
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
            fn from(failure: Failure) -> Self {
                match failure {
                    Failure::Sdk(error) => Self::Failed(error),
                    Failure::Service(failure) => {
                        $(
                            if <g::$variant as AwsException>::CODES.contains(&failure.code.as_str()) {
                                return Self::$variant(g::$variant::from_service(failure));
                            }
                        )*
                        Self::AwsError(g::AwsError { code: failure.code, message: failure.message })
                    }
                }
            }
        }

        impl<E, R> From<SdkError<E, R>> for g::$error
        where
            E: ProvideErrorMetadata + Details + std::error::Error + Send + Sync + 'static,
            R: std::fmt::Debug,
        {
            fn from(error: SdkError<E, R>) -> Self {
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
    CreateTableError { ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer }
    DescribeTableError { ResourceNotFound, Validation, Throttling, InternalServer }
    ListTablesError { Validation, Throttling, InternalServer }
    DeleteTableError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
    }
    UpdateTableError {
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
    }
    PutItemError {
        ConditionalCheckFailed, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, TransactionConflict, RequestLimitExceeded, Validation,
        Throttling, InternalServer,
    }
    GetItemError {
        ResourceNotFound, ProvisionedThroughputExceeded, RequestLimitExceeded, Validation, Throttling,
        InternalServer,
    }
    UpdateItemError {
        ConditionalCheckFailed, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, TransactionConflict, RequestLimitExceeded, Validation,
        Throttling, InternalServer,
    }
    DeleteItemError {
        ConditionalCheckFailed, ResourceNotFound, ProvisionedThroughputExceeded,
        ItemCollectionSizeLimitExceeded, TransactionConflict, RequestLimitExceeded, Validation,
        Throttling, InternalServer,
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
        RequestLimitExceeded, Validation, Throttling, InternalServer,
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
        ResourceNotFound, ResourceInUse, LimitExceeded, Validation, Throttling, InternalServer,
    }
    DescribeTimeToLiveError { ResourceNotFound, Validation, Throttling, InternalServer }
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
            g::PutItemError::ConditionalCheckFailed(g::ConditionalCheckFailed { message, item: None })
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
                message: "AccessDeniedException happened".into()
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
        let error: g::ScanError =
            Failure::Sdk(Error::new(ErrorCode::Unavailable, "cannot reach DynamoDB")).into();
        assert!(matches!(error, g::ScanError::Failed(e) if e.code == ErrorCode::Unavailable));
    }
}
