//! Generated types ⇄ `aws-sdk-dynamodb` types, and AWS errors → the manifest's typed errors.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types as aws;

use crate::dynamodb::AttributeValue;

/// A generated attribute value as the SDK's.
pub fn to_aws(value: &AttributeValue) -> aws::AttributeValue {
    match value {
        AttributeValue::S(s) => aws::AttributeValue::S(s.clone()),
        AttributeValue::N(n) => aws::AttributeValue::N(n.clone()),
        AttributeValue::B(b) => aws::AttributeValue::B(Blob::new(b.clone())),
        AttributeValue::Ss(v) => aws::AttributeValue::Ss(v.clone()),
        AttributeValue::Ns(v) => aws::AttributeValue::Ns(v.clone()),
        AttributeValue::Bs(v) => {
            aws::AttributeValue::Bs(v.iter().map(|b| Blob::new(b.clone())).collect())
        }
        AttributeValue::M(m) => aws::AttributeValue::M(to_aws_item(m)),
        AttributeValue::L(l) => aws::AttributeValue::L(l.iter().map(to_aws).collect()),
        AttributeValue::Null(n) => aws::AttributeValue::Null(*n),
        AttributeValue::Bool(b) => aws::AttributeValue::Bool(*b),
    }
}

/// A generated item (attribute name → value) as the SDK's.
pub fn to_aws_item(
    item: &BTreeMap<String, AttributeValue>,
) -> HashMap<String, aws::AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), to_aws(v))).collect()
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

/// An SDK attribute value as the generated type.
pub fn from_aws(value: &aws::AttributeValue) -> Result<AttributeValue, Unrepresentable> {
    Ok(match value {
        aws::AttributeValue::S(s) => AttributeValue::S(s.clone()),
        aws::AttributeValue::N(n) => AttributeValue::N(n.clone()),
        aws::AttributeValue::B(b) => AttributeValue::B(b.as_ref().to_vec()),
        aws::AttributeValue::Ss(v) => AttributeValue::Ss(v.clone()),
        aws::AttributeValue::Ns(v) => AttributeValue::Ns(v.clone()),
        aws::AttributeValue::Bs(v) => {
            AttributeValue::Bs(v.iter().map(|b| b.as_ref().to_vec()).collect())
        }
        aws::AttributeValue::M(m) => AttributeValue::M(from_aws_item(m)?),
        aws::AttributeValue::L(l) => {
            AttributeValue::L(l.iter().map(from_aws).collect::<Result<_, _>>()?)
        }
        aws::AttributeValue::Null(n) => AttributeValue::Null(*n),
        aws::AttributeValue::Bool(b) => AttributeValue::Bool(*b),
        other => return Err(Unrepresentable(format!("{other:?}"))),
    })
}

/// An SDK item as the generated type (sorted by attribute name).
pub fn from_aws_item(
    item: &HashMap<String, aws::AttributeValue>,
) -> Result<BTreeMap<String, AttributeValue>, Unrepresentable> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), from_aws(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> BTreeMap<String, AttributeValue> {
        BTreeMap::from([
            ("id".to_owned(), AttributeValue::S("todo-1".into())),
            ("priority".to_owned(), AttributeValue::N("3".into())),
            ("blob".to_owned(), AttributeValue::B(vec![0, 1, 255])),
            (
                "tags".to_owned(),
                AttributeValue::Ss(vec!["home".into(), "urgent".into()]),
            ),
            (
                "scores".to_owned(),
                AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
            ),
            (
                "chunks".to_owned(),
                AttributeValue::Bs(vec![vec![1], vec![]]),
            ),
            ("done".to_owned(), AttributeValue::Bool(false)),
            ("deleted_at".to_owned(), AttributeValue::Null(true)),
            (
                "owner".to_owned(),
                AttributeValue::M(BTreeMap::from([
                    ("name".to_owned(), AttributeValue::S("Ann".into())),
                    (
                        "history".to_owned(),
                        AttributeValue::L(vec![
                            AttributeValue::N("1".into()),
                            AttributeValue::L(vec![]),
                        ]),
                    ),
                ])),
            ),
        ])
    }

    #[test]
    fn every_attribute_type_round_trips_through_the_sdk_types() {
        let item = document();
        let aws = to_aws_item(&item);
        assert_eq!(
            aws["blob"],
            aws::AttributeValue::B(Blob::new(vec![0, 1, 255]))
        );
        assert_eq!(from_aws_item(&aws).unwrap(), item);
    }
}
