//! The generated types ⇄ the `aws-sdk-dynamodb` types.
//!
//! [`ToAws`] turns a request value into the SDK's (consuming it: an item is moved, not copied);
//! [`FromAws`] turns a response value into the generated type. Lists, options and maps convert element by
//! element, so an operation converts a whole field with one call.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::primitives::{Blob, DateTime};
use aws_sdk_dynamodb::types as aws;

use crate::dynamodb as g;

/// A request value as the SDK's.
pub trait ToAws {
    /// The SDK's type.
    type Aws;
    /// Converts; fails only when a required field is missing, which the generated types rule out.
    fn to_aws(self) -> Result<Self::Aws, BuildError>;
}

/// A response value from the SDK's.
pub trait FromAws<A>: Sized {
    /// Converts; fails on values of a newer API version the SDK marks as unknown.
    fn from_aws(value: A) -> Result<Self, Unrepresentable>;
}

/// Converts a response field: `let item: Option<Item> = from(output.item)?`.
pub fn from<A, T: FromAws<A>>(value: A) -> Result<T, Unrepresentable> {
    T::from_aws(value)
}

/// Why an SDK value cannot be represented: the SDK marks values of newer API versions as unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrepresentable(pub String);

impl std::fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DynamoDB returned a value this IOmod cannot represent: {}",
            self.0
        )
    }
}

impl std::error::Error for Unrepresentable {}

// --- Containers and scalars ---------------------------------------------------------------------------

impl<T: ToAws> ToAws for Vec<T> {
    type Aws = Vec<T::Aws>;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        self.into_iter().map(ToAws::to_aws).collect()
    }
}

impl<T: ToAws> ToAws for Option<T> {
    type Aws = Option<T::Aws>;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        self.map(ToAws::to_aws).transpose()
    }
}

impl<T: ToAws> ToAws for BTreeMap<String, T> {
    type Aws = HashMap<String, T::Aws>;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        self.into_iter()
            .map(|(k, v)| Ok((k, v.to_aws()?)))
            .collect()
    }
}

impl ToAws for String {
    type Aws = String;
    fn to_aws(self) -> Result<String, BuildError> {
        Ok(self)
    }
}

impl<A, T: FromAws<A>> FromAws<Vec<A>> for Vec<T> {
    fn from_aws(value: Vec<A>) -> Result<Self, Unrepresentable> {
        value.into_iter().map(T::from_aws).collect()
    }
}

impl<A, T: FromAws<A>> FromAws<Option<A>> for Option<T> {
    fn from_aws(value: Option<A>) -> Result<Self, Unrepresentable> {
        value.map(T::from_aws).transpose()
    }
}

impl<A, T: FromAws<A>> FromAws<HashMap<String, A>> for BTreeMap<String, T> {
    fn from_aws(value: HashMap<String, A>) -> Result<Self, Unrepresentable> {
        value
            .into_iter()
            .map(|(k, v)| Ok((k, T::from_aws(v)?)))
            .collect()
    }
}

macro_rules! identity {
    ($($t:ty),*) => {$(
        impl FromAws<$t> for $t {
            fn from_aws(value: $t) -> Result<Self, Unrepresentable> {
                Ok(value)
            }
        }
    )*};
}

identity!(String, bool, i32, i64, f64);

/// Timestamps travel as seconds since the Unix epoch.
impl FromAws<DateTime> for f64 {
    fn from_aws(value: DateTime) -> Result<Self, Unrepresentable> {
        Ok(value.as_secs_f64())
    }
}

// --- Attribute values ---------------------------------------------------------------------------------

impl ToAws for g::AttributeValue {
    type Aws = aws::AttributeValue;
    fn to_aws(self) -> Result<aws::AttributeValue, BuildError> {
        Ok(match self {
            g::AttributeValue::S(s) => aws::AttributeValue::S(s),
            g::AttributeValue::N(n) => aws::AttributeValue::N(n),
            g::AttributeValue::B(b) => aws::AttributeValue::B(Blob::new(b)),
            g::AttributeValue::Ss(v) => aws::AttributeValue::Ss(v),
            g::AttributeValue::Ns(v) => aws::AttributeValue::Ns(v),
            g::AttributeValue::Bs(v) => {
                aws::AttributeValue::Bs(v.into_iter().map(Blob::new).collect())
            }
            g::AttributeValue::M(m) => aws::AttributeValue::M(m.to_aws()?),
            g::AttributeValue::L(l) => aws::AttributeValue::L(l.to_aws()?),
            g::AttributeValue::Null(n) => aws::AttributeValue::Null(n),
            g::AttributeValue::Bool(b) => aws::AttributeValue::Bool(b),
        })
    }
}

impl FromAws<aws::AttributeValue> for g::AttributeValue {
    fn from_aws(value: aws::AttributeValue) -> Result<Self, Unrepresentable> {
        Ok(match value {
            aws::AttributeValue::S(s) => g::AttributeValue::S(s),
            aws::AttributeValue::N(n) => g::AttributeValue::N(n),
            aws::AttributeValue::B(b) => g::AttributeValue::B(b.into_inner()),
            aws::AttributeValue::Ss(v) => g::AttributeValue::Ss(v),
            aws::AttributeValue::Ns(v) => g::AttributeValue::Ns(v),
            aws::AttributeValue::Bs(v) => {
                g::AttributeValue::Bs(v.into_iter().map(Blob::into_inner).collect())
            }
            aws::AttributeValue::M(m) => g::AttributeValue::M(from(m)?),
            aws::AttributeValue::L(l) => g::AttributeValue::L(from(l)?),
            aws::AttributeValue::Null(n) => g::AttributeValue::Null(n),
            aws::AttributeValue::Bool(b) => g::AttributeValue::Bool(b),
            other => return Err(Unrepresentable(format!("attribute value {other:?}"))),
        })
    }
}

// --- Enumerations: the same variants on both sides, and any other value as `Unknown` -----------------

/// Each listed variant maps to the SDK's variant of the same name, or to the one named after `=` when the
/// manifest cannot use DynamoDB's name (`InList = In`: `in` is a Rust keyword).
macro_rules! enums {
    ($($name:ident { $($variant:ident $(= $aws:ident)?),* $(,)? })*) => {$(
        impl ToAws for g::$name {
            type Aws = aws::$name;
            fn to_aws(self) -> Result<aws::$name, BuildError> {
                Ok(match self {
                    $(g::$name::$variant => $crate::convert::aws_variant!($name, $variant $(= $aws)?),)*
                    g::$name::Unknown(value) => aws::$name::from(value.as_str()),
                })
            }
        }

        impl FromAws<aws::$name> for g::$name {
            fn from_aws(value: aws::$name) -> Result<Self, Unrepresentable> {
                $(
                    if value == $crate::convert::aws_variant!($name, $variant $(= $aws)?) {
                        return Ok(g::$name::$variant);
                    }
                )*
                // A value AWS added after the manifest was written: kept as AWS sent it.
                Ok(g::$name::Unknown(value.as_str().to_owned()))
            }
        }
    )*};
}

/// The SDK's variant of an `enums!` entry.
macro_rules! aws_variant {
    ($name:ident, $variant:ident) => {
        aws::$name::$variant
    };
    ($name:ident, $variant:ident = $aws:ident) => {
        aws::$name::$aws
    };
}

pub(crate) use {aws_variant, enums};

enums! {
    KeyType { Hash, Range }
    ScalarAttributeType { S, N, B }
    BillingMode { Provisioned, PayPerRequest }
    ProjectionType { All, KeysOnly, Include }
    TableStatus {
        Creating, Updating, Deleting, Active, InaccessibleEncryptionCredentials, Archiving, Archived,
        ReplicationNotAuthorized,
    }
    IndexStatus { Creating, Updating, Deleting, Active }
    TimeToLiveStatus { Enabling, Disabling, Enabled, Disabled }
    ReturnValue { None, AllOld, UpdatedOld, AllNew, UpdatedNew }
    ReturnValuesOnConditionCheckFailure { AllOld, None }
    ReturnConsumedCapacity { Indexes, Total, None }
    ReturnItemCollectionMetrics { Size, None }
    Select { AllAttributes, AllProjectedAttributes, SpecificAttributes, Count }
    MultiRegionConsistency { Eventual, Strong }
    WitnessStatus { Creating, Deleting, Active }
    DisassociationMode { WaitForReplication }
    ComparisonOperator {
        Eq, Ne, InList = In, Le, Lt, Ge, Gt, Between, NotNull, Null, Contains, NotContains, BeginsWith,
    }
    ConditionalOperator { And, Or }
    AttributeAction { Add, Put, Delete }
    BatchStatementErrorCodeEnum {
        ConditionalCheckFailed, ItemCollectionSizeLimitExceeded, RequestLimitExceeded, ValidationError,
        ProvisionedThroughputExceeded, TransactionConflict, ThrottlingError, InternalServerError,
        ResourceNotFound, AccessDenied, DuplicateItem,
    }
    ContributorInsightsAction { Enable, Disable }
    ContributorInsightsMode { AccessedAndThrottledKeys, ThrottledKeys }
    ContributorInsightsStatus { Enabling, Enabled, Disabling, Disabled, Failed }
    DestinationStatus { Enabling, Active, Disabling, Disabled, EnableFailed, Updating }
    ApproximateCreationDateTimePrecision { Millisecond, Microsecond }
}

// --- Tables -------------------------------------------------------------------------------------------

impl ToAws for g::KeySchemaElement {
    type Aws = aws::KeySchemaElement;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::KeySchemaElement::builder()
            .attribute_name(self.attribute_name)
            .key_type(self.key_type.to_aws()?)
            .build()
    }
}

impl FromAws<aws::KeySchemaElement> for g::KeySchemaElement {
    fn from_aws(value: aws::KeySchemaElement) -> Result<Self, Unrepresentable> {
        Ok(Self {
            attribute_name: value.attribute_name,
            key_type: from(value.key_type)?,
        })
    }
}

impl ToAws for g::AttributeDefinition {
    type Aws = aws::AttributeDefinition;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::AttributeDefinition::builder()
            .attribute_name(self.attribute_name)
            .attribute_type(self.attribute_type.to_aws()?)
            .build()
    }
}

impl FromAws<aws::AttributeDefinition> for g::AttributeDefinition {
    fn from_aws(value: aws::AttributeDefinition) -> Result<Self, Unrepresentable> {
        Ok(Self {
            attribute_name: value.attribute_name,
            attribute_type: from(value.attribute_type)?,
        })
    }
}

impl ToAws for g::ProvisionedThroughput {
    type Aws = aws::ProvisionedThroughput;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::ProvisionedThroughput::builder()
            .read_capacity_units(self.read_capacity_units)
            .write_capacity_units(self.write_capacity_units)
            .build()
    }
}

impl FromAws<aws::ProvisionedThroughputDescription> for g::ProvisionedThroughputDescription {
    fn from_aws(value: aws::ProvisionedThroughputDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_capacity_units: value.read_capacity_units,
            write_capacity_units: value.write_capacity_units,
            number_of_decreases_today: value.number_of_decreases_today,
            last_increase_date_time: from(value.last_increase_date_time)?,
            last_decrease_date_time: from(value.last_decrease_date_time)?,
        })
    }
}

impl ToAws for g::Projection {
    type Aws = aws::Projection;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::Projection::builder()
            .set_projection_type(self.projection_type.to_aws()?)
            .set_non_key_attributes(self.non_key_attributes)
            .build())
    }
}

impl FromAws<aws::Projection> for g::Projection {
    fn from_aws(value: aws::Projection) -> Result<Self, Unrepresentable> {
        Ok(Self {
            projection_type: from(value.projection_type)?,
            non_key_attributes: value.non_key_attributes,
        })
    }
}

impl ToAws for g::GlobalSecondaryIndex {
    type Aws = aws::GlobalSecondaryIndex;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::GlobalSecondaryIndex::builder()
            .index_name(self.index_name)
            .set_key_schema(Some(self.key_schema.to_aws()?))
            .projection(self.projection.to_aws()?)
            .set_provisioned_throughput(self.provisioned_throughput.to_aws()?)
            .set_on_demand_throughput(self.on_demand_throughput.to_aws()?)
            .set_warm_throughput(self.warm_throughput.to_aws()?)
            .build()
    }
}

impl ToAws for g::LocalSecondaryIndex {
    type Aws = aws::LocalSecondaryIndex;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::LocalSecondaryIndex::builder()
            .index_name(self.index_name)
            .set_key_schema(Some(self.key_schema.to_aws()?))
            .projection(self.projection.to_aws()?)
            .build()
    }
}

impl FromAws<aws::GlobalSecondaryIndexDescription> for g::IndexDescription {
    fn from_aws(value: aws::GlobalSecondaryIndexDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            key_schema: from(value.key_schema)?,
            projection: from(value.projection)?,
            index_status: from(value.index_status)?,
            item_count: value.item_count,
            index_size_bytes: value.index_size_bytes,
            index_arn: value.index_arn,
            provisioned_throughput: from(value.provisioned_throughput)?,
            backfilling: value.backfilling,
            on_demand_throughput: from(value.on_demand_throughput)?,
            warm_throughput: from(value.warm_throughput)?,
        })
    }
}

impl FromAws<aws::LocalSecondaryIndexDescription> for g::IndexDescription {
    fn from_aws(value: aws::LocalSecondaryIndexDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            key_schema: from(value.key_schema)?,
            projection: from(value.projection)?,
            index_status: None,
            item_count: value.item_count,
            index_size_bytes: value.index_size_bytes,
            index_arn: value.index_arn,
            provisioned_throughput: None,
            backfilling: None,
            on_demand_throughput: None,
            warm_throughput: None,
        })
    }
}

impl FromAws<aws::BillingModeSummary> for g::BillingModeSummary {
    fn from_aws(value: aws::BillingModeSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            billing_mode: from(value.billing_mode)?,
            last_update_to_pay_per_request_date_time: from(
                value.last_update_to_pay_per_request_date_time,
            )?,
        })
    }
}

impl FromAws<aws::TableDescription> for g::TableDescription {
    fn from_aws(value: aws::TableDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            table_arn: value.table_arn,
            table_id: value.table_id,
            table_status: from(value.table_status)?,
            creation_date_time: from(value.creation_date_time)?,
            key_schema: from(value.key_schema)?,
            attribute_definitions: from(value.attribute_definitions)?,
            provisioned_throughput: from(value.provisioned_throughput)?,
            billing_mode_summary: from(value.billing_mode_summary)?,
            table_size_bytes: value.table_size_bytes,
            item_count: value.item_count,
            global_secondary_indexes: from(value.global_secondary_indexes)?,
            local_secondary_indexes: from(value.local_secondary_indexes)?,
            deletion_protection_enabled: value.deletion_protection_enabled,
            stream_specification: from(value.stream_specification)?,
            latest_stream_label: value.latest_stream_label,
            latest_stream_arn: value.latest_stream_arn,
            global_table_version: value.global_table_version,
            replicas: from(value.replicas)?,
            global_table_witnesses: from(value.global_table_witnesses)?,
            global_table_settings_replication_mode: from(
                value.global_table_settings_replication_mode,
            )?,
            restore_summary: from(value.restore_summary)?,
            sse_description: from(value.sse_description)?,
            archival_summary: from(value.archival_summary)?,
            table_class_summary: from(value.table_class_summary)?,
            disassociation_protection_enabled: value.disassociation_protection_enabled,
            on_demand_throughput: from(value.on_demand_throughput)?,
            warm_throughput: from(value.warm_throughput)?,
            multi_region_consistency: from(value.multi_region_consistency)?,
            vector_indexes: from(value.vector_indexes)?,
        })
    }
}

impl ToAws for g::GlobalSecondaryIndexUpdate {
    type Aws = aws::GlobalSecondaryIndexUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let update = aws::GlobalSecondaryIndexUpdate::builder();
        Ok(match self {
            g::GlobalSecondaryIndexUpdate::Create(index) => update.create(
                aws::CreateGlobalSecondaryIndexAction::builder()
                    .index_name(index.index_name)
                    .set_key_schema(Some(index.key_schema.to_aws()?))
                    .projection(index.projection.to_aws()?)
                    .set_provisioned_throughput(index.provisioned_throughput.to_aws()?)
                    .set_on_demand_throughput(index.on_demand_throughput.to_aws()?)
                    .set_warm_throughput(index.warm_throughput.to_aws()?)
                    .build()?,
            ),
            g::GlobalSecondaryIndexUpdate::Update(action) => update.update(
                aws::UpdateGlobalSecondaryIndexAction::builder()
                    .index_name(action.index_name)
                    .set_provisioned_throughput(action.provisioned_throughput.to_aws()?)
                    .set_on_demand_throughput(action.on_demand_throughput.to_aws()?)
                    .set_warm_throughput(action.warm_throughput.to_aws()?)
                    .build()?,
            ),
            g::GlobalSecondaryIndexUpdate::Delete(action) => update.delete(
                aws::DeleteGlobalSecondaryIndexAction::builder()
                    .index_name(action.index_name)
                    .build()?,
            ),
        }
        .build())
    }
}

impl ToAws for g::TimeToLiveSpecification {
    type Aws = aws::TimeToLiveSpecification;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::TimeToLiveSpecification::builder()
            .enabled(self.enabled)
            .attribute_name(self.attribute_name)
            .build()
    }
}

impl FromAws<aws::TimeToLiveSpecification> for g::TimeToLiveSpecification {
    fn from_aws(value: aws::TimeToLiveSpecification) -> Result<Self, Unrepresentable> {
        Ok(Self {
            enabled: value.enabled,
            attribute_name: value.attribute_name,
        })
    }
}

impl FromAws<aws::TimeToLiveDescription> for g::TimeToLiveDescription {
    fn from_aws(value: aws::TimeToLiveDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            time_to_live_status: from(value.time_to_live_status)?,
            attribute_name: value.attribute_name,
        })
    }
}

// --- Table settings: streams, warm throughput, replicas, witnesses, vector indexes, tags ---------------

impl ToAws for g::StreamSpecification {
    type Aws = aws::StreamSpecification;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::StreamSpecification::builder()
            .stream_enabled(self.stream_enabled)
            .set_stream_view_type(self.stream_view_type.to_aws()?)
            .build()
    }
}

impl ToAws for g::WarmThroughput {
    type Aws = aws::WarmThroughput;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::WarmThroughput::builder()
            .set_read_units_per_second(self.read_units_per_second)
            .set_write_units_per_second(self.write_units_per_second)
            .build())
    }
}

impl FromAws<aws::WarmThroughput> for g::WarmThroughput {
    fn from_aws(value: aws::WarmThroughput) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_units_per_second: value.read_units_per_second,
            write_units_per_second: value.write_units_per_second,
        })
    }
}

impl FromAws<aws::ArchivalSummary> for g::ArchivalSummary {
    fn from_aws(value: aws::ArchivalSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            archival_date_time: from(value.archival_date_time)?,
            archival_reason: value.archival_reason,
            archival_backup_arn: value.archival_backup_arn,
        })
    }
}

impl FromAws<aws::RestoreSummary> for g::RestoreSummary {
    fn from_aws(value: aws::RestoreSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            source_backup_arn: value.source_backup_arn,
            source_table_arn: value.source_table_arn,
            restore_date_time: from(value.restore_date_time)?,
            restore_in_progress: value.restore_in_progress,
        })
    }
}

impl FromAws<aws::GlobalTableWitnessDescription> for g::GlobalTableWitnessDescription {
    fn from_aws(value: aws::GlobalTableWitnessDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            region_name: value.region_name,
            witness_status: from(value.witness_status)?,
        })
    }
}

impl ToAws for g::ProvisionedThroughputOverride {
    type Aws = aws::ProvisionedThroughputOverride;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::ProvisionedThroughputOverride::builder()
            .set_read_capacity_units(self.read_capacity_units)
            .build())
    }
}

impl ToAws for g::OnDemandThroughputOverride {
    type Aws = aws::OnDemandThroughputOverride;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::OnDemandThroughputOverride::builder()
            .set_max_read_request_units(self.max_read_request_units)
            .build())
    }
}

impl ToAws for g::ReplicaGlobalSecondaryIndex {
    type Aws = aws::ReplicaGlobalSecondaryIndex;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::ReplicaGlobalSecondaryIndex::builder()
            .index_name(self.index_name)
            .set_provisioned_throughput_override(self.provisioned_throughput_override.to_aws()?)
            .set_on_demand_throughput_override(self.on_demand_throughput_override.to_aws()?)
            .build()
    }
}

impl ToAws for g::ReplicationGroupUpdate {
    type Aws = aws::ReplicationGroupUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let update = aws::ReplicationGroupUpdate::builder();
        Ok(match self {
            g::ReplicationGroupUpdate::Create(member) => update.create(
                aws::CreateReplicationGroupMemberAction::builder()
                    .region_name(member.region_name)
                    .set_kms_master_key_id(member.kms_master_key_id)
                    .set_provisioned_throughput_override(
                        member.provisioned_throughput_override.to_aws()?,
                    )
                    .set_on_demand_throughput_override(
                        member.on_demand_throughput_override.to_aws()?,
                    )
                    .set_global_secondary_indexes(member.global_secondary_indexes.to_aws()?)
                    .set_table_class_override(member.table_class_override.to_aws()?)
                    .build()?,
            ),
            g::ReplicationGroupUpdate::Update(member) => update.update(
                aws::UpdateReplicationGroupMemberAction::builder()
                    .region_name(member.region_name)
                    .set_kms_master_key_id(member.kms_master_key_id)
                    .set_provisioned_throughput_override(
                        member.provisioned_throughput_override.to_aws()?,
                    )
                    .set_on_demand_throughput_override(
                        member.on_demand_throughput_override.to_aws()?,
                    )
                    .set_global_secondary_indexes(member.global_secondary_indexes.to_aws()?)
                    .set_table_class_override(member.table_class_override.to_aws()?)
                    .build()?,
            ),
            g::ReplicationGroupUpdate::Delete(member) => update.delete(
                aws::DeleteReplicationGroupMemberAction::builder()
                    .region_name(member.region_name)
                    .build()?,
            ),
            g::ReplicationGroupUpdate::Disassociate(member) => update.disassociate(
                aws::DisassociateReplicationGroupMemberAction::builder()
                    .region_name(member.region_name)
                    .disassociation_mode(member.disassociation_mode.to_aws()?)
                    .build()?,
            ),
        }
        .build())
    }
}

impl ToAws for g::GlobalTableWitnessGroupUpdate {
    type Aws = aws::GlobalTableWitnessGroupUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let update = aws::GlobalTableWitnessGroupUpdate::builder();
        Ok(match self {
            g::GlobalTableWitnessGroupUpdate::Create(witness) => update.create(
                aws::CreateGlobalTableWitnessGroupMemberAction::builder()
                    .region_name(witness.region_name)
                    .build()?,
            ),
            g::GlobalTableWitnessGroupUpdate::Delete(witness) => update.delete(
                aws::DeleteGlobalTableWitnessGroupMemberAction::builder()
                    .region_name(witness.region_name)
                    .build()?,
            ),
        }
        .build())
    }
}

impl FromAws<aws::VectorIndexDescription> for g::VectorIndexDescription {
    fn from_aws(value: aws::VectorIndexDescription) -> Result<Self, Unrepresentable> {
        Ok(Self {
            index_name: value.index_name,
            search_schema: from(value.search_schema)?,
            projection: from(value.projection)?,
            vector_attribute: from(value.vector_attribute)?,
            dimensions: value.dimensions,
            distance_function: from(value.distance_function)?,
            index_status: from(value.index_status)?,
            backfilling: value.backfilling,
            index_size_bytes: value.index_size_bytes,
            item_count: value.item_count,
            index_arn: value.index_arn,
        })
    }
}

impl ToAws for g::VectorIndexUpdate {
    type Aws = aws::VectorIndexUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let update = aws::VectorIndexUpdate::builder();
        Ok(match self {
            g::VectorIndexUpdate::Create(index) => update.create(
                aws::CreateVectorIndexAction::builder()
                    .index_name(index.index_name)
                    .set_vector_attribute(index.vector_attribute.to_aws()?)
                    .set_search_schema(index.search_schema.to_aws()?)
                    .set_projection(index.projection.to_aws()?)
                    .dimensions(index.dimensions)
                    .distance_function(index.distance_function.to_aws()?)
                    .build()?,
            ),
            g::VectorIndexUpdate::Delete(index) => update.delete(
                aws::DeleteVectorIndexAction::builder()
                    .index_name(index.index_name)
                    .build()?,
            ),
        }
        .build())
    }
}

impl ToAws for g::Tag {
    type Aws = aws::Tag;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::Tag::builder().key(self.key).value(self.value).build()
    }
}

impl FromAws<aws::Tag> for g::Tag {
    fn from_aws(value: aws::Tag) -> Result<Self, Unrepresentable> {
        Ok(Self {
            key: value.key,
            value: value.value,
        })
    }
}

// --- Capacity and metrics -----------------------------------------------------------------------------

impl FromAws<aws::Capacity> for g::Capacity {
    fn from_aws(value: aws::Capacity) -> Result<Self, Unrepresentable> {
        Ok(Self {
            read_capacity_units: value.read_capacity_units,
            write_capacity_units: value.write_capacity_units,
            capacity_units: value.capacity_units,
        })
    }
}

impl FromAws<aws::ConsumedCapacity> for g::ConsumedCapacity {
    fn from_aws(value: aws::ConsumedCapacity) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            capacity_units: value.capacity_units,
            read_capacity_units: value.read_capacity_units,
            write_capacity_units: value.write_capacity_units,
            table: from(value.table)?,
            global_secondary_indexes: from(value.global_secondary_indexes)?,
            local_secondary_indexes: from(value.local_secondary_indexes)?,
            vector_indexes: from(value.vector_indexes)?,
        })
    }
}

impl FromAws<aws::VectorCapacity> for g::VectorCapacity {
    fn from_aws(value: aws::VectorCapacity) -> Result<Self, Unrepresentable> {
        Ok(Self {
            vector_search_request_bytes: value.vector_search_request_bytes,
            vector_write_request_bytes: value.vector_write_request_bytes,
        })
    }
}

impl FromAws<aws::ItemCollectionMetrics> for g::ItemCollectionMetrics {
    fn from_aws(value: aws::ItemCollectionMetrics) -> Result<Self, Unrepresentable> {
        Ok(Self {
            item_collection_key: from(value.item_collection_key)?,
            size_estimate_range_gb: value.size_estimate_range_gb,
        })
    }
}

// --- Batches and transactions -------------------------------------------------------------------------

impl ToAws for g::KeysAndAttributes {
    type Aws = aws::KeysAndAttributes;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::KeysAndAttributes::builder()
            .set_keys(Some(self.keys.to_aws()?))
            .set_projection_expression(self.projection_expression)
            .set_expression_attribute_names(self.expression_attribute_names.to_aws()?)
            .set_consistent_read(self.consistent_read)
            .set_attributes_to_get(self.attributes_to_get)
            .build()
    }
}

impl FromAws<aws::KeysAndAttributes> for g::KeysAndAttributes {
    fn from_aws(value: aws::KeysAndAttributes) -> Result<Self, Unrepresentable> {
        Ok(Self {
            keys: from(value.keys)?,
            projection_expression: value.projection_expression,
            expression_attribute_names: from(value.expression_attribute_names)?,
            consistent_read: value.consistent_read,
            attributes_to_get: value.attributes_to_get,
        })
    }
}

impl ToAws for g::WriteRequest {
    type Aws = aws::WriteRequest;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let request = aws::WriteRequest::builder();
        Ok(match self {
            g::WriteRequest::PutRequest(put) => request.put_request(
                aws::PutRequest::builder()
                    .set_item(Some(put.item.to_aws()?))
                    .build()?,
            ),
            g::WriteRequest::DeleteRequest(delete) => request.delete_request(
                aws::DeleteRequest::builder()
                    .set_key(Some(delete.key.to_aws()?))
                    .build()?,
            ),
        }
        .build())
    }
}

impl FromAws<aws::WriteRequest> for g::WriteRequest {
    fn from_aws(value: aws::WriteRequest) -> Result<Self, Unrepresentable> {
        match (value.put_request, value.delete_request) {
            (Some(put), None) => Ok(g::WriteRequest::PutRequest(g::PutRequest {
                item: from(put.item)?,
            })),
            (None, Some(delete)) => Ok(g::WriteRequest::DeleteRequest(g::DeleteRequest {
                key: from(delete.key)?,
            })),
            (put, delete) => Err(Unrepresentable(format!(
                "a write request with {} put and {} delete requests",
                usize::from(put.is_some()),
                usize::from(delete.is_some())
            ))),
        }
    }
}

impl ToAws for g::TransactGetItem {
    type Aws = aws::TransactGetItem;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let get = self.get;
        Ok(aws::TransactGetItem::builder()
            .get(
                aws::Get::builder()
                    .table_name(get.table_name)
                    .set_key(Some(get.key.to_aws()?))
                    .set_projection_expression(get.projection_expression)
                    .set_expression_attribute_names(get.expression_attribute_names.to_aws()?)
                    .build()?,
            )
            .build())
    }
}

impl FromAws<aws::ItemResponse> for g::ItemResponse {
    fn from_aws(value: aws::ItemResponse) -> Result<Self, Unrepresentable> {
        Ok(Self {
            item: from(value.item)?,
        })
    }
}

impl ToAws for g::TransactWriteItem {
    type Aws = aws::TransactWriteItem;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        let item = aws::TransactWriteItem::builder();
        Ok(match self {
            g::TransactWriteItem::ConditionCheck(check) => item.condition_check(
                aws::ConditionCheck::builder()
                    .table_name(check.table_name)
                    .set_key(Some(check.key.to_aws()?))
                    .condition_expression(check.condition_expression)
                    .set_expression_attribute_names(check.expression_attribute_names.to_aws()?)
                    .set_expression_attribute_values(check.expression_attribute_values.to_aws()?)
                    .set_return_values_on_condition_check_failure(
                        check.return_values_on_condition_check_failure.to_aws()?,
                    )
                    .build()?,
            ),
            g::TransactWriteItem::Put(put) => item.put(
                aws::Put::builder()
                    .table_name(put.table_name)
                    .set_item(Some(put.item.to_aws()?))
                    .set_condition_expression(put.condition_expression)
                    .set_expression_attribute_names(put.expression_attribute_names.to_aws()?)
                    .set_expression_attribute_values(put.expression_attribute_values.to_aws()?)
                    .set_return_values_on_condition_check_failure(
                        put.return_values_on_condition_check_failure.to_aws()?,
                    )
                    .build()?,
            ),
            g::TransactWriteItem::Delete(delete) => item.delete(
                aws::Delete::builder()
                    .table_name(delete.table_name)
                    .set_key(Some(delete.key.to_aws()?))
                    .set_condition_expression(delete.condition_expression)
                    .set_expression_attribute_names(delete.expression_attribute_names.to_aws()?)
                    .set_expression_attribute_values(delete.expression_attribute_values.to_aws()?)
                    .set_return_values_on_condition_check_failure(
                        delete.return_values_on_condition_check_failure.to_aws()?,
                    )
                    .build()?,
            ),
            g::TransactWriteItem::Update(update) => item.update(
                aws::Update::builder()
                    .table_name(update.table_name)
                    .set_key(Some(update.key.to_aws()?))
                    .update_expression(update.update_expression)
                    .set_condition_expression(update.condition_expression)
                    .set_expression_attribute_names(update.expression_attribute_names.to_aws()?)
                    .set_expression_attribute_values(update.expression_attribute_values.to_aws()?)
                    .set_return_values_on_condition_check_failure(
                        update.return_values_on_condition_check_failure.to_aws()?,
                    )
                    .build()?,
            ),
        }
        .build())
    }
}

impl FromAws<aws::CancellationReason> for g::CancellationReason {
    fn from_aws(value: aws::CancellationReason) -> Result<Self, Unrepresentable> {
        Ok(Self {
            code: value.code,
            message: value.message,
            item: from(value.item)?,
        })
    }
}

// --- Legacy conditions and updates --------------------------------------------------------------------

impl ToAws for g::Condition {
    type Aws = aws::Condition;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::Condition::builder()
            .set_attribute_value_list(self.attribute_value_list.to_aws()?)
            .comparison_operator(self.comparison_operator.to_aws()?)
            .build()
    }
}

impl ToAws for g::ExpectedAttributeValue {
    type Aws = aws::ExpectedAttributeValue;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::ExpectedAttributeValue::builder()
            .set_value(self.value.to_aws()?)
            .set_exists(self.exists)
            .set_comparison_operator(self.comparison_operator.to_aws()?)
            .set_attribute_value_list(self.attribute_value_list.to_aws()?)
            .build())
    }
}

impl ToAws for g::AttributeValueUpdate {
    type Aws = aws::AttributeValueUpdate;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::AttributeValueUpdate::builder()
            .set_value(self.value.to_aws()?)
            .set_action(self.action.to_aws()?)
            .build())
    }
}

// --- PartiQL ------------------------------------------------------------------------------------------

impl ToAws for g::BatchStatementRequest {
    type Aws = aws::BatchStatementRequest;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::BatchStatementRequest::builder()
            .statement(self.statement)
            .set_parameters(self.parameters.to_aws()?)
            .set_consistent_read(self.consistent_read)
            .set_return_values_on_condition_check_failure(
                self.return_values_on_condition_check_failure.to_aws()?,
            )
            .build()
    }
}

impl FromAws<aws::BatchStatementError> for g::BatchStatementError {
    fn from_aws(value: aws::BatchStatementError) -> Result<Self, Unrepresentable> {
        Ok(Self {
            code: from(value.code)?,
            message: value.message,
            item: from(value.item)?,
        })
    }
}

impl FromAws<aws::BatchStatementResponse> for g::BatchStatementResponse {
    fn from_aws(value: aws::BatchStatementResponse) -> Result<Self, Unrepresentable> {
        Ok(Self {
            error: from(value.error)?,
            table_name: value.table_name,
            item: from(value.item)?,
        })
    }
}

impl ToAws for g::ParameterizedStatement {
    type Aws = aws::ParameterizedStatement;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        aws::ParameterizedStatement::builder()
            .statement(self.statement)
            .set_parameters(self.parameters.to_aws()?)
            .set_return_values_on_condition_check_failure(
                self.return_values_on_condition_check_failure.to_aws()?,
            )
            .build()
    }
}

// --- Vector search, endpoints, contributor insights, Kinesis streaming --------------------------------

impl FromAws<aws::SearchResultItem> for g::SearchResultItem {
    fn from_aws(value: aws::SearchResultItem) -> Result<Self, Unrepresentable> {
        Ok(Self {
            item: from(value.item)?,
            score: value.score,
        })
    }
}

impl FromAws<aws::Endpoint> for g::Endpoint {
    fn from_aws(value: aws::Endpoint) -> Result<Self, Unrepresentable> {
        Ok(Self {
            address: value.address,
            cache_period_in_minutes: value.cache_period_in_minutes,
        })
    }
}

impl FromAws<aws::FailureException> for g::FailureException {
    fn from_aws(value: aws::FailureException) -> Result<Self, Unrepresentable> {
        Ok(Self {
            exception_name: value.exception_name,
            exception_description: value.exception_description,
        })
    }
}

impl FromAws<aws::ContributorInsightsSummary> for g::ContributorInsightsSummary {
    fn from_aws(value: aws::ContributorInsightsSummary) -> Result<Self, Unrepresentable> {
        Ok(Self {
            table_name: value.table_name,
            index_name: value.index_name,
            contributor_insights_status: from(value.contributor_insights_status)?,
            contributor_insights_mode: from(value.contributor_insights_mode)?,
        })
    }
}

impl ToAws for g::EnableKinesisStreamingConfiguration {
    type Aws = aws::EnableKinesisStreamingConfiguration;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::EnableKinesisStreamingConfiguration::builder()
            .set_approximate_creation_date_time_precision(
                self.approximate_creation_date_time_precision.to_aws()?,
            )
            .build())
    }
}

impl FromAws<aws::EnableKinesisStreamingConfiguration> for g::EnableKinesisStreamingConfiguration {
    fn from_aws(value: aws::EnableKinesisStreamingConfiguration) -> Result<Self, Unrepresentable> {
        Ok(Self {
            approximate_creation_date_time_precision: from(
                value.approximate_creation_date_time_precision,
            )?,
        })
    }
}

impl ToAws for g::UpdateKinesisStreamingConfiguration {
    type Aws = aws::UpdateKinesisStreamingConfiguration;
    fn to_aws(self) -> Result<Self::Aws, BuildError> {
        Ok(aws::UpdateKinesisStreamingConfiguration::builder()
            .set_approximate_creation_date_time_precision(
                self.approximate_creation_date_time_precision.to_aws()?,
            )
            .build())
    }
}

impl FromAws<aws::UpdateKinesisStreamingConfiguration> for g::UpdateKinesisStreamingConfiguration {
    fn from_aws(value: aws::UpdateKinesisStreamingConfiguration) -> Result<Self, Unrepresentable> {
        Ok(Self {
            approximate_creation_date_time_precision: from(
                value.approximate_creation_date_time_precision,
            )?,
        })
    }
}

impl FromAws<aws::KinesisDataStreamDestination> for g::KinesisDataStreamDestination {
    fn from_aws(value: aws::KinesisDataStreamDestination) -> Result<Self, Unrepresentable> {
        Ok(Self {
            stream_arn: value.stream_arn,
            destination_status: from(value.destination_status)?,
            destination_status_description: value.destination_status_description,
            approximate_creation_date_time_precision: from(
                value.approximate_creation_date_time_precision,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Item = BTreeMap<String, g::AttributeValue>;

    fn document() -> Item {
        use g::AttributeValue as V;
        BTreeMap::from([
            ("id".to_owned(), V::S("todo-1".into())),
            ("priority".to_owned(), V::N("3".into())),
            ("blob".to_owned(), V::B(vec![0, 1, 255])),
            (
                "tags".to_owned(),
                V::Ss(vec!["home".into(), "urgent".into()]),
            ),
            ("scores".to_owned(), V::Ns(vec!["1".into(), "2.5".into()])),
            ("chunks".to_owned(), V::Bs(vec![vec![1], vec![]])),
            ("done".to_owned(), V::Bool(false)),
            ("deleted_at".to_owned(), V::Null(true)),
            (
                "owner".to_owned(),
                V::M(BTreeMap::from([
                    ("name".to_owned(), V::S("Ann".into())),
                    (
                        "history".to_owned(),
                        V::L(vec![V::N("1".into()), V::L(vec![])]),
                    ),
                ])),
            ),
        ])
    }

    #[test]
    fn every_attribute_type_round_trips_through_the_sdk_types() {
        let item = document();
        let aws = item.clone().to_aws().unwrap();
        assert_eq!(
            aws["blob"],
            aws::AttributeValue::B(Blob::new(vec![0, 1, 255]))
        );
        let back: Item = from(aws).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn enumerations_map_variant_for_variant() {
        assert_eq!(
            g::BillingMode::PayPerRequest.to_aws().unwrap(),
            aws::BillingMode::PayPerRequest
        );
        let status: g::TableStatus = from(aws::TableStatus::from("ACTIVE")).unwrap();
        assert_eq!(status, g::TableStatus::Active);
        let status: g::TableStatus =
            from(aws::TableStatus::from("REPLICATION_NOT_AUTHORIZED")).unwrap();
        assert_eq!(status, g::TableStatus::ReplicationNotAuthorized);
        // A value AWS adds later: kept as AWS sent it, and sent back as is.
        let unknown: g::TableStatus = from(aws::TableStatus::from("FROZEN")).unwrap();
        assert_eq!(unknown, g::TableStatus::Unknown("FROZEN".into()));
        assert_eq!(unknown.to_aws().unwrap(), aws::TableStatus::from("FROZEN"));
    }

    #[test]
    fn write_requests_round_trip() {
        let key = BTreeMap::from([("id".to_owned(), g::AttributeValue::S("a".into()))]);
        for request in [
            g::WriteRequest::PutRequest(g::PutRequest { item: key.clone() }),
            g::WriteRequest::DeleteRequest(g::DeleteRequest { key: key.clone() }),
        ] {
            let back: g::WriteRequest = from(request.clone().to_aws().unwrap()).unwrap();
            assert_eq!(back, request);
        }
    }
}
