//! OpenAPI schemas (feature `schema`) of the types whose `Serialize` is written by hand: each is
//! a JSON string, with its values listed where they are a closed set. A leaf: it imports no other
//! module of the core; each type's module says its own schema with `string_type!`.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::SchemaType};

/// A string schema described by `description`, limited to `values` when there are any.
pub(crate) fn string_schema(description: &str, values: &[&str]) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description));
    if !values.is_empty() {
        b = b.enum_values(Some(values.iter().copied()));
    }
    b.into()
}

/// An exact decimal (`rust_decimal::Decimal`): read from a JSON number's text or a numeric
/// string, written as a string. Only named by `#[schema(value_type = ...)]`.
#[derive(Debug)]
pub struct Decimal;

impl utoipa::PartialSchema for Decimal {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Number, Type::String]))
            .description(Some(
                "An exact decimal: a number, or a string holding one (answers write a string)",
            ))
            .into()
    }
}
impl utoipa::ToSchema for Decimal {}

/// `impl ToSchema` for a type that serializes as a string.
macro_rules! string_type {
    ($t:ty, $description:expr, $values:expr) => {
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::schema::string_schema($description, &$values)
            }
        }
        impl utoipa::ToSchema for $t {}
    };
}
pub(crate) use string_type;
