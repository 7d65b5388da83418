//! Which failed requests the SDK may send again.
//!
//! The AWS SDK's standard retry resends a request after a throttling error, a 5xx, a timeout, a broken
//! connection or an unreadable answer. For a read that is always safe. For a write it is not: when the
//! answer of a write that DynamoDB applied is lost, the resend applies it a second time (an `ADD` counts
//! twice) or fails on the first attempt's own effect (a conditional PutItem reports
//! `ConditionalCheckFailed` for the item it just wrote). So the IOmod's policy is:
//!
//! - reads (GetItem, Query, Scan, BatchGetItem, TransactGetItems, every Describe, List and Get), writes
//!   DynamoDB deduplicates itself (TransactWriteItems, ExecuteTransaction, ExportTableToPointInTime and
//!   ImportTable, whose client token the SDK fills in and keeps across attempts) and writes that are
//!   idempotent by nature (TagResource, UntagResource, UpdateContributorInsights) use the SDK's standard
//!   retry;
//! - every other write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, ExecuteStatement,
//!   BatchExecuteStatement, the table, backup, restore, global-table, Kinesis-destination and
//!   resource-policy operations) is resent only when DynamoDB certainly did not apply it: it answered with
//!   a 4xx (throttling, capacity), or the connection was refused. After any other failure the method
//!   answers `OutcomeUnknown`; the item writes and the PartiQL statements take `resend: true` to get the
//!   standard retry back (duplicates included).
//!
//! Every call is also bounded by the caller's deadline: when it passes, the IOmod SDK drops the method's
//! future, and with it any attempt in flight and every later one.

use aws_sdk_dynamodb::config::interceptors::InterceptorContext;
use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority;

/// The configuration override of one write call: resent only when not applied, unless `resend` asks for
/// the standard retry.
pub fn write_policy(resend: Option<bool>) -> aws_sdk_dynamodb::config::Builder {
    let builder = aws_sdk_dynamodb::Config::builder();
    if resend == Some(true) {
        builder
    } else {
        builder.retry_classifier(NotAppliedOnly)
    }
}

/// Forbids a retry unless the failed attempt certainly was not applied.
#[derive(Debug, Clone, Copy)]
pub struct NotAppliedOnly;

impl ClassifyRetry for NotAppliedOnly {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        // DynamoDB refused the request (throttling, capacity, validation): nothing was applied, and the
        // SDK's own classifiers decide whether to try again.
        if ctx
            .response()
            .is_some_and(|response| response.status().is_client_error())
        {
            return RetryAction::NoActionIndicated;
        }
        if let Some(connector) = error.as_connector_error()
            && crate::error::connection_refused(connector)
        {
            return RetryAction::NoActionIndicated;
        }
        RetryAction::RetryForbidden
    }

    fn name(&self) -> &'static str {
        "writes are resent only when DynamoDB did not apply them"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}
